"""Entitlement credits: granted by admin or CSM, spent at checkout, given back when an order is
cancelled or rejected, shown to the customer with what is left and when it expires."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from catalog.models import ServletKind
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Role
from ordering import entitlements, services
from ordering.models import Entitlement, EntitlementUse, Order, OrderState, PaymentRoute
from tests.conftest import sign_in
from tests.ordering import factories


def remaining(unscoped, entitlement_id: int) -> int:
    with unscoped():
        return db.session.get(Entitlement, entitlement_id).remaining


def test_a_csm_grants_credits_through_the_page(client, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a)
    sign_in(client, tenant_a.people[Role.CSM])
    assert b'data-testid="empty-state"' in client.get("/entitlements").data
    today = utcnow().date()
    response = client.post(
        "/entitlements",
        data={
            "customer_id": tenant_a.customer_id,
            "target": f"servlet:{servlet_id}",
            "quantity": "2",
            "valid_from": today.isoformat(),
            "valid_until": (today + timedelta(days=365)).isoformat(),
            "note": "Premier plan: 2 health checks a year",
        },
    )
    assert response.status_code == 302
    assert "Premier plan" in client.get("/entitlements").data.decode()
    sign_in(client, tenant_a.people[Role.VIEWER])
    credits = client.get("/credits").data.decode()
    assert "Premier plan" in credits
    assert 'data-testid="remaining"><strong>2</strong>' in credits


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": "0"}, "From 1 to 1,000"),
        ({"valid_until": "2001-01-01"}, "on or after the first valid day"),
        ({"valid_from": "2000-01-01", "valid_until": "2001-01-01"}, "already have expired"),
        ({"target": "servlet:999999"}, "Not a valid choice"),
        ({"target": "kind:nonsense"}, "Not a valid choice"),
    ],
)
def test_bad_grants_are_refused_with_a_message(client, tenant_a, unscoped, change, message):
    sign_in(client, tenant_a.people[Role.ADMIN])
    today = utcnow().date()
    data = {
        "customer_id": tenant_a.customer_id,
        "target": "kind:health_check",
        "quantity": "2",
        "valid_from": (today - timedelta(days=400)).isoformat(),
        "valid_until": (today + timedelta(days=30)).isoformat(),
        **change,
    }
    response = client.post("/entitlements", data=data)
    assert message in response.data.decode()
    with unscoped():
        assert db.session.scalar(select(Entitlement)) is None


def test_only_admins_and_csms_grant(app, tenant_a, unscoped):
    with unscoped():
        grant = entitlements.Grant(
            tenant_a.customer_id,
            None,
            ServletKind.TRAINING,
            1,
            utcnow().date(),
            utcnow().date(),
        )
        for role in (Role.FINANCE, Role.BUYER, Role.DELIVERY_MANAGER):
            with pytest.raises(NotAllowed):
                entitlements.grant_entitlement(factories.actor(tenant_a, role), grant)


def test_checkout_spends_credits_and_cancelling_gives_them_back(app, tenant_a, unscoped):
    with unscoped():
        entitlement_id = factories.credits(tenant_a, quantity=3)  # any health check
        factories.cart_line(tenant_a, quantity=2)
        order_id = factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)
        order = db.session.get(Order, order_id)
        assert order.state == OrderState.CONFIRMED
        assert order.payment_route == PaymentRoute.ENTITLEMENT
    assert remaining(unscoped, entitlement_id) == 1
    with unscoped():
        services.cancel_order(factories.actor(tenant_a), db.session.get(Order, order_id))
        use = db.session.scalar(select(EntitlementUse))
        assert use.returned_at is not None
    assert remaining(unscoped, entitlement_id) == 3
    with unscoped():  # cancelling again gives nothing back twice
        services.cancel_order(None, db.session.get(Order, order_id), "again")
    assert remaining(unscoped, entitlement_id) == 3


def test_credits_run_out_with_a_clear_message_and_nothing_is_spent(app, tenant_a, unscoped):
    with unscoped():
        entitlement_id = factories.credits(tenant_a, quantity=1)
        factories.cart_line(tenant_a, quantity=2)
        with pytest.raises(ServiceError, match=r"Not enough credits .* 2 needed, 1 left"):
            factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)
        db.session.rollback()
        assert db.session.scalar(select(Order)) is None
    assert remaining(unscoped, entitlement_id) == 1


def test_expired_or_unmatched_credits_cannot_be_spent(app, tenant_a, unscoped):
    with unscoped():
        factories.credits(tenant_a, kind=ServletKind.TRAINING)  # not a health check
        factories.cart_line(tenant_a)
        with pytest.raises(ServiceError, match="Not enough credits"):
            factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)
        db.session.rollback()
        for entitlement in db.session.scalars(select(Entitlement)):
            entitlement.valid_until = entitlement.valid_from = utcnow().date() - timedelta(days=9)
        db.session.commit()
        with pytest.raises(ServiceError, match="not available"):
            factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)


def test_a_rejected_order_gives_its_credits_back(app, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        entitlement_id = factories.credits(tenant_a, quantity=1)
        factories.cart_line(tenant_a)
        order_id = factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)
        assert db.session.get(Order, order_id).state == OrderState.AWAITING_APPROVAL
    assert remaining(unscoped, entitlement_id) == 0
    with unscoped():
        services.reject_order(
            factories.actor(tenant_a, Role.APPROVER), db.session.get(Order, order_id), "No"
        )
    assert remaining(unscoped, entitlement_id) == 1


def test_the_credit_route_is_offered_only_with_credits(client, tenant_a, unscoped):
    with unscoped():
        factories.cart_line(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    assert 'value="entitlement"' not in client.get("/checkout").data.decode()
    with unscoped():
        factories.credits(tenant_a)
    assert 'value="entitlement"' in client.get("/checkout").data.decode()


@pytest.mark.parametrize(
    ("today", "until"),
    [
        (date(2028, 2, 29), date(2029, 2, 28)),
        (date(2027, 2, 28), date(2028, 2, 28)),
        (date(2026, 12, 1), date(2027, 12, 1)),
    ],
)
def test_a_grant_offers_a_year_of_validity_even_from_29_february(today, until):
    assert entitlements.default_validity(today) == (today, until)
