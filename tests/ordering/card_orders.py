"""Card orders for the Stripe tests. Builders run inside ``unscoped()`` and return plain
values; they go through the services, so the sessions are opened at the fake for real."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from core import queue, scheduler, stripe_webhooks
from core.audit import AuditEvent
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import Role
from core.stripe_webhooks import StripeEvent
from delivery.models import Engagement
from ordering import payments
from ordering.models import Order, OrderLine, PaymentRoute
from ordering.payment_models import CardPayment
from tests.factories import Tenant
from tests.ordering import factories
from tests.stripe_fake import FakeStripe


@dataclass(frozen=True)
class CardOrder:
    order_id: int
    session_id: str
    reference: str


def awaiting_payment(tenant: Tenant, quantity: int = 1, role: Role = Role.BUYER) -> CardOrder:
    """A card order placed and sent to Stripe Checkout: a session is open at the fake."""
    factories.cart_line(tenant, quantity=quantity, role=role)
    order_id = factories.place(tenant, role, route=PaymentRoute.CARD)
    order = db.session.get(Order, order_id)
    payments.start_card_payment(factories.actor(tenant, role), order)
    payment = db.session.scalar(select(CardPayment).where(CardPayment.order_id == order_id))
    return CardOrder(order_id, payment.checkout_session_id, order.reference)


def deliver(client: FlaskClient, fake: FakeStripe, event_type: str, object_id: str, **kwargs: Any):
    """Post a signed event as Stripe would, then let the scheduler do the work it queued:
    process the event, then the Stripe calls it asked for (refunds, expiries)."""
    response = post_event(client, fake, event_type, object_id, **kwargs)
    for job in WEBHOOK_WORK:
        scheduler.run_job(client.application, job)
    return response


# The event first, then the Stripe calls its handling queued (refunds, expiries).
WEBHOOK_WORK = [
    next(job for job in scheduler.jobs() if job.func is work)
    for work in (stripe_webhooks.process_events, queue.run_queued)
]


def post_event(
    client: FlaskClient, fake: FakeStripe, event_type: str, object_id: str, **kwargs: Any
):
    body, headers = fake.event(event_type, object_id, **kwargs)
    return client.post(
        "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
    )


def last_outcome(unscoped) -> str:
    """What the scheduler made of the newest Stripe event."""
    with unscoped():
        return db.session.scalar(select(StripeEvent.outcome).order_by(StripeEvent.id.desc()))


@dataclass(frozen=True)
class Snapshot:
    """What a user (or Stripe) would notice about one order."""

    order_state: str
    payments: tuple[tuple[int, str, int, bool], ...]  # attempt, state, refunded, refund asked
    engagements: int
    confirmation_emails: int
    confirmed_audits: int


def snapshot(order_id: int) -> Snapshot:
    order = db.session.get(Order, order_id)
    db.session.refresh(order)
    rows = db.session.scalars(
        select(CardPayment).where(CardPayment.order_id == order_id).order_by(CardPayment.attempt)
    )
    return Snapshot(
        order_state=order.state.value,
        payments=tuple(
            (p.attempt, p.state.value, p.refunded_minor, p.refund_id is not None) for p in rows
        ),
        engagements=db.session.scalar(
            select(func.count())
            .select_from(Engagement)
            .join(OrderLine, OrderLine.id == Engagement.order_line_id)
            .where(OrderLine.order_id == order_id)
        ),
        confirmation_emails=db.session.scalar(
            select(func.count()).where(OutboxEmail.subject == f"Order {order.reference} confirmed")
        ),
        confirmed_audits=db.session.scalar(
            select(func.count()).where(
                AuditEvent.action == "order.confirmed",
                AuditEvent.object_type == "order",
                AuditEvent.object_id == order_id,
            )
        ),
    )


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))
