"""Check the stored, signed letter of a request.

    manage.py verify_reply SP-2026-0001

Validates both PAdES signatures against HUISCLOS_SIGNING_TRUST_ROOTS,
checks the file against its recorded SHA-256 and reports any change made
after the last signature. Exits with status 1 if anything is wrong.
Records nothing: `verify_letters` (nightly) and the request page's button
record their validations for the page.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from letters.models import ReplyDocument
from letters.services import trust_root_paths, verify_reply_document
from requests_app.models import DisclosureRequest


class Command(BaseCommand):
    help = "Validate the two signatures of a request's stored reply letter."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = options["reference"]
        disclosure_request = DisclosureRequest.objects.filter(reference=reference).first()
        if disclosure_request is None:
            raise CommandError(f"No request {reference}.")
        if not disclosure_request.has_reply():
            raise CommandError(f"{reference} has no reply.")
        try:
            check = verify_reply_document(disclosure_request.reply)
        except ReplyDocument.DoesNotExist:
            raise CommandError(f"{reference} has no stored letter.") from None
        report = check.report
        document = check.document
        write = self.stdout.write
        write(f"{reference}: revision {document.revision}, sha256 {document.sha256}")
        write(f"  file matches its recorded sha256: {'yes' if check.hash_matches else 'NO'}")
        roots = [f"{p}{'' if p.is_file() else ' (MISSING)'}" for p in trust_root_paths()]
        write(f"  trust roots: {', '.join(roots) or 'none'}")
        write(f"  PDF revisions: {report.revisions}")
        for s in report.signatures:
            write(
                f"  {s.field}: {s.signer_subject}; "
                f"{'certification' if s.certification else 'approval'}; "
                f"intact={s.intact} valid={s.valid} trusted={s.trusted} "
                f"coverage={s.coverage} modifications={s.modification_level} "
                f"docmdp_ok={s.docmdp_ok} "
                f"signed={s.signing_time.isoformat() if s.signing_time else '?'}"
            )
        write(
            "  modified after the last signature: "
            f"{'YES' if report.modified_after_last_signature else 'no'}"
        )
        if not check.ok:
            for problem in check.problems():
                self.stderr.write(f"  problem: {problem}")
            raise CommandError(f"{reference}: the signed letter does NOT verify.")
        write(self.style.SUCCESS(f"{reference}: both signatures valid, nothing changed since."))
