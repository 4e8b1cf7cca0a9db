"""The referent's home page flags an opinion the DG returned with remarks,
until the referent submits the next opinion."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from requests_app import services
from tests.conftest import opinion_kwargs, reread

pytestmark = pytest.mark.django_db

FLAG = "Avis renvoyé avec remarques"


def flagged_references(client) -> set[str]:
    """References of the home page rows that carry the flag."""
    html = client.get(reverse("requests_app:home")).content.decode()
    flagged = set()
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        if FLAG in row:
            flagged.update(re.findall(r"SP-\d{4}-\d{4}", row))
    return flagged


def test_a_returned_opinion_is_flagged_on_the_referents_home(client, flow, personas):
    returned = flow.in_review()
    untouched = flow.assigned()
    services.return_for_revision(returned, actor=personas["dg"], remarks="Préciser la nécessité")

    client.force_login(personas["referent"])
    flagged = flagged_references(client)

    assert returned.reference in flagged
    assert untouched.reference not in flagged


def test_the_flag_goes_once_the_next_opinion_is_submitted(client, flow, personas):
    dr = flow.in_review()
    services.return_for_revision(dr, actor=personas["dg"], remarks="Préciser la nécessité")
    services.submit_opinion(reread(dr), actor=personas["referent"], **opinion_kwargs())

    client.force_login(personas["referent"])
    assert dr.reference not in flagged_references(client)


def test_an_approved_opinion_is_not_flagged(client, flow, personas):
    dr = flow.awaiting_signatures()
    client.force_login(personas["referent"])
    assert dr.reference not in flagged_references(client)
