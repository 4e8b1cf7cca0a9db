"""Show what a catalogue release changes and, once confirmed, apply it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from legal_basis import releases


def _period(card_from: Any) -> str:
    return f"from {card_from.isoformat()}" if card_from else "from the start"


class Command(BaseCommand):
    help = "Compare a catalogue release file with the catalogue and apply it when confirmed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--yes", action="store_true", help="apply without asking")
        parser.add_argument("--dry-run", action="store_true", help="show the differences and stop")
        parser.add_argument(
            "--actor", default="", help="username recorded as the actor in the audit trail"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from error
        actor_id = None
        if options["actor"]:
            actor = User.objects.filter(username=options["actor"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {options['actor']!r}")
            actor_id = actor.pk
        try:
            release = releases.parse(raw)
            plan = releases.plan(release)
        except releases.ReleaseError as error:
            raise CommandError(
                "the release cannot be applied:\n- " + "\n- ".join(error.problems)
            ) from error
        self._show(plan)
        if plan.already_applied:
            self.stdout.write(f"Release {release.label} is already applied: nothing to do.")
            return
        if options["dry_run"]:
            return
        if not options["yes"]:
            answer = input(f"Apply release {release.label}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes", "o", "oui"):
                self.stdout.write("Nothing applied.")
                return
        try:
            done = releases.apply(release, actor_id=actor_id)
        except releases.ReleaseError as error:
            raise CommandError("\n".join(error.problems)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Release {release.label} applied: {len(done.new)} new, "
                f"{len(done.changed)} changed, {len(done.retired)} retired."
            )
        )

    def _show(self, plan: releases.Plan) -> None:
        release = plan.release
        self.stdout.write(f"Release {release.label} of {release.published_on.isoformat()}")
        self.stdout.write(f"  sha256 {release.sha256}")
        for card in plan.new:
            self.stdout.write(f"  new      {card['code']} ({_period(card['in_force_from'])})")
        for basis, card, fields in plan.changed:
            self.stdout.write(
                f"  changed  {basis.code} v{basis.version} ({_period(card['in_force_from'])}): "
                + ", ".join(fields)
            )
        for basis in plan.retired:
            self.stdout.write(
                f"  retired  {basis.code} v{basis.version} ({_period(basis.in_force_from)})"
            )
        if plan.is_empty:
            self.stdout.write("  no card changes")
