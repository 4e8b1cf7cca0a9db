"""Daily reminders: each person gets the references of what is due from them.

Run once a day (cron: `0 7 * * 1-5 cd /app && python manage.py send_reminders`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand
from django.utils.translation import gettext, ngettext

from requests_app.queries import tasks_by_user


class Command(BaseCommand):
    help = "E-mail each person the requests waiting for them (references and links only)."

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = settings.HUISCLOS_BASE_URL.rstrip("/")
        sent = 0
        for user, tasks in tasks_by_user().items():
            if not user.email:
                continue
            late = sum(1 for _, dr in tasks if dr.is_overdue)
            body_lines = [
                gettext("Hello,"),
                "",
                gettext("The following requests are waiting for action from you:"),
                "",
            ]
            for queue, dr in tasks:
                values = {
                    "reference": dr.reference,
                    "task": queue.task,
                    "due_on": dr.due_on.strftime("%d/%m/%Y") if dr.due_on else "",
                }
                if dr.due_on:
                    line = gettext("- %(reference)s: %(task)s, due %(due_on)s") % values
                else:
                    line = gettext("- %(reference)s: %(task)s") % values
                if dr.is_overdue:
                    line += gettext(" – OVERDUE")
                body_lines.append(line)
                body_lines.append(f"  {base_url}{dr.get_absolute_url()}")
            body_lines += ["", "Huis clos"]
            subject = ngettext(
                "Huis clos: %(count)d request waiting",
                "Huis clos: %(count)d requests waiting",
                len(tasks),
            ) % {"count": len(tasks)}
            if late:
                subject += gettext(", %(late)d of them overdue") % {"late": late}
            send_mail(subject, "\n".join(body_lines), None, [user.email])
            sent += 1
        self.stdout.write(f"{sent} reminder(s) sent")
