"""Delete the files held between two submissions of a form once they are too old.

The intake page keeps a chosen scan while the secretariat corrects the form
or confirms its outcome (common/storage.py). Its own session removes it once
used; this removes what a session left behind (closed tab, expired session).
Run hourly, next to `clearsessions` (docker-compose.yml).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from common.storage import purge_held_files


class Command(BaseCommand):
    help = "Delete held uploads older than their time limit."

    def handle(self, *args: Any, **options: Any) -> None:
        removed = purge_held_files()
        # Names are server-generated; the count is all there is to say.
        self.stdout.write(f"{removed} held file(s) removed")
