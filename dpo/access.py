"""Who may open which part of the DPO's desk. Need to know: the figures are
for those who answer to the Council; the register of disclosures and the
retention reports for the DPO (the DG places legal holds too)."""

from __future__ import annotations

from accounts.models import Role, User


def _holds(user: User, *roles: str) -> bool:
    held = user.roles_on() if user.is_authenticated else frozenset()
    return bool(held & set(roles))


def may_search_disclosures(user: User) -> bool:
    return _holds(user, Role.DPO)


def may_view_statistics(user: User) -> bool:
    return _holds(user, Role.PRESIDENT, Role.DIRECTOR_GENERAL, Role.DPO)


def may_view_processing_record(user: User) -> bool:
    return _holds(user, Role.PRESIDENT, Role.DIRECTOR_GENERAL, Role.DPO)


def may_view_retention(user: User) -> bool:
    return _holds(user, Role.DPO, Role.DIRECTOR_GENERAL)


def may_hold(user: User) -> bool:
    """Place or lift a legal hold on a request."""
    return _holds(user, Role.DPO, Role.DIRECTOR_GENERAL)


def may_follow_access_requests(user: User) -> bool:
    """The persons' own access requests and their GDPR deadlines: the DPO
    follows them and may extend one (the DG prepares the replies)."""
    return _holds(user, Role.DPO)
