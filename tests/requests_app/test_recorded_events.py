"""Sessions, administration and refused writes leave audit events."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import PASSWORD, make_user


def world_events() -> int:
    """Events the world holds before the test (the catalogue's import)."""
    return AuditEvent.objects.count()


def test_login_failed_login_and_logout_are_recorded(client, personas):
    user = personas["president"]
    before = world_events()

    client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    client.post(reverse("login"), {"username": "nobody-CANARYNOM", "password": "x"})
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    client.post(reverse("logout"))

    events = list(AuditEvent.objects.order_by("seq"))[before:]
    assert [e.action for e in events] == ["login_failed", "login_failed", "login", "logout"]
    assert [e.actor_id for e in events] == [user.pk, None, user.pk, user.pk]
    assert "CANARYNOM" not in str([e.details for e in events])


def test_role_change_in_the_admin_is_recorded_without_values(client, personas):
    admin = make_user("admin", is_staff=True, is_superuser=True)
    target = personas["referent"]
    client.force_login(admin)
    url = reverse("admin:accounts_user_change", args=[target.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data["groups"] = [
        Group.objects.get(name="referent").pk,
        Group.objects.get(name="president").pk,
    ]
    data["user_permissions"] = []
    data["last_login_0"] = data["last_login_1"] = ""
    data["date_joined_0"] = "2026-11-01"
    data["date_joined_1"] = "10:00:00"
    data["first_name"] = "Nouveau"

    response = client.post(url, data)

    assert response.status_code == 302, response.content[:3000]
    roles = AuditEvent.objects.get(action="admin_roles")
    assert roles.object_id == str(target.pk)
    assert roles.details["roles_added"] == ["president"]
    change = AuditEvent.objects.get(action="admin_change", object_type="user")
    assert "first_name" in change.details["fields"]
    assert "Nouveau" not in str(change.details)


def test_auditor_write_attempt_is_refused_and_recorded(client, flow, personas):
    dr = flow.received()
    client.force_login(personas["auditor"])

    response = client.post(
        reverse("requests_app:assign", args=[dr.pk]), {"referent": personas["referent"].pk}
    )

    assert response.status_code == 404
    refused = AuditEvent.objects.filter(action="refused", actor=personas["auditor"]).get()
    assert refused.object_id == str(dr.pk)
