"""Where the code defends twice on purpose, each layer is tested on its own, so removing
either one alone fails a test (a test through both layers passes while one still holds).

- Markdown: the renderer escapes raw HTML, and the sanitiser drops what is not allowed.
- Tenancy: the ORM filter keeps vendors apart, and each model's ``reach`` keeps a customer to
  its own organisation inside a vendor.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from catalog import markdown
from catalog.models import Recommendation
from core.extensions import db
from core.permissions import OrgKind, Role
from core.tenancy import all_tenants, tenant_scope
from delivery.models import Engagement
from ordering.models import Order
from tests.catalog import factories as catalog_factories
from tests.factories import organization, person
from tests.ordering import factories

HOSTILE = (
    "<script>alert('x')</script>\n\n"
    '<a href="javascript:alert(2)">raw</a> <img src=x onerror=alert(3)>\n\n'
    "[click](javascript:alert(1))"
)


def test_the_markdown_renderer_alone_escapes_raw_html():
    html = markdown._renderer.render(HOSTILE)
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_the_sanitiser_alone_drops_scripts_handlers_and_javascript_links():
    clean = markdown.sanitise(
        '<script>alert(1)</script><p onclick="x()">Hi <a href="javascript:alert(2)">a</a>'
        '<img src=x onerror=alert(3)><a href="https://example.com">ok</a></p>'
    )
    assert "script" not in clean
    assert "onclick" not in clean
    assert "onerror" not in clean
    assert "javascript:" not in clean
    assert 'href="https://example.com"' in clean


@pytest.fixture
def two_vendors(app, tenant_a, tenant_b, unscoped):
    """An order, its engagement and a recommendation in each vendor."""
    with unscoped():
        orders = {tenant.vendor_id: factories.order(tenant) for tenant in (tenant_a, tenant_b)}
        for tenant in (tenant_a, tenant_b):
            catalog_factories.recommendation(tenant, catalog_factories.shop(tenant)[0])
    return orders


@pytest.mark.parametrize("model", [Order, Engagement, Recommendation])
def test_the_tenant_filter_alone_keeps_another_vendors_rows_out(app, tenant_a, two_vendors, model):
    with app.app_context(), tenant_scope(tenant_a.vendor_id):
        rows = db.session.scalars(select(model)).all()  # no reach: the filter only
    assert rows
    assert {row.vendor_id for row in rows} == {tenant_a.vendor_id}


@pytest.mark.parametrize("model", [Order, Engagement, Recommendation])
def test_reach_alone_keeps_a_customer_to_its_own_organisation(
    app, tenant_a, two_vendors, model, unscoped
):
    with unscoped():
        neighbour = organization("Neighbour Ltd", OrgKind.CUSTOMER, tenant_a.vendor_id)
        buyer = person(neighbour, Role.BUYER)
    actor = catalog_factories.Actor(
        buyer.membership_id, buyer.user_id, buyer.organization_id, buyer.vendor_id, Role.BUYER
    )
    with app.app_context(), all_tenants():  # no filter: reach only
        everything = db.session.scalars(select(model)).all()
        reached = db.session.scalars(model.reach(select(model), actor)).all()
    assert everything
    assert reached == []
