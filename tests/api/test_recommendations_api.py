"""Recommendations through the API: made by the vendor's admin and CSMs through the web's
service (the customer's buyers are told), read by vendor staff and by the customer they were
made to, refused field by field when the body is wrong."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from catalog import recommendations
from catalog.models import Recommendation
from core.db import utcnow
from core.extensions import db
from core.notifications import Notification
from core.permissions import Role
from tests.api import answers, factories
from tests.catalog import factories as catalog_factories

WRITE = ("write:catalog",)
READ = ("read:catalog",)


def _count() -> int:
    return db.session.scalar(select(func.count(Recommendation.id)))


def test_a_csm_recommends_and_the_customers_buyers_read_it(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a)
        csm = factories.personal(tenant_a.people[Role.CSM], WRITE)
        buyer = factories.personal(tenant_a.people[Role.BUYER], READ)
        told_before = db.session.scalar(select(func.count(Notification.id)))
    expires = (utcnow() + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    body = {
        "customer_id": tenant_a.customer_id,
        "servlet_id": servlet_id,
        "reason": "Your active users dropped by a third.",
        "expires_at": expires,
    }

    made = client.post("/api/v1/recommendations", json=body, headers=csm.headers)

    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.json["state"] == "proposed"
    assert made.json["recommended_by_id"] == tenant_a.people[Role.CSM].user_id
    assert made.json["title"].startswith("Health Check")
    assert made.json["expires_at"].endswith("Z")
    url = f"/api/v1/recommendations/{made.json['id']}"
    assert made.headers["Location"].endswith(url)
    shown = client.get(url, headers=buyer.headers)
    assert shown.json == made.json
    assert shown.json["viewed_at"] is None  # reading through the API is not viewing it
    again = client.get(url, headers={**buyer.headers, "If-None-Match": shown.headers["ETag"]})
    assert again.status_code == 304
    with unscoped():
        assert db.session.scalar(select(func.count(Notification.id))) > told_before


def test_each_role_reads_the_recommendations_within_its_reach(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a)
        own = catalog_factories.recommendation(tenant_a, servlet_id)
        neighbours = catalog_factories.servlet(tenant_a)
        catalog_factories.catalog(tenant_a, [neighbours], customer_ids=[tenant_a.neighbour_id])
        theirs = _recommend(tenant_a, neighbours, tenant_a.neighbour_id)
        elsewhere_servlet, _ = catalog_factories.shop(tenant_b)
        elsewhere = catalog_factories.recommendation(tenant_b, elsewhere_servlet)
        tokens = {
            role: factories.personal(tenant_a.people[role], READ)
            for role in (
                Role.BUYER,
                Role.VIEWER,
                Role.CSM,
                Role.ADMIN,
                Role.FINANCE,
                Role.PARTNER_MANAGER,
            )
        }
    expected = {
        Role.BUYER: [own],
        Role.VIEWER: [own],
        Role.CSM: [own, theirs],
        Role.ADMIN: [own, theirs],
        Role.FINANCE: [own, theirs],
        Role.PARTNER_MANAGER: [],
    }
    for role, ids in expected.items():
        headers = tokens[role].headers
        listed = client.get("/api/v1/recommendations", headers=headers)
        assert [r["id"] for r in listed.json["data"]] == ids, role
        for recommendation_id in (own, theirs, elsewhere):
            shown = client.get(f"/api/v1/recommendations/{recommendation_id}", headers=headers)
            assert shown.status_code == (200 if recommendation_id in ids else 404), role
    csm = tokens[Role.CSM].headers
    proposed = client.get("/api/v1/recommendations?state=proposed&limit=1", headers=csm)
    assert [r["id"] for r in proposed.json["data"]] == [own]
    assert proposed.json["next_cursor"] is not None
    later = (utcnow() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    none = client.get(f"/api/v1/recommendations?updated_since={later}", headers=csm)
    assert none.json["data"] == []


def _recommend(tenant, servlet_id: int, customer_id: int) -> int:
    """A recommendation to ``customer_id`` (the factory's goes to the first customer)."""
    return recommendations.recommend(
        catalog_factories.actor(tenant, Role.CSM), servlet_id, customer_id, "Try it."
    ).id


def test_only_the_vendors_admin_and_csms_recommend(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a)
        refused = [
            factories.personal(tenant_a.people[role], WRITE)
            for role in (Role.BUYER, Role.APPROVER, Role.FINANCE, Role.PARTNER_MANAGER)
        ]
        read_only = factories.personal(tenant_a.people[Role.CSM], READ)
        admin = factories.personal(tenant_a.people[Role.ADMIN], WRITE)
        before = _count()
    body = {"customer_id": tenant_a.customer_id, "servlet_id": servlet_id, "reason": "Why."}
    for made in refused:
        answer = client.post("/api/v1/recommendations", json=body, headers=made.headers)
        assert answer.status_code == 403, answer.get_data(as_text=True)
    scoped_out = client.post("/api/v1/recommendations", json=body, headers=read_only.headers)
    assert scoped_out.status_code == 403
    assert "write:catalog" in scoped_out.json["detail"]
    with unscoped():
        assert _count() == before
    assert (
        client.post("/api/v1/recommendations", json=body, headers=admin.headers).status_code == 201
    )


def test_refused_bodies_point_at_the_fields(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a)
        draft = catalog_factories.servlet(tenant_a, publish=False)
        unassigned = catalog_factories.servlet(tenant_a)
        catalog_factories.catalog(tenant_a, [unassigned], customer_ids=[])
        elsewhere, _ = catalog_factories.shop(tenant_b)
        csm = factories.personal(tenant_a.people[Role.CSM], WRITE)
        before = _count()
    good = {"customer_id": tenant_a.customer_id, "servlet_id": servlet_id, "reason": "Why."}

    def post(**changes):
        body = {**good, **changes}
        return client.post("/api/v1/recommendations", json=body, headers=csm.headers)

    for customer_id in (tenant_b.customer_id, tenant_a.partner_id, tenant_a.vendor_id, 999_999):
        assert answers.pointers(post(customer_id=customer_id)) == {
            "#/customer_id": "That customer does not exist."
        }
    for servlet_id in (draft, elsewhere, 999_999):
        assert "#/servlet_id" in answers.pointers(post(servlet_id=servlet_id))
    assert "cannot see this servlet" in post(servlet_id=unassigned).json["detail"]
    assert "#/reason" in answers.pointers(post(reason=""))
    assert "#/reason" in answers.pointers(post(reason="x" * 2001))
    assert "#/reason" in answers.pointers(post(reason=["Why."]))
    assert "#/customer_id" in answers.pointers(post(customer_id="2"))
    assert "#/servlet_id" in answers.pointers(post(servlet_id=2**70))
    assert "#/expires_at" in answers.pointers(post(expires_at="next week"))
    past = post(expires_at=(utcnow() - timedelta(days=1)).isoformat())
    assert past.status_code == 422
    assert "in the future" in past.json["detail"]
    assert "#/priority" in answers.pointers(post(priority="high"))
    with unscoped():
        assert _count() == before


def test_an_api_order_of_a_recommended_servlet_closes_it_as_ordered(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a, intake_questions=[])
        made = catalog_factories.recommendation(tenant_a, servlet_id)
        buyer = factories.personal(tenant_a.people[Role.BUYER], ("write:orders", *READ))
    body = {
        "lines": [{"servlet_id": servlet_id, "quantity": 1}],
        "payment_route": "invoice",
        "terms_version": "1",
    }

    placed = client.post("/api/v1/orders", json=body, headers=buyer.headers)

    assert placed.status_code == 201, placed.get_data(as_text=True)
    shown = client.get(f"/api/v1/recommendations/{made}", headers=buyer.headers).json
    assert shown["state"] == "ordered"
    assert shown["closed_at"] is not None
