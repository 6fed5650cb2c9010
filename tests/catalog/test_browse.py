"""Customer browsing: cards at the catalog's price, filters, sort, pagination, full-text search
(run on both databases by the two lanes), the mini-SOW page and who may open what."""

from __future__ import annotations

import re

import pytest

from catalog import servlets
from catalog.models import DeliveryMode, LifecycleStage, Servlet, ServletKind
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.catalog import factories
from tests.conftest import sign_in


def titles(response) -> list[str]:
    html = response.data.decode()
    return re.findall(r'class="stretched-link[^"]*" href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def shelf(tenant_a, unscoped):
    """Four published servlets in one catalog assigned to tenant A's customer."""
    with unscoped():
        ids = {
            "sso": factories.servlet(
                tenant_a,
                title="SSO Deployment",
                kind=ServletKind.DEPLOYMENT,
                stage=LifecycleStage.ONBOARDING,
                outcome="Your people sign in with your identity provider.",
                price=Money(650_000, "USD"),
                duration_days=5,
            ),
            "bootcamp": factories.servlet(
                tenant_a,
                title="Admin Onboarding Bootcamp",
                kind=ServletKind.ONBOARDING,
                stage=LifecycleStage.ONBOARDING,
                delivery_mode=DeliveryMode.CLASSROOM,
                outcome="Administrators run the product without tickets.",
                price=Money(350_000, "USD"),
                duration_days=2,
            ),
            "health": factories.servlet(
                tenant_a,
                title="CRM Health Check",
                outcome="A scored review of your configuration.",
                description="We analyse **licence utilisation** and workflows.",
                price=Money(500_000, "USD"),
                duration_days=5,
            ),
            "rollout": factories.servlet(
                tenant_a,
                title="New Module Rollout",
                kind=ServletKind.EXPANSION,
                stage=LifecycleStage.EXPANSION,
                outcome="A second module live for one business unit.",
                deliverables=[{"title": "Go-live support week", "description": "Hypercare"}],
                price=Money(1_950_000, "USD"),
                duration_days=15,
            ),
        }
        catalog_id = factories.catalog(
            tenant_a, list(ids.values()), name="Enterprise", prices={ids["sso"]: Money(1, "USD")}
        )
    return ids, catalog_id


def test_cards_show_the_catalog_price_in_catalog_order(client, tenant_a, shelf):
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get("/catalog")
    assert titles(page) == [
        "SSO Deployment",
        "Admin Onboarding Bootcamp",
        "CRM Health Check",
        "New Module Rollout",
    ]
    assert b"$0.01" in page.data  # the catalog's price, not the $6,500 list price
    assert b"$6,500" not in page.data


def test_a_card_tells_kind_from_stage_when_they_share_a_name(client, tenant_a, shelf):
    sign_in(client, tenant_a.people[Role.BUYER])
    html = client.get("/catalog?kind=onboarding").data.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Kind Onboarding" in text
    assert "Stage Onboarding" in text
    assert 'class="badge badge-kind"' in html
    assert 'class="badge badge-stage"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=deployment", ["SSO Deployment"]),
        ("stage=onboarding", ["SSO Deployment", "Admin Onboarding Bootcamp"]),
        ("mode=classroom", ["Admin Onboarding Bootcamp"]),
        ("max_days=4", ["Admin Onboarding Bootcamp"]),
        ("min_price=4000&max_price=6000", ["CRM Health Check"]),
        ("kind=deployment&kind=expansion", ["SSO Deployment", "New Module Rollout"]),
        (
            "sort=price_desc",
            [
                "New Module Rollout",
                "CRM Health Check",
                "Admin Onboarding Bootcamp",
                "SSO Deployment",
            ],
        ),
        (
            "sort=duration",
            [
                "Admin Onboarding Bootcamp",
                "SSO Deployment",
                "CRM Health Check",
                "New Module Rollout",
            ],
        ),
    ],
)
def test_filters_and_sorting(client, tenant_a, shelf, query, expected):
    sign_in(client, tenant_a.people[Role.BUYER])
    assert titles(client.get(f"/catalog?{query}")) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("health", ["CRM Health Check"]),
        ("HEALTH check", ["CRM Health Check"]),
        ("heal", ["CRM Health Check"]),  # prefix
        ("licence", ["CRM Health Check"]),  # description
        ("identity provider", ["SSO Deployment"]),  # outcome
        ("hypercare", ["New Module Rollout"]),  # deliverables
        ("nothing-like-this", []),
    ],
)
def test_full_text_search_over_title_outcome_description_and_deliverables(
    client, tenant_a, shelf, words, expected
):
    sign_in(client, tenant_a.people[Role.BUYER])
    assert titles(client.get("/catalog", query_string={"q": words})) == expected


