"""Build an offline demonstration PKI and give signers their credentials.

    manage.py make_demo_certificates --out var/demo-pki [USERNAME ...] [--tsa]

Writes OUT/ca.pem (the root to trust: HUISCLOS_SIGNING_TRUST_ROOTS) and
OUT/ca-key.pem (encrypted under HUISCLOS_SIGNING_PASSPHRASE), reused on
later runs so letters signed earlier stay trusted; with --tsa, also
OUT/tsa.pem and OUT/tsa-key.pem for an in-process timestamping unit. Each
user gets an EC P-256 certificate, stored as their SigningCredential.
Without usernames: every active user in the president or director_general
group, or designated acting in one of those roles.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from accounts.models import Role, User
from letters import certificates
from letters.credentials import signing_passphrase, store_credential
from letters.models import Letterhead


class Command(BaseCommand):
    help = "Build an offline test PKI and store each signer's credential."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*")
        parser.add_argument("--out", default="var/demo-pki", help="Directory for ca.pem")
        parser.add_argument("--tsa", action="store_true", help="Also issue a TSA certificate")
        parser.add_argument("--days", type=int, default=730, help="Signer certificate validity")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        os.chmod(out, 0o700)
        passphrase = signing_passphrase()
        organisation = Letterhead.load().name

        ca_pem, ca_key = out / "ca.pem", out / "ca-key.pem"
        if ca_pem.exists() and ca_key.exists():
            try:
                ca = certificates.load_issued(ca_pem.read_bytes(), ca_key.read_bytes(), passphrase)
            except (ValueError, TypeError) as error:
                raise CommandError(
                    f"{ca_key} cannot be opened with HUISCLOS_SIGNING_PASSPHRASE: {error}"
                ) from None
            self.stdout.write(f"Reusing the root CA in {ca_pem}")
        else:
            ca = certificates.make_root_ca(organisation)
            _write(ca_pem, ca.certificate_pem)
            _write(ca_key, ca.key_pem(passphrase), private=True)
            self.stdout.write(f"Created the root CA {ca_pem}")

        if options["tsa"]:
            tsa = certificates.issue_tsa(ca, organisation=organisation)
            _write(out / "tsa.pem", tsa.certificate_pem)
            _write(out / "tsa-key.pem", tsa.key_pem(passphrase), private=True)
            self.stdout.write(f"Created the TSA certificate {out / 'tsa.pem'}")

        for user in self._users(options["usernames"]):
            title = ", ".join(
                label
                for role, label in (
                    (Role.PRESIDENT, "Président"),
                    (Role.DIRECTOR_GENERAL, "Directeur général"),
                )
                if user.has_role(role)
            )
            issued = certificates.issue_signer(
                ca,
                common_name=user.get_full_name() or user.get_username(),
                organisation=organisation,
                title=title,
                days=options["days"],
            )
            # A throw-away transport passphrase: store_credential re-wraps
            # the PKCS#12 under the server passphrase.
            transport = os.urandom(16).hex().encode()
            p12 = certificates.to_pkcs12(issued, [ca.certificate], transport)
            credential = store_credential(user, p12, transport)
            self.stdout.write(
                f"{user.get_username()}: {credential.subject} "
                f"sha256={credential.fingerprint_sha256[:16]}… "
                f"until {credential.not_after:%Y-%m-%d}"
            )
        self.stdout.write(f"Trust this root: HUISCLOS_SIGNING_TRUST_ROOTS={ca_pem.resolve()}")

    def _users(self, usernames: list[str]) -> list[User]:
        if usernames:
            users = list(User.objects.filter(username__in=usernames))
            missing = set(usernames) - {u.username for u in users}
            if missing:
                raise CommandError(f"Unknown users: {', '.join(sorted(missing))}")
            return users
        roles = [Role.PRESIDENT, Role.DIRECTOR_GENERAL]
        return list(
            User.objects.filter(is_active=True)
            .filter(Q(groups__name__in=roles) | Q(acting_designations__role__in=roles))
            .distinct()
            .order_by("username")
        )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o600 if private else 0o644)
