from typing import Any

from django.http import HttpRequest

from .models import Role


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": frozenset(), "Role": Role}
    return {"user_roles": user.roles_on(), "Role": Role}
