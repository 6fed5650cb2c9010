"""Card payment of orders through Stripe Checkout: start a payment, follow Stripe's word on it,
refund it.

Webhook events are triggers only. ``sync_checkout_session`` and ``sync_charge`` re-read the
session or charge from Stripe, then lock the order row and move the payment as far as
Stripe's answer allows (``payment_models.CARD_PAYMENT_LIFE``): however often and in whatever order
events arrive, the result is the one Stripe's current state implies. A paid payment confirms
its order (``orders.confirm_order``, once); one that arrives for an order that was
cancelled meanwhile, or that duplicates an earlier payment, is refunded.

No database transaction waits on Stripe: a Checkout Session is opened between two short
transactions (the idempotency key makes a repeated click reuse it), and refunds and session
expiries are queued jobs (``core.queue``) that call Stripe after the change asking for them
has committed.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any, NamedTuple

from flask import url_for
from sqlalchemy import select

from accounts.models import User
from catalog.models import ServletVersion
from core import audit, queue, states, stripe_gateway, stripe_webhooks
from core.db import utcnow
from core.errors import Conflict, InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.notifications import notify
from core.permissions import Actor
from core.stripe_gateway import PaymentProviderRefused
from core.tenancy import all_tenants, tenant_scope
from ordering import notifications, orders, policies, signals
from ordering.models import Order, OrderState, PaymentRoute
from ordering.payment_models import CARD_PAYMENT_LIFE, CardPayment, CardPaymentState

State = CardPaymentState
PURPOSE = "order_payment"  # in the metadata of our Checkout Sessions: the webhook routes by it
MAX_REASON = 1000
# An open session this close to its expiry is not handed out again: a new one is opened.
REUSE_MARGIN = timedelta(minutes=10)


def checkout_idempotency_key(order_id: int, attempt: int) -> str:
    return f"order-{order_id}-checkout-{attempt}"


def refund_idempotency_key(payment: CardPayment) -> str:
    return f"card-payment-{payment.id}-refund"


def payments_of(order: Order) -> list[CardPayment]:
    return list(
        db.session.scalars(
            select(CardPayment)
            .where(CardPayment.order_id == order.id)
            .order_by(CardPayment.attempt)
        )
    )


def _locked_payment(payment_id: int) -> CardPayment:
    return db.session.scalar(
        select(CardPayment)
        .where(CardPayment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# --- starting a payment ------------------------------------------------------------------


def start_card_payment(actor: Actor, order: Order) -> str:
    """The Stripe Checkout address where the customer pays ``order``.

    An open session is handed out again (two tabs, a back button); otherwise a new attempt
    opens one. Nothing is confirmed here: only Stripe's word, through the webhook, does that.
    The order's lock is let go while Stripe is asked for the session, and the answer is
    recorded under a fresh lock; a second click meanwhile gets the same session back, as
    both asked Stripe under the same idempotency key.
    """
    if not policies.pays_for(actor, order):
        raise NotAllowed("You do not have permission to do that.")
    if not stripe_gateway.configured():
        raise ServiceError("Card payment is not available; contact the vendor.")
    order = _awaiting_card_payment(order)
    attempts = payments_of(order)
    latest = attempts[-1] if attempts else None
    if latest is not None and latest.state in (State.PAID, State.PROCESSING):
        raise Conflict(
            f"Your payment of order {order.reference} is being processed; the order is "
            "confirmed as soon as it clears."
        )
    if latest is not None and latest.state == State.OPEN:
        if latest.expires_at is not None and latest.expires_at > utcnow() + REUSE_MARGIN:
            db.session.commit()
            return latest.checkout_url
        _expire_later(latest)
    attempt = latest.attempt + 1 if latest else 1
    order_id, params = order.id, _session_params(order, attempt)
    db.session.commit()
    session = stripe_gateway.create_checkout_session(
        params, checkout_idempotency_key(order_id, attempt)
    )
    return _record_session(db.session.get(Order, order_id), attempt, session)


def _awaiting_card_payment(order: Order) -> Order:
    order = orders.lock(order)
    if order.payment_route != PaymentRoute.CARD or order.state != OrderState.AWAITING_PAYMENT:
        raise InvalidTransition(f"Order {order.reference} does not wait for a card payment.")
    return order


def _record_session(order: Order, attempt: int, session: dict[str, Any]) -> str:
    """Keep the session Stripe opened for ``attempt``, unless the order moved on meanwhile."""
    order = orders.lock(order)
    existing = db.session.scalar(
        select(CardPayment).where(CardPayment.order_id == order.id, CardPayment.attempt == attempt)
    )
    if existing is not None:  # another click recorded the same session first
        db.session.commit()
        return existing.checkout_url
    payment = CardPayment(
        vendor_id=order.vendor_id,
        order_id=order.id,
        attempt=attempt,
        state=State.OPEN,
        amount_minor=order.total_minor,
        currency=order.currency,
        checkout_session_id=session["id"],
        checkout_url=session.get("url") or "",
        expires_at=stripe_gateway.timestamp(session.get("expires_at")),
    )
    db.session.add(payment)
    db.session.flush()
    audit.record(
        "card_payment.started",
        payment,
        changes={"order_id": order.id, "attempt": attempt, "session": session["id"]},
    )
    if order.state != OrderState.AWAITING_PAYMENT:  # cancelled while Stripe answered
        _expire_later(payment)
        db.session.commit()
        raise InvalidTransition(f"Order {order.reference} does not wait for a card payment.")
    db.session.commit()
    return payment.checkout_url


def _session_params(order: Order, attempt: int) -> dict[str, Any]:
    """The Checkout Session of one attempt: the same every time for the same attempt, as
    Stripe requires of a request repeated under one idempotency key."""
    titles = db.session.scalars(
        select(ServletVersion.title).where(
            ServletVersion.id.in_([line.servlet_version_id for line in order.lines])
        )
    )
    metadata = {
        "purpose": PURPOSE,
        "order_id": str(order.id),
        "vendor_id": str(order.vendor_id),
        "attempt": str(attempt),
    }
    return {
        "mode": "payment",
        "client_reference_id": str(order.id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": f"Order {order.reference}"},
        "customer_email": db.session.get(User, order.placed_by_id).email,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": order.total_minor,
                    "product_data": {
                        "name": f"Order {order.reference}",
                        "description": ", ".join(sorted(titles))[:500] or order.reference,
                    },
                },
            }
        ],
        "success_url": url_for("ordering.card_payment_returned", order_id=order.id, _external=True),
        "cancel_url": url_for("ordering.card_payment_abandoned", order_id=order.id, _external=True),
    }


def _expire_later(payment: CardPayment) -> None:
    """Ask for an open session to be closed, so it cannot be paid (a queued job). If it is
    paid after all, the webhook refunds the payment (see ``_settle``)."""
    queue.enqueue(
        "card_payment.expire",
        f"card-payment-{payment.id}-expire",
        vendor_id=payment.vendor_id,
        payload={"session_id": payment.checkout_session_id, "payment_id": payment.id},
    )


@queue.performs("card_payment.expire")
def _expire_session(payload: dict[str, Any]) -> None:
    """A session closed already (paid, expired) is fine as it is."""
    with suppress(PaymentProviderRefused):
        stripe_gateway.expire_checkout_session(
            payload["session_id"], f"card-payment-{payload['payment_id']}-expire"
        )


# --- following Stripe ----------------------------------------------------------------------


class _Found(NamedTuple):
    payment_id: int
    vendor_id: int
    order_id: int


def _find(*criteria: Any) -> _Found | None:
    """Our payment for a Stripe object, across tenants: a webhook has no signed-in vendor."""
    with all_tenants():
        row = db.session.execute(
            select(CardPayment.id, CardPayment.vendor_id, CardPayment.order_id).where(*criteria)
        ).first()
    db.session.commit()  # no transaction stays open while Stripe is asked next
    return _Found(*row) if row is not None else None


def sync_checkout_session(session_id: str) -> str:
    """Re-read one Checkout Session from Stripe and bring its payment and order in line."""
    found = _find(CardPayment.checkout_session_id == session_id)
    if found is None:
        return stripe_webhooks.ignored("no payment of ours for this session", session=session_id)
    try:
        session = stripe_gateway.retrieve_checkout_session(session_id)
    except PaymentProviderRefused:
        return stripe_webhooks.ignored(
            "Stripe does not know this session", found.vendor_id, session=session_id
        )
    if not stripe_gateway.names_ours(session, order_id=found.order_id, vendor_id=found.vendor_id):
        return stripe_webhooks.ignored(
            "session belongs to another order",
            found.vendor_id,
            session=session_id,
            metadata=dict(session.get("metadata") or {}),
        )
    target = _state_of(session)
    with tenant_scope(found.vendor_id):
        return _apply(found, session, target)


def _state_of(session: dict[str, Any]) -> CardPaymentState | None:
    """Where Stripe says this session's payment stands; ``None`` while it is still open."""
    if session.get("payment_status") in ("paid", "no_payment_required"):
        return State.PAID
    if session.get("status") == "expired":
        return State.EXPIRED
    if session.get("status") != "complete":
        return None
    intent_id = stripe_gateway.object_id(session.get("payment_intent"))
    if intent_id is None:
        return State.PROCESSING
    intent = stripe_gateway.retrieve_payment_intent(intent_id)
    if intent.get("status") in ("requires_payment_method", "canceled"):
        return State.FAILED
    return State.PROCESSING


