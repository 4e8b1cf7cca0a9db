"""Issue 12: what a letter prints as law comes from the catalogue version in
force on the decision date; the addressee is addressed by their office; the
letterhead must be the centre's own in production.

Cards a test depends on are created here, with made-up citations, so the
tests do not depend on the shipped catalogue's wording.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone, translation

from legal_basis.models import LegalBasis
from letters import citations
from letters.composition import compose_reply_body
from letters.errors import LetterUnavailable
from letters.models import Letterhead
from letters.protocol import protocol_for
from letters.rendering import letter_html, render_acknowledgement, render_letter
from requests_app import services
from requests_app.errors import ActionRefused
from requests_app.models import Reply, ReplyKind

from .conftest import normalised, pdf_text

pytestmark = pytest.mark.usefixtures("letterhead")

BEFORE, AFTER = date(2026, 4, 7), date(2026, 4, 8)


def _text(pdf: bytes) -> str:
    return normalised(pdf_text(pdf))


def _flat(text: str) -> str:
    return "".join(text.split())


def card(code: str, version: int = 1, **fields) -> LegalBasis:
    values = {
        "code": code,
        "version": version,
        "title_fr": f"Fiche {code}",
        "citation": f"Référence interne {code}",
        "role": "request_basis",
        "effect": "permits",
    }
    values.update(fields)
    return LegalBasis.objects.create(**values)


@pytest.fixture
def rule_in_two_periods(db):
    """The shipped secrecy cards set aside; a rule of two periods (until 7 April,
    from 8 April) and one without a period take their place."""
    for shipped in LegalBasis.objects.current():
        if "secrecy_rule" in shipped.features:
            shipped.features = [f for f in shipped.features if f != "secrecy_rule"]
            shipped.save(update_fields=["features"])
    card(
        "test-secret",
        1,
        role="context",
        effect="context",
        features=["secrecy_rule"],
        in_force_until=BEFORE,
        letter_citation="Règle du secret TESTAVANT",
    )
    card(
        "test-secret",
        2,
        role="context",
        effect="context",
        features=["secrecy_rule"],
        in_force_from=AFTER,
        letter_citation="Règle du secret TESTAPRES",
    )
    card(
        "test-secret-organic",
        role="context",
        effect="context",
        features=["secrecy_rule"],
        letter_citation="Règle organique TESTTOUJOURS",
    )


@pytest.fixture
def basis_in_two_periods(db) -> LegalBasis:
    """A provision renumbered on 8 April; returns the current period's row."""
    card(
        "test-provision",
        1,
        in_force_until=BEFORE,
        letter_citation="Disposition TESTBASEAVANT",
        reply_paragraph_refused="Refus selon TESTREFUSAVANT.",
    )
    return card(
        "test-provision",
        2,
        in_force_from=AFTER,
        letter_citation="Disposition TESTBASEAPRES",
        reply_paragraph_refused="Refus selon TESTREFUSAPRES.",
    )


@pytest.fixture
def circular(db) -> LegalBasis:
    return card(
        "test-circular",
        role="context",
        effect="context",
        citation="Circulaire TESTCIRCULAIRE",
        letter_citation="",
    )


def refusal(flow, personas, *, decided_on=None, bases=None, **request_fields) -> Reply:
    """A refusal decided through the workflow, then set to `decided_on`,
    `bases` and the requester `request_fields`, its body composed again."""
    dr = flow.in_review(proposal="refuse")
    services.approve(dr, actor=personas["dg"])
    for name, value in request_fields.items():
        setattr(dr, name, value)
    if request_fields:
        dr.save(update_fields=list(request_fields))
    reply = Reply.objects.get(request=dr)
    if decided_on is not None:
        reply.decided_on = decided_on
    if bases is not None:
        reply.legal_bases.set(bases)
    reply.body = compose_reply_body(
        dr, ReplyKind.REFUSAL, list(reply.legal_bases.all()), [], decided_on=reply.decided_on
    )
    reply.save()
    return reply


