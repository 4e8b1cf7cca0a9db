"""Who sees what.

- The Président and the DG (or their acting deputies) see every request.
- The secretariat sees the register (metadata) of every request, never opinions
  or the persons concerned.
- A referent sees the requests assigned to them: a guardian object
  permission granted and revoked by the assignment service.
- An auditor sees the audit trail, never request content.

Anything else gets a 404, so nobody learns that a request exists.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from accounts.models import Role, User, is_staff_member

from .models import DisclosureRequest

__all__ = [
    "VIEW_CONTENT",
    "can_see_content",
    "get_request_for_user",
    "is_staff_member",
    "searches_content",
    "sees_everything",
    "sees_register",
    "visible_requests",
]

VIEW_CONTENT = "requests_app.view_content"


def sees_everything(user: User) -> bool:
    return user.has_role(Role.PRESIDENT) or user.has_role(Role.DIRECTOR_GENERAL)


def sees_register(user: User) -> bool:
    return sees_everything(user) or user.has_role(Role.SECRETARIAT)


def searches_content(user: User) -> bool:
    """May search by what only content roles see (persons, legal bases, cited text)?

    Only when the user may see the content of every request they can list:
    otherwise a match would reveal who a request they cannot open is about.
    """
    if sees_everything(user):
        return True
    return user.has_role(Role.REFERENT) and not sees_register(user)


def visible_requests(user: User) -> QuerySet[DisclosureRequest]:
    base = DisclosureRequest.objects.all()
    if not user.is_authenticated or not user.is_active:
        return base.none()
    if sees_register(user):
        return base
    if user.has_role(Role.REFERENT):
        return get_objects_for_user(
            user, VIEW_CONTENT, klass=base, accept_global_perms=False, use_groups=False
        )
    return base.none()


def can_see_content(user: User, disclosure_request: DisclosureRequest) -> bool:
    if sees_everything(user):
        return True
    return user.has_role(Role.REFERENT) and user.has_perm(VIEW_CONTENT, disclosure_request)


def get_request_for_user(user: User, pk: int) -> DisclosureRequest:
    try:
        return visible_requests(user).get(pk=pk)
    except DisclosureRequest.DoesNotExist:
        raise Http404 from None
