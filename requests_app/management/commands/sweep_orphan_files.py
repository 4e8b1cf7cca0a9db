"""List, and with --delete remove, private files that no row references.

A file reaches the disk before the row that names it commits. The services
remove what their own transaction wrote when it rolls back; a crash between
the write and the commit, or a rollback decided by an outer transaction, can
still leave a file behind. Scans and letters are personal data: what no
request, letter or letterhead points at has no reason to stay.

Dry run by default. Files younger than --min-age-minutes are never touched:
they may belong to a transaction still running.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import models

from common.storage import private_storage


def referenced_names() -> set[str]:
    """Every file name held by a FileField stored in the private storage."""
    names: set[str] = set()
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            if not isinstance(model_field, models.FileField):
                continue
            if cast(object, model_field.storage) is not private_storage:
                continue
            names.update(
                model._default_manager.exclude(**{model_field.name: ""})
                .exclude(**{f"{model_field.name}__isnull": True})
                .values_list(model_field.name, flat=True)
            )
    return names


def stored_files(root: Path) -> list[tuple[str, float]]:
    """(name relative to the storage root, modification time) of every file."""
    found = []
    for directory, _, files in os.walk(root):
        for filename in files:
            path = Path(directory) / filename
            found.append((path.relative_to(root).as_posix(), path.stat().st_mtime))
    return found


class Command(BaseCommand):
    help = "List (dry run) or remove (--delete) private files that no row references."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--delete", action="store_true", help="Remove the orphans (default: list them)."
        )
        parser.add_argument(
            "--min-age-minutes",
            type=int,
            default=60,
            help="Leave files younger than this alone (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        root = Path(settings.PRIVATE_STORAGE_ROOT)
        if not root.is_dir():
            self.stdout.write("0 orphan file(s)")
            return
        # Listed before the references are read: a file written meanwhile is
        # younger than the age limit, so it cannot be mistaken for an orphan.
        files = stored_files(root)
        referenced = referenced_names()
        cutoff = time.time() - options["min_age_minutes"] * 60
        orphans = sorted(
            name for name, mtime in files if name not in referenced and mtime < cutoff
        )
        for name in orphans:
            # Names are server-generated (uuid): no personal data in this output.
            if options["delete"]:
                private_storage.delete(name)
                self.stdout.write(f"removed {name}")
            else:
                self.stdout.write(f"orphan {name}")
        verb = "removed" if options["delete"] else "found (dry run; --delete removes them)"
        self.stdout.write(f"{len(orphans)} orphan file(s) {verb}")