# The law of the decision date ---------------------------------------------


@pytest.mark.usefixtures("rule_in_two_periods")
@pytest.mark.parametrize(
    ("day", "printed", "not_printed"),
    [(BEFORE, "AVANT", "APRES"), (AFTER, "APRES", "AVANT")],
)
def test_a_letter_prints_the_law_in_force_on_its_decision_date(
    flow, personas, basis_in_two_periods, circular, day, printed, not_printed
):
    reply = refusal(flow, personas, decided_on=day, bases=[basis_in_two_periods, circular])
    text = _text(render_letter(reply))
    rule = f"Règle du secret TEST{printed} ; Règle organique TESTTOUJOURS"
    # The rule in the body's paragraph and in the footer of every page.
    assert _flat(text).count(_flat(rule)) >= 2
    assert f"Disposition examinée : Disposition TESTBASE{printed}" in text
    assert f"Refus selon TESTREFUS{printed}." in text
    assert f"TEST{not_printed}" not in text
    # A card without a letter citation (a circular) is never printed.
    assert "TESTCIRCULAIRE" not in text
    assert "Référence interne" not in text


@pytest.mark.parametrize(
    ("day", "printed", "not_printed"),
    [
        (BEFORE, "article 458 du Code pénal", "ancien Code pénal"),
        (
            AFTER,
            "article 458 de l'ancien Code pénal, repris par le Code pénal du 29 février 2024",
            "458 du Code pénal",
        ),
    ],
)
def test_the_shipped_catalogue_cites_the_penal_code_of_the_decision_date(
    flow, day, printed, not_printed
):
    dr = flow.in_review(proposal="refuse")
    bases = list(dr.opinions.get().legal_bases.all())

    with translation.override("fr"):
        body = compose_reply_body(dr, ReplyKind.REFUSAL, bases, [], decided_on=day)

    assert printed in body
    assert not_printed not in body


def test_the_acknowledgement_prints_the_rule_of_its_day(flow, rule_in_two_periods):
    dr = flow.received()
    text = _text(render_acknowledgement(dr))
    registered = timezone.localdate(dr.created_at)
    assert registered >= AFTER
    assert "tenus au secret professionnel (Règle du secret TESTAPRES" in text
    assert "TESTAVANT" not in text


def test_without_a_rule_in_force_no_letter_is_produced(flow, personas, rule_in_two_periods):
    reply = refusal(flow, personas)
    LegalBasis.objects.filter(code__in=["test-secret", "test-secret-organic"]).delete()
    with pytest.raises(LetterUnavailable) as refused:
        letter_html(reply)
    assert refused.value.cause == "secrecy_rule_missing"
    assert "aucune règle de secret professionnel en vigueur" in refused.value.message
    with pytest.raises(LetterUnavailable):
        compose_reply_body(reply.request, ReplyKind.REFUSAL, [], [], decided_on=AFTER)


def test_the_disclosure_table_names_each_item_s_basis_on_the_decision_date(
    flow, basis_in_two_periods, circular
):
    dr = flow.awaiting_signatures()
    reply = dr.reply
    first, second = reply.items.all()
    first.legal_basis = basis_in_two_periods
    first.save()
    reply.decided_on = BEFORE
    reply.legal_bases.add(circular)
    reply.save()
    text = _text(render_letter(reply))
    assert "Disposition TESTBASEAVANT" in text
    assert "TESTBASEAPRES" not in text
    assert _flat(citations.letter_citation(second.legal_basis, BEFORE)) in _flat(text)
    assert "TESTCIRCULAIRE" not in text
    # The purpose limitation replaces "covered by secrecy for any other use".
    assert "exclusivement pour la finalité indiquée" in text
    assert "à aucune autre fin" in text
    assert "strictement nécessaire" in text


