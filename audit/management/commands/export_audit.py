"""Export the audit trail as JSON Lines (verifiable) or CSV.

JSON Lines: one object per event with every canonical field and the hash;
tools/verify_audit_export.py re-verifies it without Django. CSV: the same
columns, cells that a spreadsheet would read as a formula neutralised with a
leading apostrophe. Events hold ids and codes only, no personal data.
The export is itself recorded in the audit trail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit import log


class Command(BaseCommand):
    help = "Export the audit trail (jsonl or csv)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        parser.add_argument("--output", type=Path, help="File to write (default: stdout).")

    def handle(self, *args: Any, **options: Any) -> None:
        fmt = options["format"]
        upto = log.export_head()
        count = 0
        newline = "" if fmt == "csv" else "\n"
        target = (
            options["output"].open("w", encoding="utf-8", newline=newline)
            if options["output"]
            else None
        )
        try:
            for line in log.export_lines(fmt, upto):
                if target is not None:
                    target.write(line)
                else:
                    self.stdout.write(line, ending="")
                count += 1
        finally:
            if target is not None:
                target.close()
        events = count - 1 if fmt == "csv" else count
        log.record_audit_export(actor_id=None, fmt=fmt, events=events)
        if options["output"]:
            self.stderr.write(f"exported {events} events to {options['output']}")
