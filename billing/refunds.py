"""Refunds: money given back from a payment, as a row of its own (the payment never changes
but its ``refunded_minor``).

A refund takes back the payment's excess first, the part kept as customer credit, and only
then un-pays the invoice: giving back an overpayment leaves the invoice paid, which is what
finance means by it; a refund beyond that makes the invoice owed again (``payments.settle``).
Credit of the payment already spent on another invoice cannot be given back a second time,
so finance's refund is refused above what is left. A refund Stripe reports (a card refund,
from the order or the Stripe dashboard) happened already and is recorded in full, once per
``stripe_refund_key``; what it takes beyond the payment's credit and applied part leaves the
customer's credit negative, to settle with the customer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from billing import invoices, payments, policies
from billing.models import CreditEntry, Invoice, Payment, PaymentMethod, Refund
from core import audit
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor
from ordering import signals
from ordering.payment_models import CardPayment

MAX_REASON = 1000


def _locked(payment_id: int) -> tuple[Invoice, Payment]:
    """The payment's invoice and then the payment, each under its row lock (the order every
    payment change takes them in)."""
    invoice_id = db.session.scalar(select(Payment.invoice_id).where(Payment.id == payment_id))
    invoice = invoices.lock(db.session.get(Invoice, invoice_id))
    payment = db.session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return invoice, payment


def _unpaid_so_far(payment: Payment) -> int:
    """What earlier refunds of ``payment`` took from the invoice."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Refund.from_invoice_minor), 0)).where(
                Refund.payment_id == payment.id
            )
        )
    )


def _split(payment: Payment, amount_minor: int) -> tuple[int, int, int]:
    """(from credit, from the invoice, beyond both) of a refund of ``amount_minor``; the
    customer is locked."""
    unpaid = _unpaid_so_far(payment)
    credit_left = payment.amount_minor - payment.applied_minor - (payment.refunded_minor - unpaid)
    balance = payments.credit_balance(payment.customer_id, payment.currency).amount
    from_credit = max(min(amount_minor, credit_left, balance), 0)
    from_invoice = min(amount_minor - from_credit, payment.applied_minor - unpaid)
    return from_credit, from_invoice, amount_minor - from_credit - from_invoice


def refundable(payment: Payment) -> Money:
    """The most finance may refund of ``payment`` now (the customer's credit may have been
    spent elsewhere meanwhile)."""
    if payment.method is not PaymentMethod.BANK_TRANSFER:
        return Money.zero(payment.currency)
    left = payment.amount_minor - payment.refunded_minor
    from_credit, from_invoice, _ = _split(payment, left)
    return Money(from_credit + from_invoice, payment.currency)


def _record(
    invoice: Invoice,
    payment: Payment,
    amount_minor: int,
    *,
    refunded_on: date,
    reason: str,
    actor: Actor | None,
    stripe_refund_key: str | None = None,
) -> Refund:
    """Write the refund of a locked payment and what it takes back (no commit)."""
    payments.lock_customer(payment.customer_id)
    from_credit, from_invoice, beyond = _split(payment, amount_minor)
    if beyond and stripe_refund_key is None:
        most = Money(from_credit + from_invoice, payment.currency)
        raise ServiceError(
            f"Amount: at most {most} of this payment can be refunded now; the rest of its "
            "credit was spent on other invoices."
        )
    from_credit += beyond  # only Stripe's word gets here: the money left already
    refund = Refund(
        vendor_id=payment.vendor_id,
        payment_id=payment.id,
        invoice_id=invoice.id,
        amount_minor=amount_minor,
        from_invoice_minor=from_invoice,
        currency=payment.currency,
        refunded_on=refunded_on,
        reason=reason,
        stripe_refund_key=stripe_refund_key,
        recorded_by_id=actor.user_id if actor is not None else None,
    )
    db.session.add(refund)
    db.session.flush()
    payment.refunded_minor += amount_minor
    invoice.paid_minor -= from_invoice
    if from_credit:
        db.session.add(
            CreditEntry(
                vendor_id=payment.vendor_id,
                customer_id=payment.customer_id,
                amount_minor=-from_credit,
                currency=payment.currency,
                payment_id=payment.id,
                refund_id=refund.id,
                note=f"Refund of a payment of {invoice.reference}",
            )
        )
    audit.record(
        "refund.recorded",
        refund,
        changes={
            "invoice": invoice.reference,
            "payment_id": payment.id,
            "amount": str(refund.amount),
            "from_invoice": str(Money(from_invoice, refund.currency)),
            "from_credit": str(Money(from_credit, refund.currency)),
            "beyond_credit": str(Money(beyond, refund.currency)) if beyond else "",
            "reason": reason,
        },
    )
    payments.settle(invoice, actor)
    return refund


