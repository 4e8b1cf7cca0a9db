"""Apply the retention schedule: remove the persons' data, the scans and the
letters of the requests past their retention (docs/retention.md).

Run it daily (cron or a systemd timer, next to `clearsessions`). With
--dry-run it lists the references that would be removed and changes nothing,
the audit trail included. Otherwise the run is one audit event with its
counts, even when there was nothing to do. The output holds references and
counts only.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dpo import retention


class Command(BaseCommand):
    help = "Remove the personal data of the requests past their retention (--dry-run: list them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be removed; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        result = retention.apply_retention(dry_run=dry_run)
        for reference in result.references:
            self.stdout.write(f"{'due' if dry_run else 'removed'} {reference}")
        counts = (
            f"{result.requests} request(s), {result.persons} person(s), "
            f"{result.scans} scan(s), {result.letters} letter(s); {result.held} held"
        )
        if dry_run:
            self.stdout.write(f"dry run, nothing changed: would remove {counts}")
        else:
            self.stdout.write(f"removed {counts}")
        if result.files_not_deleted:
            self.stderr.write(
                f"{result.files_not_deleted} file(s) could not be deleted: "
                "see the log, then run sweep_orphan_files --delete"
            )
