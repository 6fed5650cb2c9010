"""Payments against invoices, whatever the route: a bank transfer finance records, a card
payment through Stripe (the order's, or the invoice's own pay link), or the customer's
credit.

Each payment is its own row and never edited. Applying one locks the invoice, pays what is
owed, and keeps any excess as customer credit (``CreditEntry``); the invoice's state then
follows its figures (``settle``): paid when payments reach what is owed after credit notes,
partially paid before that, void when credit notes took all of it and nothing was paid.
Credit is spent (``apply_credit``) under the invoice's and then the customer's lock, never
beyond either; refunds are ``billing.refunds``, the card pay link ``billing.invoice_checkout``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from accounts.models import Organization
from billing import invoices, policies
from billing.models import (
    INVOICE_LIFE,
    OPEN_STATES,
    CreditEntry,
    Invoice,
    InvoiceState,
    Payment,
    PaymentMethod,
    Refund,
)
from core import audit, states
from core.db import insert_for, utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor
from ordering.models import Order
from ordering.payment_models import CardPayment, CardPaymentState

_I = InvoiceState
MAX_REFERENCE = 200


def target_state(invoice: Invoice) -> InvoiceState:
    """Where an issued invoice's figures put it."""
    if invoice.credited_minor >= invoice.total_minor and invoice.paid_minor == 0:
        return _I.VOID
    if invoice.paid_minor >= invoice.total_minor - invoice.credited_minor:
        return _I.PAID
    if invoice.paid_minor > 0:
        return _I.PARTIALLY_PAID
    return _I.ISSUED


def settle(invoice: Invoice, actor: Actor | None) -> None:
    """Move a locked, issued invoice to the state its figures say (no commit)."""
    target = target_state(invoice)
    if target is not invoice.state:
        states.transition(
            INVOICE_LIFE,
            invoice,
            target,
            actor,
            paid=str(invoice.paid),
            credited=str(invoice.credited),
        )


def _apply(invoice: Invoice, payment: Payment, actor: Actor | None) -> None:
    """Pay what ``invoice`` (locked) still owes from ``payment``; keep the rest as credit."""
    owed = max(invoice.balance.amount, 0)
    payment.applied_minor = min(payment.amount_minor, owed)
    invoice.paid_minor += payment.applied_minor
    excess = payment.amount_minor - payment.applied_minor
    db.session.flush()
    if excess and payment.method is not PaymentMethod.CREDIT:
        db.session.add(
            CreditEntry(
                vendor_id=invoice.vendor_id,
                customer_id=invoice.customer_id,
                amount_minor=excess,
                currency=payment.currency,
                payment_id=payment.id,
                note=f"Overpayment of {invoice.reference}",
            )
        )
    audit.record(
        "payment.recorded",
        payment,
        changes={
            "invoice": invoice.reference,
            "method": payment.method.value,
            "amount": str(payment.amount),
            "applied": str(payment.applied),
            "reference": payment.reference,
        },
    )
    settle(invoice, actor)


def apply_payment(invoice: Invoice, payment: Payment) -> None:
    """A payment the system received (a card payment Stripe reported) pays ``invoice``
    (locked); the excess is kept as credit. No commit."""
    _apply(invoice, payment, None)


def _check_open(invoice: Invoice) -> None:
    if invoice.state not in OPEN_STATES:
        raise InvalidTransition(
            f"Invoice {invoice.reference} is {invoice.state.label.lower()}; it takes no payment."
        )


def _check_amount(invoice: Invoice, amount: Money) -> None:
    if amount.currency != invoice.currency:
        raise ServiceError(
            f"Amount: invoice {invoice.reference} is in {invoice.currency}, not {amount.currency}."
        )
    if amount.amount <= 0:
        raise ServiceError("Amount: more than zero.")


def _earlier(idempotency_key: str | None) -> Payment | None:
    """The payment a form with this one-time key recorded already (a double submit)."""
    if not idempotency_key:
        return None
    return db.session.scalar(select(Payment).where(Payment.idempotency_key == idempotency_key))


def _record(
    actor: Actor,
    invoice: Invoice,
    method: PaymentMethod,
    amount: Money,
    received_on: date,
    reference: str,
    idempotency_key: str | None,
) -> Payment:
    """A payment finance records, applied to ``invoice`` (locked). No commit."""
    payment = Payment(
        vendor_id=invoice.vendor_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        method=method,
        amount_minor=amount.amount,
        applied_minor=0,
        currency=amount.currency,
        received_on=received_on,
        reference=reference,
        recorded_by_id=actor.user_id,
        idempotency_key=idempotency_key or None,
    )
    db.session.add(payment)
    _apply(invoice, payment, actor)
    return payment


def record_bank_transfer(
    actor: Actor,
    invoice: Invoice,
    amount: Money,
    received_on: date,
    reference: str,
    idempotency_key: str | None = None,
) -> Payment:
    """Finance records money that arrived by bank transfer. Above the balance, the excess
    is kept as the customer's credit; a double submit (same ``idempotency_key``) records
    the payment once."""
    if not policies.keeps_books(actor):
        raise NotAllowed("You do not have permission to do that.")
    reference = (reference or "").strip()
    if len(reference) > MAX_REFERENCE:
        raise ServiceError(f"Reference: at most {MAX_REFERENCE} characters.")
    invoice = invoices.lock(invoice)
    earlier = _earlier(idempotency_key)
    if earlier is not None:
        db.session.commit()
        return earlier
    _check_open(invoice)
    _check_amount(invoice, amount)
    if received_on > utcnow().date():
        raise ServiceError("Received on: cannot be in the future.")
    payment = _record(
        actor, invoice, PaymentMethod.BANK_TRANSFER, amount, received_on, reference, idempotency_key
    )
    db.session.commit()
    return payment