def test_an_item_on_a_basis_without_letter_citation_stops_the_letter(flow, circular):
    dr = flow.awaiting_signatures()
    item = dr.reply.items.first()
    item.legal_basis = circular
    item.save()
    with pytest.raises(LetterUnavailable) as refused:
        letter_html(dr.reply)
    assert refused.value.cause == "letter_citation_missing"


@pytest.mark.parametrize(
    ("given", "joined"),
    [
        (
            ["Article 12 de la loi d'essai", "Article 14 de la loi d'essai"],
            "articles 12 et 14 de la loi d'essai",
        ),
        (
            [
                "Article 3 de l'ancien code d'essai, repris par le code d'essai de 2024",
                "Article 12 de la loi d'essai",
                "Article 12 de la loi d'essai",
                "Article 14 de la loi d'essai",
            ],
            "article 3 de l'ancien code d'essai, repris par le code d'essai de 2024 ; "
            "articles 12 et 14 de la loi d'essai",
        ),
        (
            ["Code d'essai, livre premier", "Article 7, alinéa 2, de la loi d'essai", " "],
            "Code d'essai, livre premier ; article 7, alinéa 2, de la loi d'essai",
        ),
    ],
)
def test_citations_are_joined_as_french_writes_them(given, joined):
    with translation.override("fr"):
        assert citations.join_citations(given) == joined


# Protocol ------------------------------------------------------------------

PROTOCOL = [
    ("investigating_judge", "", "madam", "Madame la Juge d'instruction"),
    ("investigating_judge", "investigating_judge", "sir", "Monsieur le Juge d'instruction"),
    ("court", "judge", "madam", "Madame la Juge"),
    ("public_prosecutor", "", "madam", "Madame la Procureure du Roi"),
    ("public_prosecutor", "crown_prosecutor", "sir", "Monsieur le Procureur du Roi"),
    ("public_prosecutor", "deputy_prosecutor", "sir", "Monsieur le Substitut du procureur du Roi"),
    ("labour_prosecutor", "", "sir", "Monsieur l'Auditeur du travail"),
    ("labour_prosecutor", "labour_prosecutor", "madam", "Madame l'Auditrice du travail"),
    ("police", "police_commissioner", "sir", "Monsieur le Commissaire"),
    ("police", "police_commissioner", "madam", "Madame la Commissaire"),
    ("municipality", "mayor", "sir", "Monsieur le Bourgmestre"),
    ("public_body", "director", "madam", "Madame la Directrice"),
]
# (kind, function, civility, form of address, what goes before the name)
PLAIN = [
    ("bailiff", "", "", "Maître", "Maître"),
    ("lawyer", "lawyer", "madam", "Maître", "Maître"),
    ("other", "bailiff", "sir", "Maître", "Maître"),
    ("landlord", "", "madam", "Madame", "Madame"),
    ("landlord", "", "sir", "Monsieur", "Monsieur"),
    ("landlord", "", "", "Madame, Monsieur", ""),
    ("other", "", "", "Madame, Monsieur", ""),
    # Registered with their rank ("Inspecteur …"): no « Monsieur » before it.
    ("police", "police_officer", "sir", "Monsieur", ""),
    # An office without a known gender cannot be titled.
    ("investigating_judge", "", "", "Madame, Monsieur", ""),
]


@pytest.mark.parametrize(("kind", "function", "civility", "title"), PROTOCOL)
def test_protocol_of_an_office(kind, function, civility, title):
    with translation.override("fr"):
        protocol = protocol_for(kind, function, civility)
    assert protocol.title == title
    assert protocol.salutation == f"{title},"
    assert protocol.closing == (
        f"Veuillez agréer, {title}, l'expression de notre considération distinguée."
    )
    assert protocol.addressee("Jean Dupont") == "Jean Dupont"