def refund_payment(
    actor: Actor, payment: Payment, amount: Money, refunded_on: date, reason: str
) -> Refund:
    """Finance records money it sent back by bank transfer against a bank payment. Card
    payments are refunded through Stripe, whose report records the refund here."""
    if not policies.keeps_books(actor):
        raise NotAllowed("You do not have permission to do that.")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Reason: say why the money is given back.")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"Reason: at most {MAX_REASON:,} characters.")
    invoice, payment = _locked(payment.id)
    if payment.method is PaymentMethod.CARD:
        raise InvalidTransition(
            "Card payments are refunded through Stripe (from the order, or in Stripe's "
            "dashboard); the refund shows here when Stripe reports it."
        )
    if payment.method is PaymentMethod.CREDIT:
        raise InvalidTransition(
            "Credit applied to an invoice is not money to send back; refund the payment "
            "the credit came from."
        )
    if amount.currency != payment.currency:
        raise ServiceError(f"Amount: the payment is in {payment.currency}, not {amount.currency}.")
    if amount.amount <= 0:
        raise ServiceError("Amount: more than zero.")
    left = Money(payment.amount_minor - payment.refunded_minor, payment.currency)
    if amount > left:
        raise ServiceError(f"Amount: at most {left}, what is left of this payment.")
    if refunded_on > utcnow().date():
        raise ServiceError("Refunded on: cannot be in the future.")
    if refunded_on < payment.received_on:
        raise ServiceError("Refunded on: cannot be before the payment was received.")
    refund = _record(
        invoice, payment, amount.amount, refunded_on=refunded_on, reason=reason, actor=actor
    )
    db.session.commit()
    return refund


def record_stripe_refund(
    payment_id: int, amount_minor: int, stripe_refund_key: str, reason: str
) -> Refund | None:
    """A refund Stripe reports for a card payment, once per key (no commit)."""
    invoice, payment = _locked(payment_id)
    seen = db.session.scalar(select(Refund.id).where(Refund.stripe_refund_key == stripe_refund_key))
    amount_minor = min(amount_minor, payment.amount_minor - payment.refunded_minor)
    if seen is not None or amount_minor <= 0:
        return None
    return _record(
        invoice,
        payment,
        amount_minor,
        refunded_on=utcnow().date(),
        reason=(reason or "Refunded through Stripe.")[:MAX_REASON],
        actor=None,
        stripe_refund_key=stripe_refund_key,
    )


@signals.card_payment_refunded.connect
def _on_card_payment_refunded(
    card: CardPayment, amount_minor: int = 0, refunded_minor: int = 0, **_: Any
) -> None:
    """Stripe refunded (more of) an order's card payment: the invoice it paid records the
    refund, in ordering's transaction. An order without a prepaid invoice has no payment
    here, and nothing to record."""
    payment_id = db.session.scalar(select(Payment.id).where(Payment.card_payment_id == card.id))
    if payment_id is None or amount_minor <= 0:
        return
    record_stripe_refund(
        payment_id,
        amount_minor,
        f"card-payment:{card.id}:{refunded_minor}",
        card.refund_reason or "Refunded through Stripe.",
    )