def _apply(found: _Found, session: dict[str, Any], target: CardPaymentState | None) -> str:
    order = orders.lock(db.session.get(Order, found.order_id))
    payment = _locked_payment(found.payment_id)
    before = payment.state
    if target == State.PAID and not stripe_gateway.pays_exactly(session, payment.amount):
        return _hold_mismatch(payment, session)
    if target is not None and CARD_PAYMENT_LIFE.exists(before, target):
        if target == State.PAID:
            payment.payment_intent_id = stripe_gateway.object_id(session.get("payment_intent"))
        states.transition(CARD_PAYMENT_LIFE, payment, target, None, session=session["id"])
    outcome = f"payment {payment.id}: {before.value} → {payment.state.value}"
    if payment.state == State.PAID:
        outcome += "; " + _settle(order, payment)
    db.session.commit()
    return outcome


def _hold_mismatch(payment: CardPayment, session: dict[str, Any]) -> str:
    """Stripe says a session was paid, but not what the order owes (another amount or
    currency): nothing is confirmed, and finance sees the payment flagged on the order."""
    paid, currency = session.get("amount_total"), str(session.get("currency", "")).upper()
    shown = f"{Money(paid, currency)}" if type(paid) is int and len(currency) == 3 else "?"
    payment.problem = (
        f"Stripe reported {shown} paid for {payment.amount} owed; not applied. "
        "Check this payment in Stripe and refund it there."
    )[:300]
    audit.record(
        "card_payment.amount_mismatch",
        payment,
        changes={"paid": [paid, currency], "owed": [payment.amount_minor, payment.currency]},
    )
    db.session.commit()
    return f"ignored: paid amount differs from the order's ({payment.problem})"