@pytest.mark.parametrize(("kind", "function", "civility", "form", "prefix"), PLAIN)
def test_protocol_without_an_office_title(kind, function, civility, form, prefix):
    with translation.override("fr"):
        protocol = protocol_for(kind, function, civility)
    assert protocol.title == ""
    assert protocol.salutation == f"{form},"
    assert protocol.closing == (
        f"Veuillez agréer, {form}, l'expression de notre considération distinguée."
    )
    assert protocol.addressee("Jean Dupont") == f"{prefix} Jean Dupont".strip()
    # A name registered with its form of address does not get a second one.
    assert protocol.addressee("Me Jean Dupont") == "Me Jean Dupont"
    assert protocol.addressee("Mme A. Dubois") == "Mme A. Dubois"


def test_the_letter_addresses_the_investigating_judge_by_office(flow, personas):
    reply = refusal(flow, personas, requester_civility="madam")
    text = _text(render_letter(reply))
    assert "Madame la Juge d'instruction Juge CANARYJUGE" in text  # title, then name
    assert "Madame la Juge d'instruction, Nous avons examiné" in text
    assert (
        "Veuillez agréer, Madame la Juge d'instruction, l'expression de notre considération "
        "distinguée." in text
    )
    assert "Madame, Monsieur" not in text


# Subject -------------------------------------------------------------------


def test_the_subject_names_the_requester_s_letter(flow, personas):
    dr = flow.received(requester_letter_date=date(2026, 3, 3))
    text = _text(render_acknowledgement(dr))
    assert "Objet : Accusé de réception — votre lettre du 3 mars 2026, réf. JI/2026/123" in text
    reply = refusal(flow, personas, requester_letter_date=date(2026, 3, 3))
    text = _text(render_letter(reply))
    assert "Objet : Votre lettre du 3 mars 2026, réf. JI/2026/123" in text
    assert "Nous avons examiné votre lettre du 3 mars 2026." in text


def test_without_a_letter_date_the_subject_is_the_date_of_receipt(flow, personas):
    reply = refusal(flow, personas, requester_reference="")
    text = _text(render_letter(reply))
    assert "Objet : Votre demande du 2 novembre 2026 " in text
    assert "réf. JI" not in text


# Refusal and inadmissibility: routes, contact, neither confirm nor deny ------


@pytest.fixture
def routes(db):
    today = timezone.localdate()
    card(
        "test-route-police",
        route_paragraph="Voie du parquet TESTVOIEPOLICE.",
        route_requester_kinds=["police"],
    )
    card(
        "test-route-bailiff",
        route_paragraph="Voie de la saisie TESTVOIEHUISSIER.",
        route_requester_kinds=["bailiff"],
    )
    card("test-route-anyone", route_paragraph="Voie de l'accord TESTVOIETOUS.")
    card(
        "test-route-ended",
        route_paragraph="Voie abrogée TESTVOIEPERIMEE.",
        in_force_until=today.replace(year=today.year - 1),
    )


def test_a_refusal_to_the_police_lists_the_police_routes(flow, personas, routes):
    reply = refusal(flow, personas, requester_kind="police")
    text = _text(render_letter(reply))
    assert "infraction pénale dans le chef de la personne qui y procède" in text
    assert "ne procède donc pas d'un manque de collaboration mais d'une obligation légale" in text
    assert "ne peut être obtenue légalement que par l'une des voies suivantes" in text
    assert "TESTVOIEPOLICE" in text
    assert "TESTVOIETOUS" in text
    # The routes meant for this kind first, those open to anyone last.
    assert text.index("TESTVOIEPOLICE") < text.index("TESTVOIETOUS")
    assert "TESTVOIEHUISSIER" not in text
    assert "TESTVOIEPERIMEE" not in text
    assert "secrétariat du Directeur général" in text
    assert reply.request.reference in text.split("secrétariat du Directeur général", 1)[1]
    assert "ne confirme ni n'infirme" not in text


