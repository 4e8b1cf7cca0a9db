"""Query counts do not grow with the number of rows (T-LD-2)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User


def count_queries(client, url: str) -> int:
    # Re-authenticate API clients with a fresh user: the role cache lives on
    # the user instance, as it does per web request.
    handler = getattr(client, "handler", None)
    forced = getattr(handler, "_force_user", None)
    if forced is not None:
        client.force_authenticate(User.objects.get(pk=forced.pk))
    client.get(url)  # warm Django's content-type cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["president", "secretariat", "referent"])
def test_register_page_makes_as_many_queries_for_50_requests_as_for_1(
    client, flow, personas, role
):
    client.force_login(personas[role])
    flow.assigned()
    url = reverse("requests_app:register")
    one = count_queries(client, url)
    for _ in range(49):
        flow.assigned()

    fifty = count_queries(client, url)

    assert fifty == one
    assert len(client.get(url).context["page"].object_list) == 50


def test_request_page_makes_as_many_queries_for_50_requests_as_for_1(flow, personas, subtests):
    # The 49 more signed requests are built once for the four roles, each
    # with its own session.
    roles = ["president", "dg", "referent", "secretariat"]
    clients = {role: Client() for role in roles}
    for role, client in clients.items():
        client.force_login(personas[role])
    first = flow.signed()
    url = reverse("requests_app:detail", args=[first.pk])
    one = {role: count_queries(client, url) for role, client in clients.items()}
    for _ in range(49):
        flow.signed()

    for role, client in clients.items():
        with subtests.test(role=role):
            fifty = count_queries(client, url)

            assert fifty == one[role]


def test_home_and_api_list_do_not_grow_with_rows(client, flow, personas):
    client.force_login(personas["president"])
    api = APIClient()
    api.force_authenticate(personas["president"])
    flow.received()
    home_one = count_queries(client, reverse("requests_app:home"))
    api_one = count_queries(api, reverse("api:request-list"))
    for _ in range(49):
        flow.received()

    assert count_queries(client, reverse("requests_app:home")) == home_one
    assert count_queries(api, reverse("api:request-list")) == api_one
