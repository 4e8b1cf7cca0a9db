"""Nothing outside the chain (issue 13): every change made in the admin
appends an event with ids and field names, never values; tokens never
appear in clear there."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ActingDesignation, ApiToken, Role, User
from audit.admin import AuditedAdmin, audit_every_admin, is_audited, is_read_only
from audit.models import AuditEvent
from letters import certificates
from letters.models import Letterhead, SigningCredential
from tests.conftest import _TEST_CA, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "CANARYPASSWORD a long new one 42"


@pytest.fixture
def root(db) -> User:
    return make_user("rootadmin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


def last_event(**filters) -> AuditEvent:
    return AuditEvent.objects.filter(**filters).latest("seq")


def event_text(event: AuditEvent) -> str:
    return json.dumps(
        [event.action, event.object_type, event.object_id, event.details], ensure_ascii=False
    )


def test_every_registered_admin_is_audited_or_read_only(root):
    request = RequestFactory().get("/admin/")
    request.user = root
    uncovered = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not is_audited(model_admin) and not is_read_only(model_admin, request)
    ]

    assert not uncovered, f"admin pages that change data off the chain: {uncovered}"
    assert Group in admin.site._registry
    assert ApiToken in admin.site._registry


def test_an_admin_registered_without_audit_is_put_behind_it():
    class Plain(models.Model):
        class Meta:
            app_label = "audit"
            managed = False

        def __str__(self) -> str:
            return "plain"

    site = admin.AdminSite(name="probe")
    site.register(Plain, admin.ModelAdmin)

    wrapped = audit_every_admin(site)

    assert wrapped == ["audit.plain"]
    assert isinstance(site._registry[Plain], AuditedAdmin)
    assert getattr(site._registry[Plain], "audit_object_type", "") == "audit.plain"


def test_an_administrators_password_reset_enters_the_chain_without_the_password(
    admin_client, root
):
    target = make_user("resetme", "secretariat")
    _token, key = services.create_api_token(target, label="x", channel="web")

    response = admin_client.post(
        f"/admin/accounts/user/{target.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.content[:500]
    target.refresh_from_db()
    assert target.check_password(NEW_PASSWORD)
    event = last_event(action="password_set_by_admin")
    assert event.actor_id == root.pk
    assert event.object_type == "user"
    assert event.object_id == str(target.pk)
    assert "CANARYPASSWORD" not in event_text(event)
    assert target.password not in event_text(event)
    # The old tokens went with the old password.
    revoked = last_event(action="api_tokens_revoked", object_id=str(target.pk))
    assert revoked.details["cause"] == "password_change"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/tasks/").status_code == 401


def test_a_refused_password_reset_records_nothing(admin_client):
    target = make_user("resetme", "secretariat")
    before = AuditEvent.objects.count()

    response = admin_client.post(
        f"/admin/accounts/user/{target.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": "other"},
    )

    assert response.status_code == 200
    assert AuditEvent.objects.count() == before


def test_a_certificate_upload_enters_the_chain_without_its_content(admin_client, root):
    signer = make_user("newsigner", "president")
    SigningCredential.objects.filter(user=signer).delete()
    issued = certificates.issue_signer(
        _TEST_CA, common_name="CANARYSUBJECT Signer", organisation="CPAS de Test"
    )
    data = certificates.to_pkcs12(issued, [_TEST_CA.certificate], b"CANARYPASS")

    response = admin_client.post(
        "/admin/letters/signingcredential/add/",
        {
            "user": signer.pk,
            "pkcs12_file": SimpleUploadedFile("signer.p12", data),
            "passphrase": "CANARYPASS",
        },
    )

    assert response.status_code == 302, response.content[:800]
    credential = SigningCredential.objects.get(user=signer)
    event = last_event(object_type="signing_credential")
    assert event.action == "admin_create"
    assert event.actor_id == root.pk
    assert event.object_id == str(credential.pk)
    assert "pkcs12" in event.details["fields"]
    text = event_text(event)
    for secret in ("CANARYSUBJECT", "CANARYPASS", credential.fingerprint_sha256, "newsigner"):
        assert secret not in text


def test_the_letterhead_change_enters_the_chain(admin_client, root):
    letterhead = Letterhead.objects.first() or Letterhead.objects.create(name="CPAS", city="X")
    response = admin_client.get(f"/admin/letters/letterhead/{letterhead.pk}/change/")
    form = response.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields if name != "logo"}
    data["city"] = "CANARYCITY"

    response = admin_client.post(f"/admin/letters/letterhead/{letterhead.pk}/change/", data)

    assert response.status_code == 302, response.content[:800]
    event = last_event(object_type="letterhead")
    assert event.action == "admin_change"
    assert event.details["fields"] == ["city"]
    assert "CANARYCITY" not in event_text(event)


def test_deactivation_roles_and_creation_of_users_enter_the_chain(admin_client, root):
    target = make_user("deactivate_me", "referent")
    services.create_api_token(target, label="x", channel="web")
    page = admin_client.get(f"/admin/accounts/user/{target.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name in form.fields
        if (value := form.initial.get(name)) is not None and name != "password"
    }
    data["groups"] = [Group.objects.get(name=Role.SECRETARIAT).pk]
    data["user_permissions"] = []
    data["is_active"] = ""
    data["last_login_0"] = data["last_login_1"] = ""
    data["date_joined_0"], data["date_joined_1"] = "01/01/2026", "08:00:00"
    data.pop("last_login", None)
    data.pop("date_joined", None)

    response = admin_client.post(f"/admin/accounts/user/{target.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    target.refresh_from_db()
    assert not target.is_active
    deactivated = last_event(action="admin_deactivate", object_id=str(target.pk))
    assert "is_active" in deactivated.details["fields"]
    roles = last_event(action="admin_roles", object_id=str(target.pk))
    assert roles.details["roles_added"] == [Role.SECRETARIAT]
    assert roles.details["roles_removed"] == [Role.REFERENT]
    assert last_event(action="api_tokens_revoked").details["cause"] == "deactivation"
    assert not ApiToken.objects.filter(user=target).exists()


def test_users_and_role_groups_are_not_deleted_from_the_admin(admin_client):
    target = make_user("keepme")
    role = Group.objects.get(name=Role.REFERENT)

    assert (
        admin_client.post(f"/admin/accounts/user/{target.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert (
        admin_client.post(f"/admin/auth/group/{role.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert User.objects.filter(pk=target.pk).exists()
    assert Group.objects.filter(pk=role.pk).exists()


def test_acting_designations_are_only_looked_at_in_the_admin(admin_client, root):
    # Made and ended in the app, through the audited services; never deleted.
    user = make_user("acting")
    designation = ActingDesignation.objects.create(
        user=user, role=Role.PRESIDENT, starts_on="2026-01-01", ends_on="2026-12-31"
    )
    base = f"/admin/accounts/actingdesignation/{designation.pk}"

    deleted = admin_client.post(f"{base}/delete/", {"post": "yes"})
    changed = admin_client.post(f"{base}/change/", {"ends_on": "2026-01-02"})
    added = admin_client.get("/admin/accounts/actingdesignation/add/")

    assert deleted.status_code == 403
    assert changed.status_code == 403
    assert added.status_code == 403
    designation.refresh_from_db()
    assert str(designation.ends_on) == "2026-12-31"
    assert not AuditEvent.objects.filter(object_type="acting_designation").exists()


def test_tokens_in_the_admin_are_read_only_and_never_shown(admin_client, root):
    owner = make_user("tokenowner")
    token, key = services.create_api_token(owner, label="x", channel="web")

    listing = admin_client.get("/admin/accounts/apitoken/").content.decode()
    detail = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/")

    assert detail.status_code == 200
    for page in (listing, detail.content.decode()):
        assert key[:15] not in page
        assert token.digest not in page
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403


def test_a_token_revoked_in_the_admin_enters_the_chain(admin_client, root):
    owner = make_user("tokenowner")
    token, _key = services.create_api_token(owner, label="x", channel="web")

    response = admin_client.post(f"/admin/accounts/apitoken/{token.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    event = last_event(action="api_token_revoked")
    assert event.actor_id == root.pk
    assert event.details == {"user_id": owner.pk, "by": "admin"}
