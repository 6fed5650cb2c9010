"""The catalog page caches its body per customer and vendor catalog revision: a repeat runs
only the signed-in user's query, and any change to what customers see shows on the very next
request."""

from __future__ import annotations

from itertools import count

from accounts.models import Organization
from accounts.services import VendorSettings, update_vendor_settings
from catalog import catalogs, servlets
from catalog.models import Catalog, Servlet
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.catalog import factories
from tests.conftest import sign_in

_fresh = count()


def page(client, count_queries, url="/catalog"):
    with count_queries() as counted:
        response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True), len(counted)


def test_a_repeated_catalog_page_is_served_from_the_cache(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        factories.shop(tenant_a, title="Cached Health Check")
    sign_in(client, tenant_a.people[Role.BUYER])
    first, cold = page(client, count_queries)
    second, warm = page(client, count_queries)
    assert "Cached Health Check" in first
    assert second == first
    assert warm == 1  # the signed-in user, with the vendor's catalog revision
    assert warm < cold


def test_a_new_price_shows_on_the_next_request(client, tenant_a, unscoped, count_queries):
    with unscoped():
        servlet_id, catalog_id = factories.shop(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    assert "$5,000.00" in page(client, count_queries)[0]
    with unscoped():
        catalog = db.session.get(Catalog, catalog_id)
        item_id = factories.item_id(catalog_id, servlet_id)
        catalogs.set_price_override(
            factories.actor(tenant_a), catalog, item_id, Money(420_000, "USD")
        )
    html = page(client, count_queries)[0]
    assert "$4,200.00" in html
    assert "$5,000.00" not in html


def test_a_retired_servlet_leaves_the_grid_at_once(client, tenant_a, unscoped, count_queries):
    with unscoped():
        servlet_id, _ = factories.shop(tenant_a, title="Soon Retired Check")
    sign_in(client, tenant_a.people[Role.BUYER])
    assert "Soon Retired Check" in page(client, count_queries)[0]
    with unscoped():
        servlets.retire_servlet(factories.actor(tenant_a), db.session.get(Servlet, servlet_id))
    assert "Soon Retired Check" not in page(client, count_queries)[0]


def test_an_unassigned_catalog_leaves_the_page_at_once(client, tenant_a, unscoped, count_queries):
    with unscoped():
        _, catalog_id = factories.shop(tenant_a, title="Withdrawn Bootcamp")
    sign_in(client, tenant_a.people[Role.BUYER])
    assert "Withdrawn Bootcamp" in page(client, count_queries)[0]
    with unscoped():
        catalog = db.session.get(Catalog, catalog_id)
        catalogs.assign_customers(factories.actor(tenant_a), catalog, set())
    html = page(client, count_queries)[0]
    assert "Withdrawn Bootcamp" not in html
    assert 'data-testid="catalog-empty"' in html


def test_new_vendor_settings_render_the_page_afresh(client, tenant_a, unscoped, count_queries):
    """Price filters read amounts in the vendor's currency, so settings are part of the page."""
    with unscoped():
        factories.shop(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    url = "/catalog?min_price=4000"
    page(client, count_queries, url)
    assert page(client, count_queries, url)[1] == 1
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        settings = VendorSettings(
            name=vendor.name,
            currency="EUR",
            payment_terms_days=vendor.payment_terms_days,
            tax_rate=vendor.tax_rate,
            invoice_prefix=vendor.invoice_prefix,
            terms_text=vendor.terms_text,
            terms_version=vendor.terms_version,
        )
        update_vendor_settings(factories.actor(tenant_a), settings)
    assert page(client, count_queries, url)[1] > 1


def test_another_vendors_changes_leave_this_vendors_revision_alone(tenant_a, tenant_b, unscoped):
    def revision() -> int:
        db.session.expire_all()
        return db.session.get(Organization, tenant_a.vendor_id).catalog_revision

    with unscoped():
        factories.shop(tenant_a)
        before = revision()
        factories.shop(tenant_b)
        assert revision() == before
        factories.shop(tenant_a)
        assert revision() > before


def test_an_uncached_catalog_page_costs_the_same_with_10_and_1000_servlets(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        _, catalog_id = factories.shop(tenant_a)
        factories.bulk_servlets(tenant_a, catalog_id, 9)
    sign_in(client, tenant_a.people[Role.BUYER])
    client.get("/catalog")
    small = page(client, count_queries, f"/catalog?miss={next(_fresh)}")[1]
    with unscoped():
        factories.bulk_servlets(tenant_a, catalog_id, 990)
    large = page(client, count_queries, f"/catalog?miss={next(_fresh)}")[1]
    assert small == large
