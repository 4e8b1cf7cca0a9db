"""A superseded opinion says so; a reply is a draft until both signatures."""

from __future__ import annotations

from django.urls import reverse

from requests_app import services
from tests.conftest import opinion_kwargs, reread


def page(client, user, dr) -> str:
    client.force_login(user)
    html: str = client.get(reverse("requests_app:detail", args=[dr.pk])).content.decode()
    return html


def test_a_returned_opinion_is_marked_superseded_and_the_current_one_is_not(
    client, flow, personas
):
    dr = flow.in_review()
    services.return_for_revision(dr, actor=personas["dg"], remarks="Précisez.")
    services.submit_opinion(reread(dr), actor=personas["referent"], **opinion_kwargs())

    html = page(client, personas["dg"], dr)

    assert html.count("Remplacé par l'avis n° 2") == 1
    assert "Remplacé par l'avis n° 3" not in html


def test_a_single_opinion_is_not_marked(client, flow, personas):
    dr = flow.in_review()

    assert "Remplacé par" not in page(client, personas["dg"], dr)


def test_a_reply_is_a_draft_until_its_second_signature(client, flow, personas):
    dr = flow.partially_signed()
    assert "Projet de réponse : Communication d" in page(client, personas["president"], dr)

    dr = flow.signed()
    html = page(client, personas["president"], dr)
    assert "Réponse officielle : Communication d" in html
    assert "Projet de réponse" not in html
