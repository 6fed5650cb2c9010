"""Entitlement credits: granted by admin or CSM, spent at checkout, given back when an order is
cancelled or rejected, shown to the customer with what is left and when it expires."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from accounts.models import Organization
from catalog.models import ServletKind
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import NotAllowed, NotFound, ServiceError
from core.extensions import db
from core.permissions import Role
from ordering import entitlements, orders
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
        orders.cancel_order(factories.actor(tenant_a), db.session.get(Order, order_id))
        use = db.session.scalar(select(EntitlementUse))
        assert use.returned_at is not None
    assert remaining(unscoped, entitlement_id) == 3
    with unscoped():  # cancelling again gives nothing back twice
        orders.cancel_order(None, db.session.get(Order, order_id), "again")
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
        orders.reject_order(
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


def grant_of(tenant, **change) -> entitlements.Grant:
    """A good grant of health-check credits; dates in ``change`` are days from today."""
    today = utcnow().date()
    fields = {
        "customer_id": tenant.customer_id,
        "servlet_id": None,
        "kind": ServletKind.HEALTH_CHECK,
        "quantity": 2,
        "valid_from": 0,
        "valid_until": 30,
        "note": "",
        **change,
    }
    for name in ("valid_from", "valid_until"):
        fields[name] = today + timedelta(days=fields[name])
    return entitlements.Grant(**fields)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": None}, "Choose either one servlet or a servlet kind the credits are for."),
        ({"servlet_id": 1}, "Choose either one servlet or a servlet kind the credits are for."),
        ({"quantity": 0}, "Credits: a whole number from 1 to 1,000."),
        ({"quantity": 1001}, "Credits: a whole number from 1 to 1,000."),
        ({"valid_from": 1, "valid_until": 0}, "Valid until: on or after the first valid day."),
        (
            {"valid_from": -9, "valid_until": -1},
            "Valid until: these credits would already have expired.",
        ),
        ({"note": "n" * 501}, "Note: at most 500 characters."),
    ],
)
def test_the_grant_service_itself_refuses_a_bad_grant_with_a_message(
    app, tenant_a, unscoped, change, message
):
    """The page's form checks first; the service holds for every other caller (API, CLI)."""
    with unscoped():
        with pytest.raises(ServiceError) as refused:
            entitlements.grant_entitlement(
                factories.actor(tenant_a, Role.CSM), grant_of(tenant_a, **change)
            )
        assert refused.value.message == message
        assert db.session.scalar(select(Entitlement)) is None


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": 1},
        {"quantity": 1000},
        {"valid_from": 0, "valid_until": 0},
        {"valid_from": -30, "valid_until": 0},
        {"note": "n" * 500},
    ],
)
def test_a_grant_at_each_limit_is_accepted(app, tenant_a, unscoped, change):
    with unscoped():
        granted = entitlements.grant_entitlement(
            factories.actor(tenant_a, Role.CSM), grant_of(tenant_a, **change)
        )
        assert db.session.get(Entitlement, granted.id).quantity == change.get("quantity", 2)


def test_credits_go_only_to_an_active_customer_and_for_a_servlet_that_exists(
    app, tenant_a, unscoped
):
    csm = factories.actor(tenant_a, Role.CSM)
    with unscoped():
        for not_a_customer in (tenant_a.vendor_id, tenant_a.partner_id, 999_999):
            with pytest.raises(NotFound, match=r"^That customer does not exist\.$"):
                entitlements.grant_entitlement(csm, grant_of(tenant_a, customer_id=not_a_customer))
        with pytest.raises(NotFound, match=r"^That servlet does not exist\.$"):
            entitlements.grant_entitlement(csm, grant_of(tenant_a, kind=None, servlet_id=999_999))
        db.session.get(Organization, tenant_a.neighbour_id).active = False
        db.session.commit()
        with pytest.raises(NotFound, match=r"^That customer does not exist\.$"):
            entitlements.grant_entitlement(
                csm, grant_of(tenant_a, customer_id=tenant_a.neighbour_id)
            )
        assert db.session.scalar(select(Entitlement)) is None


