"""Verify the audit trail: the chain, its head and the signed checkpoints.

Exit status 0 and one line "OK n events, k checkpoints" when everything
holds; otherwise the first broken seq and what is wrong, and exit status 1.
A chain longer than HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER events (1,000)
with no checkpoint signed by a trusted key fails as well.
Read-only on the database; it writes the outcome to
<checkpoint dir>/last-verification.json for the auditor's page (unless
--no-status).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import log


class Command(BaseCommand):
    help = "Verify the audit hash chain, its head and every signed checkpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint-dir",
            type=Path,
            help="Directory of the signed checkpoints (default: HUISCLOS_AUDIT_CHECKPOINT_DIR).",
        )
        parser.add_argument(
            "--public-key",
            type=Path,
            action="append",
            dest="public_keys",
            help="Trusted public key (PEM); repeatable. Default: the signing-key-*.pub.pem "
            "files in the checkpoint directory.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            help="Verifier processes (default: 2 on PostgreSQL from 200,000 events).",
        )
        parser.add_argument(
            "--no-status", action="store_true", help="Do not write last-verification.json."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["checkpoint_dir"] or log.checkpoint_directory()
        report = log.verify_database(
            checkpoint_dir=directory,
            public_keys=options["public_keys"],
            workers=options["workers"],
            checkpoint_required_after=log.checkpoint_required_after(),
        )
        if not options["no_status"]:
            try:
                log.record_verification(report, by="manage.py verify_audit", directory=directory)
            except OSError as error:
                self.stderr.write(f"warning: could not record the outcome: {error}")
        if report.ok:
            self.stdout.write(report.lines()[0])
            return
        for line in report.lines():
            self.stdout.write(line)
        first = report.finding.seq if report.finding else None
        raise CommandError(
            "audit verification failed"
            + (f": first broken seq {first}" if first is not None else "")
            + (": no trusted checkpoint" if report.unanchored and first is None else "")
            + f" ({report.events} events walked, {report.checkpoints} valid checkpoints)"
        )
