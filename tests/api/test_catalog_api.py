"""Servlets and catalogs through the API reach exactly what the web app shows each role:
a customer its catalogs' servlets at its prices, vendor staff everything of their vendor,
partners nothing, another vendor's ids 404; and the lists page by cursor, stable under
inserts, filtered by change time."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy import update

from catalog import servlets as servlet_service
from catalog.models import Servlet, ServletVersion
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.api import answers, factories
from tests.catalog import factories as catalog_factories


def _walk(client, url: str, headers: dict) -> list[int]:
    seen: list[int] = []
    while url:
        answer = client.get(url, headers=headers)
        seen += answers.ids(answer)
        url = answer.json["next_cursor"] and answer.headers["Link"].split(">")[0][1:]
    return seen


def test_each_role_reads_the_servlets_the_web_app_shows_it(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        shown, catalog_id = catalog_factories.shop(tenant_a)
        priced = catalog_factories.servlet(tenant_a)
        catalog_factories.catalog(tenant_a, [priced], prices={priced: Money(99_00, "USD")})
        draft = catalog_factories.servlet(tenant_a, publish=False)
        retired = catalog_factories.servlet(tenant_a)
        catalog_factories.catalog(tenant_a, [retired])
        servlet_service.retire_servlet(
            catalog_factories.actor(tenant_a), db.session.get(Servlet, retired)
        )
        neighbours = catalog_factories.servlet(tenant_a)
        catalog_factories.catalog(tenant_a, [neighbours], customer_ids=[tenant_a.neighbour_id])
        elsewhere, _ = catalog_factories.shop(tenant_b)
        buyer = factories.personal(tenant_a.people[Role.VIEWER])
        csm = factories.personal(tenant_a.people[Role.CSM])
        partner = factories.personal(tenant_a.people[Role.PARTNER_MANAGER])

    assert answers.ids(client.get("/api/v1/servlets", headers=buyer.headers)) == [shown, priced]
    everything = [shown, priced, draft, retired, neighbours]
    assert answers.ids(client.get("/api/v1/servlets", headers=csm.headers)) == everything
    assert answers.ids(client.get("/api/v1/servlets", headers=partner.headers)) == []

    offered = client.get(f"/api/v1/servlets/{priced}", headers=buyer.headers).json
    assert offered["price"] == {"amount": 9900, "currency": "USD"}
    listed = client.get(f"/api/v1/servlets/{priced}", headers=csm.headers).json
    assert listed["price"] == {"amount": 500_000, "currency": "USD"}  # the list price
    assert listed["updated_at"].endswith("Z")
    assert client.get(f"/api/v1/servlets/{draft}", headers=csm.headers).json["status"] == "draft"
    for hidden in (draft, retired, neighbours, elsewhere):
        answer = client.get(f"/api/v1/servlets/{hidden}", headers=buyer.headers)
        assert answer.status_code == 404
        assert "outcome" not in answer.get_data(as_text=True)
    assert client.get(f"/api/v1/servlets/{elsewhere}", headers=csm.headers).status_code == 404
    assert client.get(f"/api/v1/catalogs/{catalog_id}", headers=partner.headers).status_code == 404


def test_catalogs_and_their_items_within_reach(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        first, catalog_id = catalog_factories.shop(tenant_a)
        second = catalog_factories.servlet(tenant_a)
        priced = catalog_factories.catalog(
            tenant_a, [second, first], prices={second: Money(250_00, "USD")}
        )
        unassigned = catalog_factories.catalog(tenant_a, [first], customer_ids=[])
        draft = catalog_factories.catalog(tenant_a, [first], publish=False)
        _, other_vendors = catalog_factories.shop(tenant_b)
        buyer = factories.personal(tenant_a.people[Role.BUYER])
        admin = factories.personal(tenant_a.people[Role.ADMIN])

    assert answers.ids(client.get("/api/v1/catalogs", headers=buyer.headers)) == [
        catalog_id,
        priced,
    ]
    all_of_them = [catalog_id, priced, unassigned, draft]
    assert answers.ids(client.get("/api/v1/catalogs", headers=admin.headers)) == all_of_them
    items = client.get(f"/api/v1/catalogs/{priced}/items", headers=buyer.headers).json["data"]
    assert [(i["servlet_id"], i["price"]["amount"]) for i in items] == [
        (second, 25_000),
        (first, 500_000),
    ]
    for hidden in (unassigned, draft, other_vendors):
        assert client.get(f"/api/v1/catalogs/{hidden}", headers=buyer.headers).status_code == 404
        url = f"/api/v1/catalogs/{hidden}/items"
        assert client.get(url, headers=buyer.headers).status_code == 404
    assert client.get(f"/api/v1/catalogs/{other_vendors}", headers=admin.headers).status_code == 404

    shown = client.get(f"/api/v1/catalogs/{priced}", headers=buyer.headers)
    assert shown.json["state"] == "published"
    etag = shown.headers["ETag"]
    again = client.get(
        f"/api/v1/catalogs/{priced}", headers={**buyer.headers, "If-None-Match": etag}
    )
    assert again.status_code == 304


def test_reading_needs_a_catalog_scope(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a)
        orders_only = factories.personal(tenant_a.people[Role.BUYER], ["read:orders"])
        writer = factories.personal(tenant_a.people[Role.BUYER], ["write:catalog"])
    for url in ("/api/v1/servlets", f"/api/v1/servlets/{servlet_id}", "/api/v1/catalogs"):
        refused = client.get(url, headers=orders_only.headers)
        assert refused.status_code == 403
        assert "data" not in refused.json
        assert "read:catalog" in refused.json["detail"]
        assert client.get(url, headers=writer.headers).status_code == 200  # write includes read


def test_a_walk_by_cursor_is_stable_under_inserts(client, tenant_a, unscoped):
    with unscoped():
        _, catalog_id = catalog_factories.shop(tenant_a)
        catalog_factories.bulk_servlets(tenant_a, catalog_id, 6)
        buyer = factories.personal(tenant_a.people[Role.BUYER])
    before = _walk(client, "/api/v1/servlets?limit=100", buyer.headers)
    assert len(before) == 7

    first = client.get("/api/v1/servlets?limit=3", headers=buyer.headers)
    assert answers.ids(first) == before[:3]
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"')
    next_url = link[1 : link.index(">")]
    assert parse_qs(urlsplit(next_url).query)["cursor"] == [first.json["next_cursor"]]
    with unscoped():
        catalog_factories.bulk_servlets(tenant_a, catalog_id, 2)  # arrive mid-walk
    rest = _walk(client, next_url, buyer.headers)

    assert before[:3] + rest[: len(before) - 3] == before
    assert len(rest) == len(before) - 3 + 2
    assert len(set(before[:3] + rest)) == 9
    last = client.get("/api/v1/servlets?limit=100", headers=buyer.headers)
    assert last.json["next_cursor"] is None
    assert "Link" not in last.headers


def test_a_bad_cursor_or_limit_is_a_problem(client, tenant_a, unscoped):
    with unscoped():
        buyer = factories.personal(tenant_a.people[Role.BUYER])
    for query in ("cursor=bm9wZQ", "cursor=%%%", "cursor=WyJ4Il0", "cursor=" + "A" * 300):
        answer = client.get(f"/api/v1/servlets?{query}", headers=buyer.headers)
        assert answer.status_code in (400, 422), query
        assert answer.mimetype == "application/problem+json"
        assert answer.json["errors"][0]["parameter"] == "cursor"
    for limit in ("0", "101", "ten", "1e3"):
        answer = client.get(f"/api/v1/servlets?limit={limit}", headers=buyer.headers)
        assert answer.status_code == 422
        assert answer.json["errors"][0]["parameter"] == "limit"


def test_updated_since_keeps_what_changed_at_or_after_the_time(client, tenant_a, unscoped):
    with unscoped():
        old, _ = catalog_factories.shop(tenant_a)
        fresh = catalog_factories.servlet(tenant_a)
        catalog_factories.catalog(tenant_a, [fresh])
        long_ago = utcnow() - timedelta(days=30)
        db.session.execute(update(Servlet).where(Servlet.id == old).values(created_at=long_ago))
        db.session.execute(
            update(ServletVersion)
            .where(ServletVersion.servlet_id == old)
            .values(created_at=long_ago, published_at=long_ago)
        )
        db.session.commit()
        buyer = factories.personal(tenant_a.people[Role.BUYER])
    since = (utcnow() - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    assert answers.ids(
        client.get(f"/api/v1/servlets?updated_since={since}", headers=buyer.headers)
    ) == [fresh]
    offset = quote((utcnow() - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S+02:00"))
    assert answers.ids(
        client.get(f"/api/v1/servlets?updated_since={offset}", headers=buyer.headers)
    ) == [
        old,
        fresh,
    ]
    for bad in ("yesterday", "2026-12-01", "2026-12-01T10:00:00", "99999-01-01T00:00:00Z"):
        answer = client.get(f"/api/v1/servlets?updated_since={bad}", headers=buyer.headers)
        assert answer.status_code == 422, bad
        assert answer.json["errors"][0]["parameter"] == "updated_since"