def test_a_grant_goes_to_the_customer_named_and_is_audited_with_what_was_granted(
    app, tenant_a, unscoped
):
    with unscoped():
        granted = entitlements.grant_entitlement(
            factories.actor(tenant_a, Role.CSM),
            grant_of(tenant_a, customer_id=tenant_a.neighbour_id, quantity=3, note=" Plan "),
        )
        entitlement = db.session.get(Entitlement, granted.id)
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "entitlement.granted")
        )
    assert (entitlement.customer_id, entitlement.note) == (tenant_a.neighbour_id, "Plan")
    assert (event.object_type, event.object_id) == ("entitlement", entitlement.id)
    assert event.changes == {
        "customer_id": tenant_a.neighbour_id,
        "servlet_id": None,
        "kind": "health_check",
        "quantity": 3,
        "valid_until": entitlement.valid_until.isoformat(),
    }


def test_spending_and_giving_back_credits_is_audited_per_entitlement(app, tenant_a, unscoped):
    with unscoped():
        soon = factories.credits(tenant_a, quantity=1, valid_until=utcnow().date())
        later = factories.credits(tenant_a, quantity=5)
        factories.cart_line(tenant_a, quantity=3)
        order_id = factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)
        orders.cancel_order(factories.actor(tenant_a), db.session.get(Order, order_id))
        events = db.session.execute(
            select(AuditEvent.action, AuditEvent.object_id, AuditEvent.changes)
            .where(AuditEvent.action.in_(["entitlement.spent", "entitlement.returned"]))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(event) for event in events] == [
        ("entitlement.spent", soon, {"order_id": order_id, "quantity": 1, "used": 1}),
        ("entitlement.spent", later, {"order_id": order_id, "quantity": 2, "used": 2}),
        ("entitlement.returned", soon, {"order_id": order_id, "quantity": 1, "used": 0}),
        ("entitlement.returned", later, {"order_id": order_id, "quantity": 2, "used": 0}),
    ]
    assert remaining(unscoped, soon) == 1
    assert remaining(unscoped, later) == 5


def test_each_customer_sees_its_own_credits_and_the_vendor_everyones_latest_expiry_first(
    client, tenant_a, unscoped
):
    csm = factories.actor(tenant_a, Role.CSM)

    def give(customer_id: int, days: int, note: str) -> int:
        grant = grant_of(tenant_a, customer_id=customer_id, valid_until=days, note=note)
        return entitlements.grant_entitlement(csm, grant).id

    with unscoped():
        late = give(tenant_a.customer_id, 100, "Late plan")
        also_late = give(tenant_a.customer_id, 100, "Second late plan")
        soon = give(tenant_a.customer_id, 10, "Soon plan")
        theirs = give(tenant_a.neighbour_id, 200, "Neighbour plan")
        ours = db.session.scalars(entitlements.entitlements_of(tenant_a.customer_id)).all()
        everyone = db.session.scalars(entitlements.entitlements_of()).all()
    assert [e.id for e in ours] == [also_late, late, soon]
    assert [e.id for e in everyone] == [theirs, also_late, late, soon]
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get("/credits").data.decode()
    assert "Soon plan" in page
    assert "Neighbour plan" not in page
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get("/entitlements").data.decode()
    assert "Soon plan" in page
    assert "Neighbour plan" in page


def test_credits_granted_for_one_servlet_are_for_that_servlet_and_audited_with_it(
    app, tenant_a, unscoped
):
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a)
        granted = entitlements.grant_entitlement(
            factories.actor(tenant_a, Role.ADMIN),
            grant_of(tenant_a, servlet_id=servlet_id, kind=None),
        )
        entitlement = db.session.get(Entitlement, granted.id)
        changes = db.session.scalar(
            select(AuditEvent.changes).where(AuditEvent.action == "entitlement.granted")
        )
    assert (entitlement.servlet_id, entitlement.kind) == (servlet_id, None)
    assert (changes["servlet_id"], changes["kind"]) == (servlet_id, None)


def test_a_line_is_paid_from_credits_partly_used_before_and_then_from_the_next_grant(
    app, tenant_a, unscoped
):
    with unscoped():
        soon = factories.credits(tenant_a, quantity=3, valid_until=utcnow().date())
        later = factories.credits(tenant_a, quantity=5)
        db.session.get(Entitlement, soon).used = 1
        db.session.commit()
        factories.cart_line(tenant_a, quantity=3)
        factories.place(tenant_a, route=PaymentRoute.ENTITLEMENT)
    assert (remaining(unscoped, soon), remaining(unscoped, later)) == (0, 4)
