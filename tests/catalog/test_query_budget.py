"""The customer's catalog and servlet pages run a fixed number of SQL statements, whatever the
number of servlets (lazy loading raises in tests, so an N+1 fails before it is counted)."""

from __future__ import annotations

from core.permissions import Role
from tests.catalog import factories
from tests.conftest import sign_in

MAX_STATEMENTS = 10


def statements(client, count_queries, url: str) -> int:
    client.get(url)  # warm: the first request of a client may load more (e.g. the session)
    with count_queries() as counted:
        response = client.get(url)
    assert response.status_code == 200
    return len(counted)


def test_catalog_and_servlet_pages_cost_the_same_with_10_and_1000_servlets(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        servlet_id, catalog_id = factories.shop(tenant_a)
        factories.bulk_servlets(tenant_a, catalog_id, 9)
    sign_in(client, tenant_a.people[Role.BUYER])
    urls = [
        "/catalog",
        "/catalog?q=health&sort=price_asc&kind=health_check&min_price=10&max_days=20",
        f"/catalog/servlets/{servlet_id}",
    ]
    small = [statements(client, count_queries, url) for url in urls]
    with unscoped():
        factories.bulk_servlets(tenant_a, catalog_id, 990)
    large = [statements(client, count_queries, url) for url in urls]
    assert small == large
    assert max(large) <= MAX_STATEMENTS, large


def test_admin_lists_do_not_grow_with_the_number_of_servlets(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        servlet_id, catalog_id = factories.shop(tenant_a)
        factories.bulk_servlets(tenant_a, catalog_id, 9)
    sign_in(client, tenant_a.people[Role.ADMIN])
    urls = ["/admin/servlets", f"/admin/servlets/{servlet_id}"]
    small = [statements(client, count_queries, url) for url in urls]
    with unscoped():
        factories.bulk_servlets(tenant_a, catalog_id, 200)
    assert [statements(client, count_queries, url) for url in urls] == small
