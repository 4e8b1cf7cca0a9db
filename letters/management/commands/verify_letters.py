"""Validate every signed letter again and record the results: the nightly job.

    manage.py verify_letters

Reads each stored letter that carries at least one recorded signature
(replies and acknowledgements, superseded ones included), checks it against
its recorded SHA-256, validates its PAdES signatures against
HUISCLOS_SIGNING_TRUST_ROOTS and records the outcome (`DocumentValidation`,
trigger `nightly`), which the request page then shows. A letter that does
not check out, or whose file cannot be read, is printed on one line naming
its request's reference and the letter's ids only, and the command exits
with status 1. Each letter costs about 40 ms per signature.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from letters import validation
from letters.errors import LetterUnavailable
from letters.models import DocumentValidation
from letters.services import revalidate_document, trust_roots


class Command(BaseCommand):
    help = "Validate the signatures of every signed letter again and record the results."

    def handle(self, *args: Any, **options: Any) -> None:
        roots = trust_roots()
        checked = failed = 0
        for document in validation.signed_documents().iterator(chunk_size=200):
            reply = document.reply
            where = (
                f"{reply.request.reference} {reply.kind}"
                f"{' (superseded)' if reply.superseded_at else ''}: "
                f"letter {reply.pk}, document {document.pk}, revision {document.revision}"
            )
            checked += 1
            try:
                result = revalidate_document(
                    document, trigger=DocumentValidation.Trigger.NIGHTLY, roots=roots
                )
            except LetterUnavailable:
                failed += 1
                self.stderr.write(f"FAIL {where}: the file cannot be read")
                continue
            if not result.ok:
                failed += 1
                check = validation.RecordedCheck(document, result, file_sha256=result.sha256)
                self.stderr.write(f"FAIL {where}: {'; '.join(check.problems())}")
            elif options["verbosity"] > 1:
                state = "complete" if result.complete else "waiting for a signature"
                self.stdout.write(f"ok   {where}: {state}")
        if not roots:
            self.stderr.write("warning: no trust root configured (HUISCLOS_SIGNING_TRUST_ROOTS)")
        summary = f"{checked} signed letter(s) checked, {failed} failing"
        if failed:
            raise CommandError(f"verify_letters: {summary}.")
        self.stdout.write(self.style.SUCCESS(f"verify_letters: {summary}."))
