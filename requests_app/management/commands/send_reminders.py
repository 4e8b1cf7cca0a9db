"""Daily reminders: each person gets the references of what is due from them.

Run once a day (cron: `0 7 * * 1-5 cd /app && python manage.py send_reminders`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand
from django.urls import reverse

from requests_app.reminders import tasks_by_user


class Command(BaseCommand):
    help = "E-mail each person the requests waiting for them (references and links only)."

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = settings.HUISCLOS_BASE_URL.rstrip("/")
        sent = 0
        for user, tasks in tasks_by_user().items():
            if not user.email:
                continue
            late = sum(1 for t in tasks if t.is_late)
            body_lines = [
                "Bonjour,",
                "",
                "Les demandes suivantes attendent une action de votre part :",
                "",
            ]
            for task in tasks:
                due = f", échéance {task.due_on}" if task.due_on else ""
                flag = " – EN RETARD" if task.is_late else ""
                body_lines.append(f"- {task.reference} : {task.what}{due}{flag}")
                body_lines.append(f"  {base_url}{reverse('requests_app:detail', args=[task.pk])}")
            body_lines += ["", "Huis clos"]
            subject = f"Huis clos : {len(tasks)} demande(s) en attente"
            if late:
                subject += f", dont {late} en retard"
            send_mail(subject, "\n".join(body_lines), None, [user.email])
            sent += 1
        self.stdout.write(f"{sent} reminder(s) sent")
