"""The money path, one check at a time: what Stripe reports must be exactly what is owed,
a redelivered event is known as one without asking Stripe again, and every amount a person
types is stored to the cent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from catalog.content import MAX_PRICE_UNITS
from catalog.models import ServletVersion
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import Role
from ordering.payment_models import CardPayment
from tests.catalog.test_authoring import form_data
from tests.conftest import sign_in
from tests.ordering import card_orders
from tests.ordering.card_orders import deliver, snapshot


@pytest.fixture
def app_config(stripe_fake):
    return stripe_fake.app_config


@pytest.fixture
def card_order(tenant_a, unscoped):
    with unscoped():
        return card_orders.awaiting_payment(tenant_a)


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        pytest.param({"amount_total": -1}, "$4,999.99", id="one-cent-short"),
        pytest.param({"amount_total": +1}, "$5,000.01", id="one-cent-over"),
        pytest.param({"currency": "eur"}, "€5,000.00", id="other-currency"),
    ],
)
def test_a_payment_that_is_not_exactly_what_is_owed_confirms_nothing_and_is_flagged(
    client, stripe_fake, card_order, tenant_a, unscoped, change, shown
):
    session = stripe_fake.sessions[card_order.session_id]
    if "amount_total" in change:
        session["amount_total"] += change["amount_total"]
    else:
        session.update(change)
    stripe_fake.pay(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        after = snapshot(card_order.order_id)
        flagged = db.session.scalar(
            select(func.count()).where(AuditEvent.action == "card_payment.amount_mismatch")
        )
    assert after.order_state == "awaiting_payment"
    assert after.payments == ((1, "open", 0, False),)
    assert (after.engagements, after.confirmation_emails) == (0, 0)
    assert flagged == 1
    sign_in(client, tenant_a.people[Role.FINANCE])
    page = client.get(f"/orders/{card_order.order_id}").data.decode()
    assert f"Stripe reported {shown} paid for $5,000.00 owed; not applied." in page


def test_a_mismatch_is_audited_with_what_was_paid_and_what_is_owed(
    client, stripe_fake, card_order, tenant_a, unscoped
):
    """Even a report Stripe sends without a currency is flagged, shown as an unknown amount."""
    stripe_fake.pay(card_order.session_id)
    del stripe_fake.sessions[card_order.session_id]["currency"]
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "awaiting_payment"
        payment = db.session.scalar(select(CardPayment))
        flagged = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "card_payment.amount_mismatch")
        )
    assert payment.problem == (
        "Stripe reported ? paid for $5,000.00 owed; not applied. "
        "Check this payment in Stripe and refund it there."
    )
    assert (flagged.object_type, flagged.object_id) == ("card_payment", payment.id)
    assert flagged.changes == {"paid": [500_000, ""], "owed": [500_000, "USD"]}


def test_a_redelivered_event_is_answered_as_a_duplicate_without_asking_stripe_again(
    client, stripe_fake, card_order, unscoped, run_jobs
):
    stripe_fake.pay(card_order.session_id)
    body, headers = stripe_fake.event("checkout.session.completed", card_order.session_id)
    post = lambda: client.post(  # noqa: E731
        "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
    )
    assert post().json == {"status": "queued"}
    run_jobs()
    reads = len([r for r in stripe_fake.requests if r.method == "GET"])
    assert reads > 0
    assert post().json == {"status": "duplicate"}
    run_jobs()
    assert len([r for r in stripe_fake.requests if r.method == "GET"]) == reads
    with unscoped():
        assert db.session.scalar(select(CardPayment.state)).value == "paid"


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("0.29", 29),
        ("19.99", 1_999),
        ("1,000.10", 100_010),
        ("10,000,000.01", None),  # past the largest price: refused, never rounded
        (f"{MAX_PRICE_UNITS:,}.00", MAX_PRICE_UNITS * 100),
        (f"{MAX_PRICE_UNITS - 1:,}.99", MAX_PRICE_UNITS * 100 - 1),
    ],
)
def test_every_price_a_person_types_is_stored_to_the_cent(client, tenant_a, unscoped, typed, minor):
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.post("/admin/servlets/new", data=form_data(price=typed))
    with unscoped():
        stored = db.session.scalars(select(ServletVersion.price_minor)).all()
    assert stored == ([minor] if minor is not None else [])


@pytest.mark.parametrize(
    ("typed", "minor"),
    [("0.29", 29), ("19.99", 1_999), ("1,000.10", 100_010), ("2,500.50", 250_050)],
)
def test_an_approval_threshold_is_stored_to_the_cent(client, tenant_a, unscoped, typed, minor):
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.post(
        f"/admin/organizations/{tenant_a.customer_id}",
        data={"name": "Acme Software Customer", "approval_threshold": typed},
    )
    with unscoped():
        threshold = db.session.get(Organization, tenant_a.customer_id).approval_threshold_minor
    assert threshold == minor