def _settle(order: Order, payment: CardPayment) -> str:
    """What a paid payment means for its (locked) order."""
    if order.state == OrderState.AWAITING_PAYMENT:
        orders.confirm_order(order, via="card")
        return "order confirmed"
    if order.state == OrderState.CANCELLED:
        if not payment.refundable:
            return "order cancelled"
        return _refund_unwanted(
            payment, "Paid after the order was cancelled.", "requested_by_customer"
        )
    keeper = min(
        (p for p in payments_of(order) if p.state == State.PAID),
        key=lambda p: (p.paid_at, p.id),
    )
    if keeper.id != payment.id and payment.refundable:
        return _refund_unwanted(payment, "A second payment of an order already paid.", "duplicate")
    return f"order {order.state.value}"


def _refund_unwanted(payment: CardPayment, reason: str, stripe_reason: str) -> str:
    """Give back money the order does not need."""
    _request_refund(payment, None, reason, stripe_reason)
    return f"refund requested: {reason}"


def sync_charge(charge_id: str) -> str:
    """Re-read a charge and record how much of it Stripe refunded."""
    try:
        charge = stripe_gateway.retrieve_charge(charge_id)
    except PaymentProviderRefused:
        return stripe_webhooks.ignored("Stripe does not know this charge", charge=charge_id)
    intent_id = stripe_gateway.object_id(charge.get("payment_intent"))
    if intent_id is None:
        return stripe_webhooks.ignored("charge without a payment intent", charge=charge_id)
    found = _find(CardPayment.payment_intent_id == intent_id)
    if found is None:  # the refund overtook the payment's own event: follow the session first
        for session in stripe_gateway.checkout_sessions_of_payment_intent(intent_id):
            sync_checkout_session(session["id"])
        found = _find(CardPayment.payment_intent_id == intent_id)
    if found is None:
        return stripe_webhooks.ignored("no payment of ours for this charge", charge=charge_id)
    with tenant_scope(found.vendor_id):
        return _record_refund(found.payment_id, charge)


def _record_refund(payment_id: int, charge: dict[str, Any]) -> str:
    payment = _locked_payment(payment_id)
    if str(charge.get("currency", "")).upper() != payment.currency:
        return stripe_webhooks.ignored(
            "charge currency differs", payment.vendor_id, payment_id=payment.id
        )
    refunded = stripe_gateway.refunded_minor(charge, payment.amount_minor)
    if refunded <= payment.refunded_minor:
        db.session.commit()
        return f"payment {payment.id}: refund already recorded"
    before = payment.refunded_minor
    payment.refunded_minor = refunded
    if refunded == payment.amount_minor:
        payment.refunded_at = utcnow()
    audit.record(
        "card_payment.refunded",
        payment,
        changes={"refunded_minor": [before, refunded], "charge": charge["id"]},
    )
    _tell_refunded(payment, refunded - before)
    signals.card_payment_refunded.send(
        payment, amount_minor=refunded - before, refunded_minor=refunded
    )
    db.session.commit()
    return f"payment {payment.id}: {payment.refunded} refunded"


