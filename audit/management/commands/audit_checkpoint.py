"""Sign the head of the audit chain with a key kept outside the database.

Run it from cron or a systemd timer (docs/audit.md). It verifies the whole
chain first and refuses to sign a broken one. The checkpoint is written as
<checkpoint dir>/checkpoint-<seq>-<UTC time>.json, next to the public key.
`--generate-key` creates the key pair once (private key mode 0600).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import log


class Command(BaseCommand):
    help = "Sign the current head of the audit chain (Ed25519 checkpoint)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--key", type=Path, help="Private key (PEM); default HUISCLOS_AUDIT_SIGNING_KEY."
        )
        parser.add_argument(
            "--checkpoint-dir",
            type=Path,
            help="Where to write; default HUISCLOS_AUDIT_CHECKPOINT_DIR.",
        )
        parser.add_argument(
            "--generate-key",
            action="store_true",
            help="Create the key pair (refuses to overwrite) and stop.",
        )
        parser.add_argument(
            "--no-verify",
            action="store_true",
            help="Sign the head without verifying the chain first (not recommended).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Write a checkpoint even if the last one already names this head.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key_path = options["key"] or log.signing_key_path()
        directory = options["checkpoint_dir"] or log.checkpoint_directory()
        if key_path is None:
            raise CommandError("Set HUISCLOS_AUDIT_SIGNING_KEY (or pass --key) to a PEM file.")
        if options["generate_key"]:
            try:
                fingerprint, public_path = log.generate_key(key_path, directory)
            except FileExistsError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"private key: {key_path} (mode 0600)")
            self.stdout.write(f"public key:  {public_path}")
            self.stdout.write(f"fingerprint: {fingerprint}")
            return
        try:
            private_key = log.load_private_key(key_path)
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read the signing key {key_path}: {error}") from None

        if options["no_verify"]:
            seq, digest = log.current_head()
        else:
            report = log.verify_database(checkpoint_dir=directory)
            if not report.ok:
                for line in report.lines():
                    self.stderr.write(line)
                raise CommandError("refusing to sign: the audit trail does not verify")
            seq, digest = report.head_seq, report.head_hash
        if seq == 0:
            self.stdout.write("the audit trail is empty: nothing to sign")
            return
        latest = log.latest_checkpoint(directory)
        unchanged = latest is not None and (latest.seq, latest.hash) == (seq, digest)
        if unchanged and latest is not None and not options["force"]:
            self.stdout.write(f"head unchanged since {latest.path.name}: nothing to sign")
            return
        path = log.sign_checkpoint(private_key, seq=seq, hash=digest, directory=directory)
        self.stdout.write(f"signed seq {seq} {digest} -> {path}")