def test_search_sees_the_published_version_not_a_newer_draft(client, tenant_a, shelf, unscoped):
    ids, _ = shelf
    with unscoped():
        servlet = db.session.get(Servlet, ids["health"])
        content = factories.content(title="Renamed Zebra Review")
        servlets.save_draft(factories.actor(tenant_a), servlet, content)
    sign_in(client, tenant_a.people[Role.BUYER])
    assert titles(client.get("/catalog?q=zebra")) == []
    assert titles(client.get("/catalog?q=health")) == ["CRM Health Check"]


@pytest.mark.parametrize(
    "query",
    [
        'q="unbalanced',
        "q=NEAR(a b) OR -x*:^",
        "q=' ; DROP TABLE servlet; --",
        "q=%E2%80%AE%F0%9D%95%8C",
        "q=" + "a" * 500,
        "min_price=12.345&max_price=1e400",
        "min_price=NaN&max_price=-Infinity",
        "max_days=999999999999999999999999",
        "kind=bogus&stage=&mode=spaceship",
        "sort=hacker",
        "page=99999999999999999999",
        "page=-3",
        "catalog=abc",
    ],
)
def test_odd_filter_input_never_fails(client, tenant_a, shelf, query):
    sign_in(client, tenant_a.people[Role.BUYER])
    assert client.get(f"/catalog?{query}").status_code == 200


def test_pagination_splits_large_catalogs(client, tenant_a, unscoped):
    with unscoped():
        catalog_id = factories.catalog(tenant_a, [])
        factories.bulk_servlets(tenant_a, catalog_id, 30)
    sign_in(client, tenant_a.people[Role.BUYER])
    first, third = client.get("/catalog"), client.get("/catalog?page=3")
    assert len(titles(first)) == 12
    assert len(titles(third)) == 6
    assert b"30 servlets" in first.data


def test_the_servlet_page_reads_as_a_mini_sow(client, tenant_a, shelf):
    ids, catalog_id = shelf
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/catalog/servlets/{ids['health']}?catalog={catalog_id}")
    html = page.data.decode()
    order = [
        "Outcome:",
        "What we need from you",
        "In scope",
        "Out of scope",
        "Deliverables",
        "Constraints and assumptions",
    ]
    positions = [html.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "Starts within <strong>5</strong> business days" in html
    assert "$5,000.00" in html
    assert "billed prepaid" in html
    assert 'data-testid="order-button"' in html
    assert 'action="/cart/add"' in html


def test_a_viewer_browses_but_has_no_order_button(client, tenant_a, shelf):
    ids, _ = shelf
    sign_in(client, tenant_a.people[Role.VIEWER])
    page = client.get(f"/catalog/servlets/{ids['health']}")
    assert page.status_code == 200
    assert b'data-testid="order-button"' not in page.data
    assert client.post("/cart/add", data={"servlet_id": ids["health"]}).status_code == 403


def test_customers_cannot_open_draft_retired_unassigned_or_other_vendors_servlets(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        visible, _ = factories.shop(tenant_a)
        draft = factories.servlet(tenant_a, publish=False)
        retired = factories.servlet(tenant_a)
        unlisted = factories.servlet(tenant_a)
        in_draft_catalog = factories.servlet(tenant_a)
        factories.catalog(tenant_a, [in_draft_catalog], publish=False)
        other_customer = factories.servlet(tenant_a)
        factories.catalog(tenant_a, [other_customer], customer_ids=[])
        foreign, _ = factories.shop(tenant_b)
        for servlet_id in (draft, retired):
            factories.catalog(tenant_a, [servlet_id])
        servlets.retire_servlet(factories.actor(tenant_a), db.session.get(Servlet, retired))
    sign_in(client, tenant_a.people[Role.BUYER])
    assert client.get(f"/catalog/servlets/{visible}").status_code == 200
    for servlet_id in (draft, retired, unlisted, in_draft_catalog, other_customer, foreign):
        assert client.get(f"/catalog/servlets/{servlet_id}").status_code == 404
        client.post("/cart/add", data={"servlet_id": servlet_id})
    assert b'data-testid="empty-state"' in client.get("/cart").data
    listed = client.get("/catalog?q=health").data.decode()
    assert listed.count('data-testid="servlet-card"') == 1


def test_admin_servlet_list_searches_and_filters_by_status(client, tenant_a, unscoped):
    with unscoped():
        factories.servlet(tenant_a, title="SSO Deployment")
        factories.servlet(tenant_a, title="Draft Only", publish=False)
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert b"SSO Deployment" in client.get("/admin/servlets?q=sso").data
    assert b"Draft Only" not in client.get("/admin/servlets?q=sso").data
    drafts = client.get("/admin/servlets?status=draft").data
    assert b"Draft Only" in drafts
    assert b"SSO Deployment" not in drafts
