"""The description of this processing for the register of processing
activities: generated from the configuration, open to the Président, the DG
and the DPO."""

from __future__ import annotations

import html as html_lib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dpo import queries
from legal_basis.models import DataCategory, Feature, LegalBasis, RequesterKind
from letters.models import Letterhead

pytestmark = pytest.mark.django_db

URL = "dpo:processing_record"


def _page(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse(URL))
    assert response.status_code == 200
    return html_lib.unescape(response.content.decode())


@pytest.mark.parametrize("who", ["president", "dg", "dpo"])
def test_the_president_the_dg_and_the_dpo_see_it(client, personas, who):
    assert "Registre des activités de traitement" in _page(client, personas[who])


@pytest.mark.parametrize("who", ["secretariat", "referent", "auditor", "outsider"])
def test_others_are_refused(client, personas, who):
    client.force_login(personas[who])
    assert client.get(reverse(URL)).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse(URL))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_only_get(client, dpo):
    client.force_login(dpo)
    assert client.post(reverse(URL)).status_code == 405


def test_it_is_generated_from_the_configuration(client, dpo):
    letterhead = Letterhead.load()
    letterhead.name = "CPAS de Gembloux"
    letterhead.address = "Rue du Moulin 12\n5030 Gembloux"
    letterhead.enterprise_number = "0212.345.678"
    letterhead.dpo_contact = "dpo@cpas-gembloux.be"
    letterhead.save()

    page = _page(client, dpo)

    assert "CPAS de Gembloux" in page
    assert "5030 Gembloux" in page
    assert "0212.345.678" in page
    assert "dpo@cpas-gembloux.be" in page
    for _value, label in DataCategory.choices:
        assert str(label) in page
    for _value, label in RequesterKind.choices:
        assert str(label) in page
    # The law comes from the catalogue: the secrecy rule and the bases in force.
    in_force = LegalBasis.objects.in_force_on(timezone.localdate())
    secrecy = [b for b in in_force if b.has_feature(Feature.SECRECY_RULE)]
    assert secrecy
    for rule in secrecy:
        assert rule.citation in page
    for ground in (b for b in in_force if b.grounds_disclosure):
        assert ground.title_fr in page
    for secret in queries.secret_bases():
        assert secret.title in page
    assert "Délégué à la protection des données" in page


def test_a_missing_dpo_contact_is_shown_as_such(client, dpo):
    letterhead = Letterhead.load()
    letterhead.dpo_contact = ""
    letterhead.save()

    page = _page(client, dpo)

    assert "Non configuré" in page
    assert "le contact du délégué à la protection des données" in page


def test_security_measures_follow_the_settings(client, dpo, settings):
    settings.SESSION_IDLE_SECONDS = 20 * 60
    settings.SESSION_ABSOLUTE_SECONDS = 8 * 3600
    settings.AXES_FAILURE_LIMIT = 7
    settings.AXES_COOLOFF_TIME = timedelta(minutes=45)
    settings.HUISCLOS_API_TOKEN_DAYS = 14

    page = _page(client, dpo)

    assert "après 20 minutes sans activité, et dans tous les cas après 8 heures" in page
    assert "bloquée pendant 45 minutes après 7 tentatives" in page
    assert "expirent après 14 jours" in page


def test_retention_comes_from_the_schedule_or_says_it_is_missing(client, dpo):
    from dpo.models import RetentionRule

    RetentionRule.objects.all().delete()
    assert "Calendrier de conservation non configuré" in _page(client, dpo)

    RetentionRule.objects.create(outcome="refused", years=7)
    RetentionRule.objects.create(outcome="disclosed", years=1)
    page = _page(client, dpo)

    assert "Calendrier de conservation non configuré" not in page
    assert "<td>Refusé</td><td>7 ans après la fin de la demande</td>" in page
    assert "<td>Communiqué</td><td>1 an après la fin de la demande</td>" in page
