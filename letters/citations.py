"""What a letter prints as law, read from the catalogue on one day.

Every statute a letter names comes from here: the `letter_citation` (and the
paragraphs) of the catalogue version in force on the letter's decision date
(`Reply.decided_on`; for an acknowledgement, the day the request was
received). Nothing in the letters' templates, strings or messages names a
statute itself (docs/legal-catalogue.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date

from django.utils.translation import gettext

from legal_basis.models import Feature, LegalBasis, RequesterKind

from .errors import LetterUnavailable

# letter_citation is written in French (the catalogue's language for
# letters). Inside a sentence or after the first item of a list, these
# leading words take a small letter ("… tenus au secret professionnel
# (article N …)"); a proper title such as "Code judiciaire" keeps its capital.
_COMMON_HEADS = frozenset({"Article", "Articles", "Loi", "Lois", "Décret", "Arrêté", "Ordonnance"})
# "Article N de la loi …": one article of an act, so that two articles of the
# same act read "articles N et M de la loi …". A number followed by a comma
# ("Article 37, alinéas …") or anything unusual is left as written.
_ONE_ARTICLE = re.compile(r"^[Aa]rticle (?P<number>\d[\w/]*) (?P<act>(?:de |du |des |d').+)$")


def _lowered_head(citation: str) -> str:
    head, _, rest = citation.partition(" ")
    if head in _COMMON_HEADS:
        return head.lower() + (" " + rest if rest else "")
    return citation


def _and(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    # Translators: the last two items of an enumeration ("12 and 14").
    return gettext("%(first)s and %(last)s") % {
        "first": ", ".join(items[:-1]),
        "last": items[-1],
    }


def join_citations(citations: Iterable[str]) -> str:
    """The citations as one phrase to put inside a sentence: the article of
    one act, then "; ", then two articles of another act cited together
    ("articles N et M de la loi …").

    Duplicates are dropped; articles of one act are cited together; items
    are separated as in the French catalogue ("; " with its space)."""
    groups: dict[str, list[str]] = {}
    order: list[str] = []
    for raw in citations:
        citation = " ".join(raw.split())
        if not citation:
            continue
        match = _ONE_ARTICLE.match(citation)
        key = match["act"] if match else citation
        numbers = groups.setdefault(key, [])
        if key not in order:
            order.append(key)
        if match and match["number"] not in numbers:
            numbers.append(match["number"])
    phrases = []
    for key in order:
        numbers = groups[key]
        if not numbers:
            phrases.append(_lowered_head(key))
        elif len(numbers) == 1:
            phrases.append(_lowered_head(f"Article {numbers[0]} {key}"))
        else:
            # Translators: several articles of one act, e.g. "articles 12 and 14
            # of the law of …"; %(act)s is the act as the catalogue writes it.
            phrases.append(
                gettext("articles %(numbers)s %(act)s") % {"numbers": _and(numbers), "act": key}
            )
    # Translators: between the items of a list within a sentence (French puts
    # a space before the semicolon).
    return gettext("; ").join(phrases)


def in_force(basis: LegalBasis, day: date) -> LegalBasis:
    """The version of `basis` that is law on `day`."""
    return basis.in_force_version_on(day)


def letter_citation(basis: LegalBasis, day: date) -> str:
    """What a letter prints for `basis` on `day`; empty for a card that is
    never printed (context, circular)."""
    return " ".join(in_force(basis, day).letter_citation.split())


def printed_citations(bases: Iterable[LegalBasis], day: date) -> list[str]:
    """The letter citations of `bases` on `day`, without the empty ones and
    without repeats, in the given order."""
    found: list[str] = []
    for basis in bases:
        citation = letter_citation(basis, day)
        if citation and citation not in found:
            found.append(citation)
    return found


def secrecy_rule(day: date) -> str:
    """The rule every letter states, as one phrase: the letter citations of
    the cards marked `secrecy_rule` in force on `day`.

    Without one, the letter cannot be produced: a letter that does not say
    which rule binds the centre is not sent."""
    citations = [
        b.letter_citation
        for b in LegalBasis.objects.with_feature(Feature.SECRECY_RULE, day)
        if b.letter_citation.strip()
    ]
    if not citations:
        raise LetterUnavailable(
            gettext(
                "The letter cannot be produced: the catalogue of legal bases has no rule of "
                "professional secrecy in force on %(day)s. Ask the administrator to apply the "
                "catalogue release that covers this date."
            )
            % {"day": day.strftime("%d/%m/%Y")},
            cause="secrecy_rule_missing",
        )
    return join_citations(citations)


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())


def routes_for(requester_kind: str, day: date, *, explicit_only: bool = False) -> list[str]:
    """The lawful routes printed for a requester of `requester_kind`: the
    `route_paragraph` of each card in force on `day` that names that kind
    (or, unless `explicit_only`, names no kind: a route open to anyone).

    The routes meant for fewest kinds come first (for the police, the
    magistrate before the concertation), the routes open to anyone last."""
    found: list[tuple[tuple[int, str], str]] = []
    for card in LegalBasis.objects.in_force_on(day).exclude(route_paragraph=""):
        kinds = card.route_requester_kinds or []
        if requester_kind in kinds or (not kinds and not explicit_only):
            found.append(
                ((len(kinds) or len(RequesterKind.values), card.code), card.route_paragraph)
            )
    routes: list[str] = []
    for _, text in sorted(found):
        paragraph = _one_paragraph(text)
        if paragraph and paragraph not in routes:
            routes.append(paragraph)
    return routes


def require_citation(basis: LegalBasis, day: date) -> str:
    """The letter citation of a basis that grounds a disclosed item: a
    disclosure never goes out without naming what allows it."""
    citation = letter_citation(basis, day)
    if not citation:
        raise LetterUnavailable(
            gettext(
                "The letter cannot be produced: the legal basis “%(title)s” has no citation for "
                "letters on %(day)s. Ask the administrator to correct the catalogue."
            )
            % {"title": in_force(basis, day).title_fr, "day": day.strftime("%d/%m/%Y")},
            cause="letter_citation_missing",
        )
    return citation