def _tell_refunded(payment: CardPayment, amount_minor: int) -> None:
    order = db.session.get(Order, payment.order_id)
    placer = db.session.get(User, order.placed_by_id)
    amount = Money(amount_minor, payment.currency)
    notify(
        placer,
        f"Refund for order {order.reference}",
        f"We refunded {amount} of your card payment for order {order.reference}.",
        notifications.order_link(order),
        notifications.REFUNDED,
        vendor_id=order.vendor_id,
    )


@stripe_webhooks.handles(
    PURPOSE,
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)
def _on_checkout_session(event: stripe_webhooks.StripeEvent) -> str:
    return sync_checkout_session(event.object_id)


@stripe_webhooks.handles(PURPOSE, "charge.refunded")
def _on_charge_refunded(event: stripe_webhooks.StripeEvent) -> str:
    return sync_charge(event.object_id)


# --- refunds -------------------------------------------------------------------------------


def _request_refund(
    payment: CardPayment,
    user_id: int | None,
    reason: str,
    stripe_reason: str = "requested_by_customer",
) -> None:
    """Ask for ``payment`` to be refunded in full, once: a queued job calls Stripe after this
    transaction commits. The money moving is recorded when Stripe reports it
    (``charge.refunded``). No commit."""
    if payment.payment_intent_id is None:
        raise ServiceError("This payment has no Stripe payment to refund.")
    payment.refund_reason = reason
    payment.refund_requested_at = utcnow()
    payment.refund_requested_by_id = user_id
    audit.record(
        "card_payment.refund_requested",
        payment,
        changes={"amount": str(payment.amount), "reason": reason},
    )
    queue.enqueue(
        "card_payment.refund",
        refund_idempotency_key(payment),
        vendor_id=payment.vendor_id,
        payload={"payment_id": payment.id, "stripe_reason": stripe_reason},
    )


@queue.performs("card_payment.refund")
def _send_refund(payload: dict[str, Any]) -> None:
    """Ask Stripe for the refund (the idempotency key is the payment's, so a retry of this job
    never refunds twice) and keep its id. If Stripe refuses (refunded already in its
    dashboard, say), the refusal is audited and the payment may be refunded again."""
    payment = db.session.get(CardPayment, payload["payment_id"])
    params = {
        "payment_intent": payment.payment_intent_id,
        "reason": payload["stripe_reason"],
        "metadata": {"order_id": str(payment.order_id), "card_payment_id": str(payment.id)},
    }
    key = refund_idempotency_key(payment)
    db.session.commit()
    try:
        refund = stripe_gateway.create_refund(params, key)
    except PaymentProviderRefused as error:
        payment = _locked_payment(payload["payment_id"])
        payment.refund_requested_at = None
        audit.record("card_payment.refund_refused", payment, changes={"stripe": error.detail})
    else:
        payment = _locked_payment(payload["payment_id"])
        payment.refund_id = refund["id"]
        audit.record("card_payment.refund_sent", payment, changes={"refund": refund["id"]})
    db.session.commit()


def refund_card_payment(actor: Actor, order: Order, reason: str) -> CardPayment:
    """The vendor's admin or finance refunds an order's card payment in full. The order keeps
    its state (to stop delivery too, cancel the order: that refunds as well)."""
    if not policies.refunds(actor):
        raise NotAllowed("You do not have permission to do that.")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Reason: say why the payment is refunded.")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"Reason: at most {MAX_REASON:,} characters.")
    order = orders.lock(order)
    payment = next((p for p in payments_of(order) if p.refundable), None)
    if payment is None:
        raise InvalidTransition(f"Order {order.reference} has no card payment left to refund.")
    _request_refund(payment, actor.user_id, reason)
    db.session.commit()
    return payment


@signals.order_cancelled.connect
def _refund_cancelled_order(order: Order, reason: str = "", **_: Any) -> None:
    """A cancelled card order gets its money back and its open session closed: asked for in
    the cancelling transaction, sent to Stripe by queued jobs once it commits."""
    if order.payment_route != PaymentRoute.CARD:
        return
    for payment in payments_of(order):
        if payment.state == State.OPEN:
            _expire_later(payment)
        elif payment.refundable:
            _request_refund(payment, order.cancelled_by_id, reason or "Order cancelled.")
