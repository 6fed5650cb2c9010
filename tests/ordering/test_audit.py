"""Every state change of the ordering and delivery areas leaves an audit event; a recommendation
that led to an order becomes ``ordered`` when the order is confirmed (not before)."""

from __future__ import annotations

from sqlalchemy import select

from catalog.models import Recommendation, RecommendationState
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import Role
from ordering import orders
from ordering.models import CartLine, Order, PaymentRoute
from tests.catalog import factories as catalog_factories
from tests.conftest import sign_in
from tests.ordering import factories


def actions(unscoped) -> list[str]:
    with unscoped():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_cart_changes_through_the_pages_are_audited(client, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a, title="Admin Bootcamp")
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post("/cart/add", data={"servlet_id": servlet_id, "quantity": 2})
    client.post("/cart/add", data={"servlet_id": servlet_id, "quantity": 1})
    with unscoped():
        line_id = db.session.scalar(select(CartLine.id))
        assert db.session.get(CartLine, line_id).quantity == 3
    client.post(f"/cart/lines/{line_id}", data={"quantity": 5})
    assert 'value="5"' in client.get("/cart").data.decode()
    client.post(f"/cart/lines/{line_id}/remove")
    assert b'data-testid="empty-state"' in client.get("/cart").data
    assert actions(unscoped)[-4:] == [
        "cart.added",
        "cart.added",
        "cart.quantity_changed",
        "cart.removed",
    ]


def test_order_entitlement_and_engagement_changes_are_audited(app, tenant_a, unscoped):
    with unscoped():
        factories.credits(tenant_a, quantity=1)
        factories.cart_line(tenant_a)
        order_id = factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)
        orders.cancel_order(factories.actor(tenant_a), db.session.get(Order, order_id), "")
        factories.set_threshold(tenant_a, 0)
        waiting = factories.order(tenant_a)
        orders.approve_order(
            factories.actor(tenant_a, Role.APPROVER), db.session.get(Order, waiting)
        )
        orders.complete_order(db.session.get(Order, waiting))
    recorded = actions(unscoped)
    for action in (
        "entitlement.granted",
        "entitlement.spent",
        "entitlement.returned",
        "order.placed",
        "order.confirmed",
        "order.cancelled",
        "order.approved",
        "order.completed",
        "engagement.requested",
        "engagement.cancelled",
    ):
        assert action in recorded, action
    with unscoped():
        placed = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "order.placed").limit(1)
        )
        assert placed.vendor_id == tenant_a.vendor_id
        assert placed.changes["payment_route"] == "entitlement"


def test_a_recommended_servlet_ordered_closes_the_recommendation_at_confirmation(
    client, tenant_a, unscoped
):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        servlet_id = factories.offered_servlet(tenant_a)
        recommendation_id = catalog_factories.recommendation(tenant_a, servlet_id)
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post("/cart/add", data={"servlet_id": servlet_id})
    with unscoped():
        order_id = factories.place(tenant_a)
        assert db.session.get(Recommendation, recommendation_id).state != (
            RecommendationState.ORDERED
        )
        orders.approve_order(
            factories.actor(tenant_a, Role.APPROVER), db.session.get(Order, order_id)
        )
        assert db.session.get(Recommendation, recommendation_id).state == (
            RecommendationState.ORDERED
        )
    assert "recommendation.ordered" in actions(unscoped)