def record_order_card_payment(order: Order, invoice: Invoice) -> Payment | None:
    """The card payment that confirmed ``order`` pays its invoice, issued in the same
    transaction (no commit). The unique card payment makes a replay record nothing; without
    a paid card payment (none should confirm a card order) the invoice stays open, owed."""
    card = db.session.scalar(
        select(CardPayment)
        .where(CardPayment.order_id == order.id, CardPayment.state == CardPaymentState.PAID)
        .order_by(CardPayment.paid_at, CardPayment.id)
        .limit(1)
    )
    if card is None:
        return None
    return record_card_payment(
        invoice,
        card.amount,
        (card.paid_at or utcnow()).date(),
        reference=card.payment_intent_id or card.checkout_session_id,
        payment_intent_id=card.payment_intent_id,
        card_payment_id=card.id,
    )


def record_card_payment(
    invoice: Invoice,
    amount: Money,
    received_on: date,
    *,
    reference: str,
    payment_intent_id: str | None,
    card_payment_id: int | None = None,
    checkout_session_id: str | None = None,
) -> Payment | None:
    """A card payment Stripe reported pays ``invoice`` (locked); the excess is kept as
    credit. It names its Stripe source, the order's card payment or the invoice's own
    Checkout Session, which is unique: a replay records nothing (``None``). No commit."""
    unique = "card_payment_id" if card_payment_id is not None else "checkout_session_id"
    table = Payment.__table__
    payment_id = db.session.execute(
        insert_for(db.session, table)
        .values(
            vendor_id=invoice.vendor_id,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            method=PaymentMethod.CARD,
            amount_minor=amount.amount,
            applied_minor=0,
            refunded_minor=0,
            currency=amount.currency,
            received_on=received_on,
            reference=reference,
            card_payment_id=card_payment_id,
            checkout_session_id=checkout_session_id,
            payment_intent_id=payment_intent_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[unique])
        .returning(table.c.id)
    ).scalar()
    if payment_id is None:
        return None
    payment = db.session.get(Payment, payment_id)
    _apply(invoice, payment, None)
    return payment


# --- customer credit ---------------------------------------------------------------------


def lock_customer(customer_id: int) -> None:
    """Hold the customer's row: whoever spends or takes back its credit decides on the
    balance as it is now (SQLite's writers queue anyway)."""
    db.session.execute(
        select(Organization.id).where(Organization.id == customer_id).with_for_update()
    )


def credit_balance(customer_id: int, currency: str) -> Money:
    """The customer's credit in ``currency``: overpayments kept, less what was spent or
    refunded."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount_minor), 0)).where(
            CreditEntry.customer_id == customer_id, CreditEntry.currency == currency
        )
    )
    return Money(int(total), currency)


def apply_credit(
    actor: Actor,
    invoice: Invoice,
    amount: Money | None = None,
    idempotency_key: str | None = None,
) -> Payment:
    """Finance pays an open invoice from the customer's credit: ``amount``, or as much as
    both the credit and what the invoice owes allow. Never more than either; decided under
    the invoice's and the customer's locks, so two at once cannot spend the same credit."""
    if not policies.keeps_books(actor):
        raise NotAllowed("You do not have permission to do that.")
    invoice = invoices.lock(invoice)
    lock_customer(invoice.customer_id)
    earlier = _earlier(idempotency_key)
    if earlier is not None:
        db.session.commit()
        return earlier
    _check_open(invoice)
    balance, owed = credit_balance(invoice.customer_id, invoice.currency), invoice.balance
    customer = invoice.buyer.get("name") or "The customer"
    if balance.amount <= 0:
        raise ServiceError(f"{customer} has no credit in {invoice.currency} to apply.")
    amount = min(balance, owed) if amount is None else amount
    _check_amount(invoice, amount)
    if amount > balance:
        raise ServiceError(f"Amount: {customer} has {balance} of credit, not {amount}.")
    if amount > owed:
        raise ServiceError(f"Amount: invoice {invoice.reference} owes {owed}, not {amount}.")
    payment = _record(
        actor,
        invoice,
        PaymentMethod.CREDIT,
        amount,
        utcnow().date(),
        "Customer credit",
        idempotency_key,
    )
    db.session.add(
        CreditEntry(
            vendor_id=invoice.vendor_id,
            customer_id=invoice.customer_id,
            amount_minor=-amount.amount,
            currency=amount.currency,
            payment_id=payment.id,
            note=f"Applied to {invoice.reference}",
        )
    )
    db.session.commit()
    return payment


# --- what the invoice page shows ---------------------------------------------------------


def payments_of(invoice_id: int) -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment)
            .where(Payment.invoice_id == invoice_id)
            .order_by(Payment.received_on, Payment.id)
        )
    )


def refunds_of(invoice_id: int) -> list[Refund]:
    return list(
        db.session.scalars(
            select(Refund).where(Refund.invoice_id == invoice_id).order_by(Refund.id)
        )
    )
