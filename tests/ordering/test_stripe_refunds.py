"""Refunds of card payments: from the order page through the Refunds API, reflected by the
charge.refunded webhook; cancelling a paid card order refunds it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import AuditEvent
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import Role
from core.queue import QueuedJob
from delivery.models import Engagement, EngagementState
from ordering import payments
from ordering.models import Order
from ordering.payment_models import CardPayment
from tests.conftest import sign_in
from tests.ordering import card_orders, factories
from tests.ordering.card_orders import deliver, snapshot


@pytest.fixture
def app_config(stripe_fake):
    return stripe_fake.app_config


@pytest.fixture
def paid(client, stripe_fake, tenant_a, unscoped):
    """A card order paid and confirmed through the webhook."""
    with unscoped():
        card_order = card_orders.awaiting_payment(tenant_a)
    stripe_fake.pay(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    return card_order


def payment_of(unscoped, order_id: int) -> CardPayment:
    with unscoped():
        payment = db.session.scalar(select(CardPayment).where(CardPayment.order_id == order_id))
        db.session.expunge(payment)
        return payment


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE])
def test_the_vendor_refunds_a_card_payment_and_the_webhook_records_it(
    client, stripe_fake, tenant_a, unscoped, paid, role, run_jobs
):
    sign_in(client, tenant_a.people[role])
    page = client.get(f"/orders/{paid.order_id}").data.decode()
    assert 'data-testid="refund-form"' in page
    response = client.post(
        f"/orders/{paid.order_id}/refund", data={"reason": "Goodwill"}, follow_redirects=True
    )
    assert "Refund of" in response.data.decode()
    assert stripe_fake.refunds == {}  # the request only queued the call
    run_jobs()
    (refund_request,) = [p for p in stripe_fake.posts() if p.path == "/v1/refunds"]
    payment = payment_of(unscoped, paid.order_id)
    assert refund_request.headers["idempotency-key"] == f"card-payment-{payment.id}-refund"
    assert refund_request.params["payment_intent"] == payment.payment_intent_id
    assert payment.refund_id is not None
    assert payment.refunded_minor == 0
    charge = stripe_fake.charge_of(paid.session_id)
    for _ in range(2):
        assert deliver(client, stripe_fake, "charge.refunded", charge).status_code == 200
    payment = payment_of(unscoped, paid.order_id)
    assert payment.refunded_minor == payment.amount_minor
    with unscoped():
        assert snapshot(paid.order_id).order_state == "confirmed"  # refund is money only
        emails = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.subject == f"Refund for order {paid.reference}")
        ).all()
    assert len(emails) == 1
    assert emails[0].recipient == tenant_a.people[Role.BUYER].email
    assert 'data-testid="refund-form"' not in client.get(f"/orders/{paid.order_id}").data.decode()


def test_a_second_refund_is_refused_and_stripe_is_asked_once(
    client, stripe_fake, tenant_a, unscoped, paid, run_jobs
):
    sign_in(client, tenant_a.people[Role.FINANCE])
    client.post(f"/orders/{paid.order_id}/refund", data={"reason": "Goodwill"})
    response = client.post(
        f"/orders/{paid.order_id}/refund", data={"reason": "Again"}, follow_redirects=True
    )
    assert "no card payment left to refund" in response.data.decode()
    run_jobs()
    run_jobs()
    assert len(stripe_fake.refunds) == 1


@pytest.mark.parametrize("reason", ["", "x" * 1001])
def test_a_refund_needs_a_reason(client, stripe_fake, tenant_a, unscoped, paid, reason):
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.post(f"/orders/{paid.order_id}/refund", data={"reason": reason})
    assert stripe_fake.refunds == {}


@pytest.mark.parametrize("role", [Role.CSM, Role.DELIVERY_MANAGER, Role.BUYER, Role.APPROVER])
def test_only_admin_and_finance_refund(client, stripe_fake, tenant_a, unscoped, paid, role):
    sign_in(client, tenant_a.people[role])
    assert 'data-testid="refund-form"' not in client.get(f"/orders/{paid.order_id}").data.decode()
    response = client.post(f"/orders/{paid.order_id}/refund", data={"reason": "Mine"})
    assert response.status_code == 404
    assert stripe_fake.refunds == {}


def test_cancelling_a_paid_card_order_refunds_it(
    client, stripe_fake, tenant_a, unscoped, paid, run_jobs
):
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.post(f"/orders/{paid.order_id}/cancel", data={"reason": "Customer changed plans"})
    run_jobs()
    with unscoped():
        after = snapshot(paid.order_id)
        engagements = db.session.scalars(select(Engagement.state)).all()
    assert after.order_state == "cancelled"
    assert after.payments == ((1, "paid", 0, True),)
    assert set(engagements) == {EngagementState.CANCELLED}
    assert len(stripe_fake.refunds) == 1
    deliver(client, stripe_fake, "charge.refunded", stripe_fake.charge_of(paid.session_id))
    payment = payment_of(unscoped, paid.order_id)
    assert payment.refunded_minor == payment.amount_minor


def test_with_stripe_unreachable_a_cancellation_holds_and_its_refund_goes_out_later(
    client, stripe_fake, tenant_a, unscoped, paid, run_jobs
):
    stripe_fake.down = True
    sign_in(client, tenant_a.people[Role.BUYER])
    response = client.post(f"/orders/{paid.order_id}/cancel", data={}, follow_redirects=True)
    assert response.status_code == 200
    run_jobs()
    with unscoped():
        assert snapshot(paid.order_id).order_state == "cancelled"
        job = db.session.scalar(select(QueuedJob).where(QueuedJob.kind == "card_payment.refund"))
        assert (job.done_at, job.attempts) == (None, 1)
        assert job.last_error
        job.due_at = utcnow()
        db.session.commit()
    assert stripe_fake.refunds == {}
    stripe_fake.down = False
    run_jobs()
    assert len(stripe_fake.refunds) == 1
    assert payment_of(unscoped, paid.order_id).refund_id is not None


def test_cancelling_an_unpaid_card_order_closes_its_session(
    client, stripe_fake, tenant_a, unscoped, run_jobs
):
    with unscoped():
        card_order = card_orders.awaiting_payment(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post(f"/orders/{card_order.order_id}/cancel", data={})
    run_jobs()
    assert stripe_fake.sessions[card_order.session_id]["status"] == "expired"
    assert stripe_fake.refunds == {}
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "cancelled"
        expiry = db.session.scalar(select(QueuedJob).where(QueuedJob.kind == "card_payment.expire"))
        assert expiry.vendor_id == tenant_a.vendor_id  # the job runs in its vendor's scope


def test_a_refund_made_in_the_stripe_dashboard_is_recorded(
    client, stripe_fake, tenant_a, unscoped, paid
):
    charge = stripe_fake.charge_of(paid.session_id)
    stripe_fake.refund_in_dashboard(charge, 1_000)
    deliver(client, stripe_fake, "charge.refunded", charge)
    assert payment_of(unscoped, paid.order_id).refunded_minor == 1_000
    stripe_fake.refund_in_dashboard(charge)  # the rest
    deliver(client, stripe_fake, "charge.refunded", charge)
    payment = payment_of(unscoped, paid.order_id)
    assert payment.refunded_minor == payment.amount_minor
    assert payment.refunded_at is not None
    with unscoped():
        recorded = db.session.scalars(
            select(AuditEvent.changes)
            .where(AuditEvent.action == "card_payment.refunded")
            .order_by(AuditEvent.id)
        ).all()
        told = db.session.scalars(
            select(OutboxEmail.body)
            .where(OutboxEmail.subject == f"Refund for order {paid.reference}")
            .order_by(OutboxEmail.id)
        ).all()
    assert recorded == [
        {"refunded_minor": [0, 1_000], "charge": charge},
        {"refunded_minor": [1_000, 500_000], "charge": charge},
    ]
    assert [body.split("\n")[0] for body in told] == [
        f"We refunded $10.00 of your card payment for order {paid.reference}.",
        f"We refunded $4,990.00 of your card payment for order {paid.reference}.",
    ]


def test_a_refund_of_a_charge_that_is_not_ours_changes_nothing(
    client, stripe_fake, tenant_a, unscoped, paid
):
    foreign = stripe_fake.add_session({"order_id": "999999"}, 5_000)
    charge = stripe_fake.pay(foreign)
    stripe_fake.refund_in_dashboard(charge)
    response = deliver(client, stripe_fake, "charge.refunded", charge)
    assert response.status_code == 200
    assert card_orders.last_outcome(unscoped).startswith("ignored")
    assert payment_of(unscoped, paid.order_id).refunded_minor == 0


def test_the_refund_service_itself_refuses_without_a_reason_or_the_right_and_says_why(
    tenant_a, unscoped, paid
):
    """The page's form checks first; the service holds for every other caller."""
    admin = factories.actor(tenant_a, Role.ADMIN)
    with unscoped():
        order = db.session.get(Order, paid.order_id)
        for reason, message in [
            (None, "Reason: say why the payment is refunded."),
            ("  ", "Reason: say why the payment is refunded."),
            ("r" * 1001, "Reason: at most 1,000 characters."),
        ]:
            with pytest.raises(ServiceError) as refused:
                payments.refund_card_payment(admin, order, reason)
            assert refused.value.message == message
        with pytest.raises(NotAllowed) as refused:
            payments.refund_card_payment(factories.actor(tenant_a, Role.CSM), order, "Mine")
        assert refused.value.message == "You do not have permission to do that."
        payment = payments.refund_card_payment(admin, order, "r" * 1000)
        assert payment.refund_reason == "r" * 1000
        assert payment.refund_requested_by_id == tenant_a.people[Role.ADMIN].user_id
        asked = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "card_payment.refund_requested")
        )
        assert (asked.object_type, asked.object_id) == ("card_payment", payment.id)
        assert asked.changes == {"amount": "$5,000.00", "reason": "r" * 1000}
        job = db.session.scalar(select(QueuedJob).where(QueuedJob.kind == "card_payment.refund"))
        assert job.vendor_id == tenant_a.vendor_id
        assert job.payload == {"payment_id": payment.id, "stripe_reason": "requested_by_customer"}
