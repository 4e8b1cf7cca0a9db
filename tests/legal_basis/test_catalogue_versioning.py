"""A cited legal basis is never edited in place."""

from __future__ import annotations

import json

from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditEvent
from legal_basis import services
from legal_basis.models import LegalBasis
from tests.conftest import make_user, reread


def edit(basis: LegalBasis, actor, **changes) -> LegalBasis:
    for field, value in changes.items():
        setattr(basis, field, value)
    return services.save_legal_basis(basis, actor_id=actor.pk, fields=sorted(changes))


def test_editing_a_cited_basis_creates_a_new_version(flow, personas):
    dr = flow.in_review()
    cited = reread(dr).opinions.get().legal_bases.get()
    old_citation = cited.citation

    new = edit(
        LegalBasis.objects.get(pk=cited.pk), personas["dg"], citation="Art. 87 CIC (nouveau)"
    )

    cited.refresh_from_db()
    assert new.pk != cited.pk
    assert (new.code, new.version, new.is_current) == (cited.code, cited.version + 1, True)
    assert cited.citation == old_citation
    assert not cited.is_current
    assert reread(dr).opinions.get().legal_bases.get().pk == cited.pk
    event = AuditEvent.objects.filter(action="legal_basis_new_version").get()
    assert event.details["previous_id"] == cited.pk
    assert event.details["fields"] == ["citation"]


def test_editing_an_uncited_basis_changes_it_in_place(personas):
    basis = LegalBasis.objects.current().get(code="police-request")

    edited = edit(basis, personas["dg"], notes="Précision")

    assert edited.pk == basis.pk
    assert edited.version == basis.version
    assert AuditEvent.objects.filter(action="legal_basis_change").count() == 1


def test_request_page_keeps_showing_the_version_the_opinion_cited(client, flow, personas):
    dr = flow.in_review()
    cited = reread(dr).opinions.get().legal_bases.get()
    edit(LegalBasis.objects.get(pk=cited.pk), personas["dg"], citation="CITATION-V2")
    client.force_login(personas["president"])

    page = client.get(reverse("requests_app:detail", args=[dr.pk])).content.decode()

    assert escape(cited.citation) in page
    assert f"version {cited.version}" in page
    assert "CITATION-V2" not in page


def test_admin_change_of_a_cited_basis_goes_through_versioning(client, flow, personas):
    dr = flow.in_review()
    cited = reread(dr).opinions.get().legal_bases.get()
    editor = make_user("editor", is_staff=True)
    editor.user_permissions.add(
        Permission.objects.get(codename="change_legalbasis"),
        Permission.objects.get(codename="view_legalbasis"),
    )
    client.force_login(editor)
    url = reverse("admin:legal_basis_legalbasis_change", args=[cited.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, list | dict):
            value = json.dumps(value)
        data[name] = "" if value is None else value
    data["title_fr"] = "Titre modifié"

    response = client.post(url, data)

    assert response.status_code == 302, response.content[:2000]
    assert LegalBasis.objects.filter(code=cited.code).count() == 2
    assert LegalBasis.objects.get(pk=cited.pk).title_fr != "Titre modifié"
    assert LegalBasis.objects.current().get(code=cited.code).title_fr == "Titre modifié"