@pytest.mark.parametrize("kind", ["landlord", "bailiff"])
def test_a_refusal_to_a_private_requester_neither_confirms_nor_denies(
    flow, personas, routes, kind
):
    reply = refusal(flow, personas, requester_kind=kind, requester_function="")
    text = _text(render_letter(reply))
    assert "ne confirme ni n'infirme l'existence d'une quelconque relation" in text
    assert "TESTVOIETOUS" in text
    assert "TESTVOIEPOLICE" not in text
    assert ("TESTVOIEHUISSIER" in text) == (kind == "bailiff")


def test_an_incomplete_police_request_is_pointed_to_the_parquet(flow, routes):
    dr = flow.received(requester_kind="police", cited_provision="", documents=[])
    assert dr.reply.kind == ReplyKind.INADMISSIBILITY
    text = _text(render_letter(dr.reply))
    assert "les points suivants doivent être complétés" in text
    assert "Nous vous invitons à nous adresser une demande écrite, à l'attention du Président" in (
        text
    )
    assert "accord écrit, daté et signé de la personne concernée" in text
    assert "Une demande émanant d'un service de police peut aboutir" in text
    assert "TESTVOIEPOLICE" in text
    assert "TESTVOIETOUS" not in text
    assert "TESTVOIEHUISSIER" not in text
    assert "irrecevable" not in text.lower()


def test_an_incomplete_request_of_a_magistrate_is_a_request_for_clarification(flow, routes):
    dr = flow.inadmissible()
    text = _text(render_letter(dr.reply))
    assert "il suffit de nous en préciser la nature ou de nous en adresser une copie" in text
    assert "TESTVOIEPOLICE" not in text


# The letterhead in production ------------------------------------------------


def test_a_demonstration_letterhead_is_refused_in_production(flow, settings):
    dr = flow.inadmissible()
    settings.HUISCLOS_REQUIRE_LETTERHEAD = True
    with pytest.raises(LetterUnavailable) as refused:
        letter_html(dr.reply)
    assert refused.value.cause == "letterhead_incomplete"
    message = refused.value.message
    assert "En-tête des lettres" in message
    for missing in (
        "son adresse postale",
        "un numéro de téléphone ou une adresse électronique",
        "délégué à la protection des données",
    ):
        assert missing in message
    with pytest.raises(LetterUnavailable):
        render_acknowledgement(dr)


def test_without_the_setting_a_complete_letterhead_is_required(flow, settings):
    """config.settings sets HUISCLOS_REQUIRE_LETTERHEAD from DJANGO_DEBUG;
    a deployment that lost the setting still refuses placeholder letterheads."""
    dr = flow.inadmissible()
    del settings.HUISCLOS_REQUIRE_LETTERHEAD

    with pytest.raises(LetterUnavailable):
        letter_html(dr.reply)

    settings.HUISCLOS_REQUIRE_LETTERHEAD = False
    assert letter_html(dr.reply)


def test_the_default_letterhead_is_refused_and_a_complete_one_accepted(flow, settings):
    dr = flow.inadmissible()
    settings.HUISCLOS_REQUIRE_LETTERHEAD = True
    Letterhead.objects.all().delete()
    with pytest.raises(LetterUnavailable) as refused:
        letter_html(dr.reply)
    assert "le nom du CPAS" in refused.value.message
    letterhead = Letterhead.load()
    letterhead.name = "CPAS de Gembloux"
    letterhead.address = "Rue Chapelle Marion 6\n5030 Gembloux"
    letterhead.email = "secretariat@cpas.gembloux.be"
    letterhead.dpo_contact = "dpo@cpas.gembloux.be"
    letterhead.save()
    assert "CPAS de Gembloux" in letter_html(dr.reply)


def test_no_decision_is_recorded_while_the_letterhead_is_incomplete(flow, personas, settings):
    dr = flow.in_review(proposal="refuse")
    settings.HUISCLOS_REQUIRE_LETTERHEAD = True
    with pytest.raises(ActionRefused) as refused:
        services.approve(dr, actor=personas["dg"])
    assert refused.value.http_status == 503
    assert not Reply.objects.filter(request=dr).exists()
