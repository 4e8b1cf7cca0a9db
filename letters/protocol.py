"""How a letter addresses its addressee: title, salutation and closing.

Chosen from the requester's office (`requester_function`), their form of
address (`requester_civility`) and, when the office was not recorded, the
requester kind. Belgian usage: « Monsieur le Juge d'instruction, »,
« Madame la Procureure du Roi, », « Maître, » for a lawyer or a bailiff, and
a closing that repeats the salutation. Without a known form of address, an
office's title cannot be put in the right gender: the letter then says
« Madame, Monsieur, » (« Maître, » needs no gender).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext, pgettext

from requests_app.models import Civility, DisclosureRequest, RequesterFunction

# Requesters who are private persons or act for one: a refusal to them
# neither confirms nor denies any relation between the person and the centre.
PRIVATE_REQUESTER_KINDS = frozenset({"landlord", "recovery_company", "bailiff", "lawyer", "other"})
# Magistrates and courts: an incomplete request is a request for clarification.
JUDICIAL_REQUESTER_KINDS = frozenset(
    {"court", "investigating_judge", "public_prosecutor", "labour_prosecutor"}
)

# The office a requester kind implies when the intake did not record one.
_FUNCTION_OF_KIND: dict[str, str] = {
    "investigating_judge": RequesterFunction.INVESTIGATING_JUDGE,
    "public_prosecutor": RequesterFunction.CROWN_PROSECUTOR,
    "labour_prosecutor": RequesterFunction.LABOUR_PROSECUTOR,
    "bailiff": RequesterFunction.BAILIFF,
    "lawyer": RequesterFunction.LAWYER,
}

_NO_GENDER: frozenset[str] = frozenset({RequesterFunction.BAILIFF, RequesterFunction.LAWYER})


def _office_title(function: str, civility: str) -> str:
    """The title of an office in the addressee's gender, e.g. « Madame la Juge
    d'instruction »; empty when unknown."""
    madam = civility == Civility.MADAM
    titles: dict[str, tuple[str, str]] = {
        RequesterFunction.INVESTIGATING_JUDGE: (
            pgettext("form of address", "Madam Investigating Judge"),
            pgettext("form of address", "Sir Investigating Judge"),
        ),
        RequesterFunction.JUDGE: (
            pgettext("form of address", "Madam Judge"),
            pgettext("form of address", "Sir Judge"),
        ),
        RequesterFunction.CROWN_PROSECUTOR: (
            pgettext("form of address", "Madam Crown Prosecutor"),
            pgettext("form of address", "Sir Crown Prosecutor"),
        ),
        RequesterFunction.DEPUTY_PROSECUTOR: (
            pgettext("form of address", "Madam Deputy Crown Prosecutor"),
            pgettext("form of address", "Sir Deputy Crown Prosecutor"),
        ),
        RequesterFunction.LABOUR_PROSECUTOR: (
            pgettext("form of address", "Madam Labour Prosecutor"),
            pgettext("form of address", "Sir Labour Prosecutor"),
        ),
        RequesterFunction.POLICE_COMMISSIONER: (
            pgettext("form of address", "Madam Commissioner"),
            pgettext("form of address", "Sir Commissioner"),
        ),
        RequesterFunction.MAYOR: (
            pgettext("form of address", "Madam Mayor"),
            pgettext("form of address", "Sir Mayor"),
        ),
        RequesterFunction.DIRECTOR: (
            pgettext("form of address", "Madam Director"),
            pgettext("form of address", "Sir Director"),
        ),
    }
    pair = titles.get(function)
    if pair is None or civility not in Civility.values:
        return ""
    return pair[0] if madam else pair[1]


@dataclass(frozen=True)
class Protocol:
    # The office's title, printed above the addressee's name; empty when
    # there is none.
    title: str
    # The salutation, comma included: « Monsieur le Juge d'instruction, ».
    salutation: str
    # The closing sentence, which repeats the form of address.
    closing: str
    # Put before the addressee's name when no office title is printed:
    # « Maître », « Madame », « Monsieur ».
    name_prefix: str = ""

    def addressee(self, name: str) -> str:
        """The addressee's name line: « Maître Jean Dupont », unless the name
        as registered already starts with a form of address."""
        name = name.strip()
        first = name.split(" ", 1)[0].rstrip(".").lower()
        if not self.name_prefix or first in _FORMS_OF_ADDRESS:
            return name
        return f"{self.name_prefix} {name}"


# How a registered name may already start (French forms and abbreviations).
_FORMS_OF_ADDRESS = frozenset(
    {"madame", "monsieur", "mademoiselle", "mme", "mlle", "m", "mr", "maître", "maitre", "me"}
)


def _closing(addressee: str) -> str:
    return gettext(
        "Please accept, %(addressee)s, the expression of our distinguished consideration."
    ) % {"addressee": addressee}


def protocol_for(kind: str, function: str = "", civility: str = "") -> Protocol:
    """The title, salutation and closing for a requester."""
    function = function or _FUNCTION_OF_KIND.get(kind, "")
    if function in _NO_GENDER:
        master = pgettext("form of address", "Counsel")
        return Protocol("", f"{master},", _closing(master), name_prefix=master)
    title = _office_title(function, civility)
    if title:
        return Protocol(title, f"{title},", _closing(title))
    if civility == Civility.MADAM:
        plain = pgettext("form of address", "Madam")
    elif civility == Civility.SIR:
        plain = pgettext("form of address", "Sir")
    else:
        plain = pgettext("form of address", "Madam, Sir")
    # « Madame Anne Dubois » for a private person; a civil servant without an
    # office title is registered with their rank ("Inspecteur …"), left as is.
    prefix = plain if civility in Civility.values and not function else ""
    return Protocol("", f"{plain},", _closing(plain), name_prefix=prefix)


def protocol_of(disclosure_request: DisclosureRequest) -> Protocol:
    return protocol_for(
        disclosure_request.requester_kind,
        disclosure_request.requester_function,
        disclosure_request.requester_civility,
    )


def is_private_requester(kind: str) -> bool:
    return kind in PRIVATE_REQUESTER_KINDS


def is_judicial_requester(kind: str) -> bool:
    return kind in JUDICIAL_REQUESTER_KINDS
