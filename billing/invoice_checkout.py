"""Paying an issued invoice by card: a Stripe Checkout pay link, reconciled by the webhook
under billing's own purpose, exactly once.

As with orders (``ordering.payments``), no database transaction waits on Stripe: the session
is opened between two short transactions under an idempotency key made of our own ids and the
amount asked, and webhook events are triggers that re-read the session from Stripe. A session
paid for what was asked records one ``Payment`` (its session id is unique, so five deliveries
of the same event, in any order, record one); above what the invoice still owes by then (a
bank transfer arrived meanwhile) the excess is kept as customer credit. A paid amount or
currency other than what was asked pays nothing: the session is flagged for finance, who see
it on the invoice page.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any, NamedTuple

from flask import url_for
from sqlalchemy import select

from accounts.models import User
from billing import invoices, payments, policies, refunds
from billing.models import OPEN_STATES, Invoice, InvoiceCheckout, Payment
from core import audit, queue, stripe_gateway, stripe_webhooks
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor
from core.stripe_gateway import PaymentProviderRefused
from core.tenancy import all_tenants, tenant_scope

PURPOSE = "invoice_payment"  # in the metadata of the sessions: the webhook routes by it
# An open session this close to its expiry is not handed out again: a new one is opened.
REUSE_MARGIN = timedelta(minutes=10)


def checkout_idempotency_key(invoice_id: int, attempt: int, amount_minor: int) -> str:
    return f"invoice-{invoice_id}-checkout-{attempt}-{amount_minor}"


def checkouts_of(invoice_id: int) -> list[InvoiceCheckout]:
    return list(
        db.session.scalars(
            select(InvoiceCheckout)
            .where(InvoiceCheckout.invoice_id == invoice_id)
            .order_by(InvoiceCheckout.attempt)
        )
    )


# --- opening a session -------------------------------------------------------------------


def _payable(invoice: Invoice) -> Invoice:
    invoice = invoices.lock(invoice)
    if invoice.state not in OPEN_STATES or invoice.balance.amount <= 0:
        raise InvalidTransition(f"Invoice {invoice.reference} has nothing left to pay.")
    return invoice


def _reusable(checkout: InvoiceCheckout, owed: Money) -> bool:
    paid = db.session.scalar(
        select(Payment.id).where(Payment.checkout_session_id == checkout.checkout_session_id)
    )
    return (
        paid is None
        and not checkout.problem
        and checkout.amount_minor == owed.amount
        and checkout.expires_at is not None
        and checkout.expires_at > utcnow() + REUSE_MARGIN
    )


def start_invoice_payment(actor: Actor, invoice: Invoice) -> str:
    """The Stripe Checkout address where the customer pays what ``invoice`` owes now.

    A session still open for the same amount is handed out again; otherwise a new attempt
    opens one (and the older session is closed, so it cannot be paid for a stale amount).
    Only Stripe's word, through the webhook, records a payment.
    """
    if not policies.pays_by_card(actor, invoice):
        raise NotAllowed("You do not have permission to do that.")
    if not stripe_gateway.configured():
        raise ServiceError("Card payment is not available; pay by bank transfer instead.")
    invoice = _payable(invoice)
    owed = invoice.balance
    attempts = checkouts_of(invoice.id)
    latest = attempts[-1] if attempts else None
    if latest is not None and _reusable(latest, owed):
        db.session.commit()
        return latest.checkout_url
    if latest is not None:
        _expire_later(latest)
    attempt = latest.attempt + 1 if latest else 1
    invoice_id, params = invoice.id, _session_params(invoice, owed, attempt, actor)
    db.session.commit()
    session = stripe_gateway.create_checkout_session(
        params, checkout_idempotency_key(invoice_id, attempt, owed.amount)
    )
    return _record_session(db.session.get(Invoice, invoice_id), attempt, owed, session, actor)


def _record_session(
    invoice: Invoice, attempt: int, owed: Money, session: dict[str, Any], actor: Actor
) -> str:
    """Keep the session Stripe opened, unless another click recorded it first."""
    invoice = invoices.lock(invoice)
    existing = db.session.scalar(
        select(InvoiceCheckout).where(
            InvoiceCheckout.invoice_id == invoice.id, InvoiceCheckout.attempt == attempt
        )
    )
    if existing is not None:
        db.session.commit()
        return existing.checkout_url
    checkout = InvoiceCheckout(
        vendor_id=invoice.vendor_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        attempt=attempt,
        amount_minor=owed.amount,
        currency=owed.currency,
        checkout_session_id=session["id"],
        checkout_url=session.get("url") or "",
        expires_at=stripe_gateway.timestamp(session.get("expires_at")),
        started_by_id=actor.user_id,
    )
    db.session.add(checkout)
    db.session.flush()
    audit.record(
        "invoice_payment.started",
        checkout,
        changes={"invoice": invoice.reference, "amount": str(owed), "session": session["id"]},
    )
    if invoice.state not in OPEN_STATES or invoice.balance != owed:  # moved while Stripe answered
        _expire_later(checkout)
        db.session.commit()
        raise InvalidTransition(
            f"Invoice {invoice.reference} changed meanwhile; reload the page and pay again."
        )
    db.session.commit()
    return checkout.checkout_url


def _session_params(invoice: Invoice, owed: Money, attempt: int, actor: Actor) -> dict[str, Any]:
    """The same parameters every time for one attempt and amount, as Stripe requires of a
    request repeated under one idempotency key."""
    metadata = {
        "purpose": PURPOSE,
        "invoice_id": str(invoice.id),
        "vendor_id": str(invoice.vendor_id),
        "attempt": str(attempt),
    }
    return {
        "mode": "payment",
        "client_reference_id": f"invoice-{invoice.id}",
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": f"Invoice {invoice.number}"},
        "customer_email": db.session.get(User, actor.user_id).email,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": owed.currency.lower(),
                    "unit_amount": owed.amount,
                    "product_data": {"name": f"Invoice {invoice.number}"},
                },
            }
        ],
        "success_url": url_for(
            "billing.pay_invoice", invoice_id=invoice.id, returned="done", _external=True
        ),
        "cancel_url": url_for(
            "billing.pay_invoice", invoice_id=invoice.id, returned="cancelled", _external=True
        ),
    }


def _expire_later(checkout: InvoiceCheckout) -> None:
    """Ask for an older session to be closed (a queued job, after commit). Paid after all,
    it still records its payment; what the invoice no longer owes becomes credit."""
    queue.enqueue(
        "invoice_checkout.expire",
        f"invoice-checkout-{checkout.id}-expire",
        vendor_id=checkout.vendor_id,
        payload={"session_id": checkout.checkout_session_id, "checkout_id": checkout.id},
    )


@queue.performs("invoice_checkout.expire")
def _expire_session(payload: dict[str, Any]) -> None:
    """A session closed already (paid, expired) is fine as it is."""
    with suppress(PaymentProviderRefused):
        stripe_gateway.expire_checkout_session(
            payload["session_id"], f"invoice-checkout-{payload['checkout_id']}-expire"
        )


# --- following Stripe ----------------------------------------------------------------------


class _Found(NamedTuple):
    checkout_id: int
    vendor_id: int
    invoice_id: int


def sync_invoice_session(session_id: str) -> str:
    """Re-read one Checkout Session of an invoice from Stripe and record its payment once."""
    with all_tenants():
        row = db.session.execute(
            select(InvoiceCheckout.id, InvoiceCheckout.vendor_id, InvoiceCheckout.invoice_id).where(
                InvoiceCheckout.checkout_session_id == session_id
            )
        ).first()
    db.session.commit()  # no transaction stays open while Stripe is asked
    if row is None:
        return stripe_webhooks.ignored(
            "no invoice payment of ours for this session", session=session_id
        )
    found = _Found(*row)
    try:
        session = stripe_gateway.retrieve_checkout_session(session_id)
    except PaymentProviderRefused:
        return stripe_webhooks.ignored(
            "Stripe does not know this session", found.vendor_id, session=session_id
        )
    if not stripe_gateway.names_ours(
        session, invoice_id=found.invoice_id, vendor_id=found.vendor_id
    ):
        return stripe_webhooks.ignored(
            "session belongs to another invoice",
            found.vendor_id,
            session=session_id,
            metadata=dict(session.get("metadata") or {}),
        )
    if session.get("payment_status") != "paid":
        return f"invoice session {session_id}: {session.get('status')}, not paid"
    with tenant_scope(found.vendor_id):
        return _record_paid(found, session)


def _record_paid(found: _Found, session: dict[str, Any]) -> str:
    invoice = invoices.lock(db.session.get(Invoice, found.invoice_id))
    checkout = db.session.get(InvoiceCheckout, found.checkout_id)
    if not stripe_gateway.pays_exactly(session, checkout.amount):
        return _hold_mismatch(invoice, checkout, session)
    intent_id = stripe_gateway.object_id(session.get("payment_intent"))
    payment = payments.record_card_payment(
        invoice,
        checkout.amount,
        utcnow().date(),
        reference=intent_id or session["id"],
        payment_intent_id=intent_id,
        checkout_session_id=session["id"],
    )
    db.session.commit()
    if payment is None:
        return f"invoice {invoice.reference}: payment already recorded"
    outcome = f"invoice {invoice.reference}: {payment.amount} paid"
    if payment.applied_minor < payment.amount_minor:
        outcome += f", {Money(payment.amount_minor - payment.applied_minor, payment.currency)}"
        outcome += " kept as credit"
    return outcome


def _hold_mismatch(invoice: Invoice, checkout: InvoiceCheckout, session: dict[str, Any]) -> str:
    """Stripe says the session was paid, but not what was asked: nothing is applied, and
    finance sees the flagged session on the invoice."""
    paid, currency = session.get("amount_total"), str(session.get("currency", "")).upper()
    shown = f"{Money(paid, currency)}" if type(paid) is int and len(currency) == 3 else "?"
    problem = (
        f"Stripe reported {shown} paid for {checkout.amount} asked; not applied. "
        "Check this payment in Stripe and refund it there."
    )[:300]
    if checkout.problem != problem:
        checkout.problem = problem
        audit.record(
            "invoice_payment.amount_mismatch",
            checkout,
            changes={
                "invoice": invoice.reference,
                "paid": [paid, currency],
                "asked": [checkout.amount_minor, checkout.currency],
                "session": checkout.checkout_session_id,
            },
        )
    db.session.commit()
    return f"ignored: paid amount differs from the invoice's ({problem})"


@stripe_webhooks.handles(
    PURPOSE,
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)
def _on_checkout_session(event: stripe_webhooks.StripeEvent) -> str:
    """Every session billing opens names its purpose; one without (an order's, once its
    metadata is gone, or someone else's) reaches each area and is ordering's to judge."""
    if event.purpose != PURPOSE:
        return "ignored: not an invoice payment session"
    return sync_invoice_session(event.object_id)


# --- refunds Stripe reports ----------------------------------------------------------------


def sync_charge(charge_id: str) -> str:
    """A charge refunded (in Stripe's dashboard): if it paid an invoice through its pay link,
    the refund is recorded once per refunded total. Order charges are ordering's (its
    refunds reach billing through ``card_payment_refunded``)."""
    try:
        charge = stripe_gateway.retrieve_charge(charge_id)
    except PaymentProviderRefused:
        return "ignored: Stripe does not know this charge"
    intent_id = stripe_gateway.object_id(charge.get("payment_intent"))
    if intent_id is None:
        return "ignored: charge without a payment intent"
    with all_tenants():
        row = db.session.execute(
            select(Payment.id, Payment.vendor_id, Payment.currency, Payment.amount_minor).where(
                Payment.payment_intent_id == intent_id,
                Payment.checkout_session_id.is_not(None),
                Payment.card_payment_id.is_(None),
            )
        ).first()
    db.session.commit()
    if row is None:
        return "ignored: no invoice payment for this charge"
    payment_id, vendor_id, currency, amount_minor = row
    if str(charge.get("currency", "")).upper() != currency:
        return stripe_webhooks.ignored("charge currency differs", vendor_id, payment_id=payment_id)
    refunded = stripe_gateway.refunded_minor(charge, amount_minor)
    with tenant_scope(vendor_id):
        already = db.session.scalar(select(Payment.refunded_minor).where(Payment.id == payment_id))
        refund = refunds.record_stripe_refund(
            payment_id,
            refunded - already,
            f"invoice-card:{payment_id}:{refunded}",
            "Refunded in Stripe.",
        )
        db.session.commit()
    if refund is None:
        return f"invoice payment {payment_id}: refund already recorded"
    return f"invoice payment {payment_id}: {refund.amount} refunded"


@stripe_webhooks.handles(PURPOSE, "charge.refunded")
def _on_charge_refunded(event: stripe_webhooks.StripeEvent) -> str:
    return sync_charge(event.object_id)
