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

from django.contrib.auth.models import Permission
from django.db.models import QuerySet, Subquery
from django.http import Http404

from accounts.models import Role, User, is_staff_member

from .models import DisclosureRequest, DisclosureRequestUserObjectPermission

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


def _granted(user: User) -> QuerySet[DisclosureRequestUserObjectPermission]:
    """The user's own object permissions to see a request's content (no group
    or global ones: the assignment service grants them to the referent).

    Asked of the direct foreign key, with the permission as a scalar subquery:
    guardian's generic query casts the key and joins the requests twice, and,
    joined, PostgreSQL expected one granted row and probed the requests one
    by one; a referent holding 9,000 past requests paid a third of a second
    on every page (bench/home_bench.py)."""
    app_label, codename = VIEW_CONTENT.split(".")
    permission = Permission.objects.filter(
        codename=codename,
        content_type__app_label=app_label,
        content_type__model="disclosurerequest",
    ).values("pk")[:1]
    return DisclosureRequestUserObjectPermission.objects.filter(
        user=user, permission_id=Subquery(permission)
    )


def visible_requests(user: User) -> QuerySet[DisclosureRequest]:
    base = DisclosureRequest.objects.all()
    if not user.is_authenticated or not user.is_active:
        return base.none()
    if sees_register(user):
        return base
    if user.has_role(Role.REFERENT):
        if user.is_superuser:
            return base  # as guardian's get_objects_for_user, which this replaces
        return base.filter(pk__in=_granted(user).values("content_object_id"))
    return base.none()


def can_see_content(user: User, disclosure_request: DisclosureRequest) -> bool:
    if sees_everything(user):
        return True
    if not user.has_role(Role.REFERENT):
        return False
    if user.is_superuser:
        return True  # as guardian's has_perm, which this replaces
    return _granted(user).filter(content_object=disclosure_request).exists()


def get_request_for_user(user: User, pk: int) -> DisclosureRequest:
    try:
        return visible_requests(user).get(pk=pk)
    except DisclosureRequest.DoesNotExist:
        raise Http404 from None
