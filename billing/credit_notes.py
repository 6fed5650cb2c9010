"""Credit notes: the one way to correct an issued invoice, and what an order's cancellation
does to its invoices.

A credit note credits parts of an invoice's lines: a net amount per line, no more than what
earlier credit notes left of that line, with tax at the line's rate rounded half-up per line;
the credit note that takes the last of a line's net takes the last of its tax, so a line is
never credited more (nor less) than its gross, whatever the rounding of earlier parts. A full
credit note takes everything that is left of every line.

Issuing numbers it from the vendor's own sequence of credit notes of the year
(``ACME-CN-2026-000003``, apart from the invoices'), in the transaction that records it, under
the invoice's row lock; the invoice's ``credited_minor`` grows by the credit note's total and
its state follows its figures (``payments.settle``). What the invoice then owes is
``total - credited - paid``, never below zero: when a credit note takes more than was still
unpaid, the part already paid is taken off the invoice's payments (latest first) and kept as
the customer's credit (``CreditEntry``), so ``paid + outstanding = invoiced - credited``
always holds. An invoice credited in full with nothing left paid is void.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.models import Organization
from billing import documents, invoices, payments, policies
from billing.models import (
    CreditEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceState,
    Payment,
)
from core import audit, sequences
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor, scoped
from ordering import signals
from ordering.models import Order

_I = InvoiceState
CREDITABLE = (_I.ISSUED, _I.PARTIALLY_PAID, _I.PAID)
MAX_REASON = 1000


def credit_note_number(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-CN-{year}-{number:06d}"


def credited_by_line(invoice: Invoice) -> dict[int, tuple[int, int]]:
    """Net and tax credited so far on each line of ``invoice`` (lines never credited absent)."""
    rows = db.session.execute(
        select(
            CreditNoteLine.invoice_line_id,
            sa.func.sum(CreditNoteLine.net_minor),
            sa.func.sum(CreditNoteLine.tax_minor),
        )
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .where(CreditNote.invoice_id == invoice.id)
        .group_by(CreditNoteLine.invoice_line_id)
    )
    return {line_id: (int(net), int(tax)) for line_id, net, tax in rows}


def left_by_line(invoice: Invoice) -> dict[int, tuple[int, int]]:
    """Net and tax still to credit on each line of ``invoice`` (lines loaded)."""
    credited = credited_by_line(invoice)
    left = {}
    for line in invoice.lines:
        net, tax = credited.get(line.id, (0, 0))
        left[line.id] = (line.net_minor - net, line.tax_minor - tax)
    return left


def line_credit(line: InvoiceLine, net_minor: int, left: tuple[int, int]) -> int:
    """The tax of crediting ``net_minor`` of ``line``: at the line's rate, half-up; the last
    of the line's net takes the last of its tax, and no part takes more than is left."""
    net_left, tax_left = left
    if net_minor == net_left:
        return tax_left
    return min(Money(net_minor, line.currency).percent(line.tax_rate).amount, tax_left)


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Reason: say why the invoice is credited; it is printed on the note.")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"Reason: at most {MAX_REASON:,} characters.")
    return reason


def _check_creditable(invoice: Invoice) -> None:
    if invoice.state is _I.DRAFT:
        raise InvalidTransition(
            f"{invoice.reference} is a draft: change it or discard it; credit notes correct "
            "issued invoices."
        )
    if invoice.state not in CREDITABLE or invoice.credited_minor >= invoice.total_minor:
        raise InvalidTransition(f"Invoice {invoice.reference} has nothing left to credit.")


def _amounts(
    invoice: Invoice, nets: Mapping[int, Money] | None, left: dict[int, tuple[int, int]]
) -> list[tuple[InvoiceLine, int, int]]:
    """(line, net, tax) to credit: everything left when ``nets`` is None, else what was asked
    per line, each checked against what is left of it."""
    if nets is None:
        return [
            (line, *left[line.id])
            for line in invoice.lines
            if left[line.id][0] > 0 or left[line.id][1] > 0
        ]
    lines = {line.id: line for line in invoice.lines}
    unknown = set(nets) - set(lines)
    if unknown:
        raise ServiceError("A line to credit is not on this invoice.")
    chosen = []
    for line in invoice.lines:
        amount = nets.get(line.id)
        if amount is None or amount.amount == 0:
            continue
        what = f"Line {line.position} ({line.description[:60]})"
        if amount.currency != invoice.currency:
            raise ServiceError(f"{what}: this invoice is in {invoice.currency}.")
        if amount.amount < 0:
            raise ServiceError(f"{what}: a credit is a positive amount.")
        net_left = left[line.id][0]
        if amount.amount > net_left:
            raise ServiceError(
                f"{what}: at most {Money(net_left, invoice.currency)} net is left to credit."
            )
        chosen.append((line, amount.amount, line_credit(line, amount.amount, left[line.id])))
    if not chosen:
        raise ServiceError("Enter the net amount to credit on at least one line.")
    return chosen


def credit(
    invoice: Invoice,
    actor: Actor | None,
    reason: str,
    nets: Mapping[int, Money] | None = None,
    today: date | None = None,
) -> CreditNote:
    """Credit a locked, issued ``invoice``: in full (``nets`` None) or ``nets`` per line id.
    Numbers, records and audits the credit note and settles the invoice; no commit."""
    reason = _check_reason(reason)
    _check_creditable(invoice)
    chosen = _amounts(invoice, nets, left_by_line(invoice))
    subtotal = sum(net for _, net, _ in chosen)
    tax = sum(tax for _, _, tax in chosen)
    if subtotal + tax > invoice.total_minor - invoice.credited_minor or subtotal + tax <= 0:
        left = Money(invoice.total_minor - invoice.credited_minor, invoice.currency)
        raise ServiceError(f"At most {left} is left to credit on {invoice.reference}.")
    vendor = db.session.get(Organization, invoice.vendor_id)
    today = today or utcnow().date()
    sequence_number = sequences.next_number(vendor.id, f"credit-note-{today.year}")
    note = CreditNote(
        vendor_id=invoice.vendor_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        number=credit_note_number(vendor.invoice_prefix, today.year, sequence_number),
        sequence_year=today.year,
        sequence_number=sequence_number,
        issued_on=today,
        reason=reason,
        currency=invoice.currency,
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
        issued_by_id=actor.user_id if actor is not None else None,
        lines=[
            CreditNoteLine(
                vendor_id=invoice.vendor_id,
                invoice_line_id=line.id,
                description=line.description,
                net_minor=net,
                tax_rate=line.tax_rate,
                tax_minor=line_tax,
                currency=invoice.currency,
            )
            for line, net, line_tax in chosen
        ],
    )
    db.session.add(note)
    invoice.credited_minor += note.total_minor
    db.session.flush()
    audit.record(
        "credit_note.issued",
        note,
        changes={
            "number": note.number,
            "invoice": invoice.reference,
            "total": str(note.total),
            "full": nets is None,
            "reason": reason,
        },
    )
    audit.record(
        "invoice.credited",
        invoice,
        changes={"credit_note": note.number, "credited": str(invoice.credited)},
    )
    _release_overpaid(invoice, note)
    payments.settle(invoice, actor)
    documents.queue_credit_note_document(note)  # rendered, stored and mailed after commit
    return note


def _release_overpaid(invoice: Invoice, note: CreditNote) -> None:
    """What the invoice had been paid beyond what it owes after ``note`` becomes the
    customer's credit: taken off its payments, latest first (no commit)."""
    excess = invoice.paid_minor - (invoice.total_minor - invoice.credited_minor)
    if excess <= 0:
        return
    paid = db.session.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice.id, Payment.applied_minor > 0)
        .order_by(Payment.received_on.desc(), Payment.id.desc())
    )
    for payment in paid:
        if excess <= 0:
            break
        released = min(excess, payment.applied_minor)
        payment.applied_minor -= released
        invoice.paid_minor -= released
        excess -= released
        db.session.add(
            CreditEntry(
                vendor_id=invoice.vendor_id,
                customer_id=invoice.customer_id,
                amount_minor=released,
                currency=invoice.currency,
                payment_id=payment.id,
                note=f"Credit note {note.number} of {invoice.reference}, already paid",
            )
        )
    db.session.flush()


def issue_credit_note(
    actor: Actor,
    invoice: Invoice,
    reason: str,
    nets: Mapping[int, Money] | None = None,
) -> CreditNote:
    """Finance (or the vendor's admin) credits an issued invoice, in full or per line."""
    if not policies.keeps_books(actor):
        raise NotAllowed("You do not have permission to do that.")
    invoice = invoices.lock(invoice)
    note = credit(invoice, actor, reason, nets)
    db.session.commit()
    return note


# --- reading ----------------------------------------------------------------------------


def of_invoice(invoice_id: int) -> list[CreditNote]:
    """The credit notes of an invoice within the caller's reach, oldest first."""
    return list(
        db.session.scalars(
            scoped(CreditNote)
            .where(CreditNote.invoice_id == invoice_id)
            .order_by(CreditNote.sequence_year, CreditNote.sequence_number)
        )
    )


def page_options() -> tuple[Any, ...]:
    return (
        selectinload(CreditNote.lines),
        selectinload(CreditNote.invoice),
    )


# --- an order cancelled ------------------------------------------------------------------


@signals.order_cancelled.connect
def _on_order_cancelled(order: Order, reason: str = "", **_: Any) -> None:
    """In the cancelling transaction: the order's drafts are discarded (their charges
    uninvoiced again, for finance to bill or leave), its issued invoices credited in full
    for what is left, by the system."""
    ids = db.session.scalars(
        select(Invoice.id)
        .where(Invoice.order_id == order.id, Invoice.state != _I.VOID)
        .order_by(Invoice.id)
    ).all()
    why = f"Order {order.reference} cancelled" + (f": {reason}" if reason else ".")
    for invoice_id in ids:
        invoice = invoices.lock(db.session.get(Invoice, invoice_id))
        if invoice.state is _I.DRAFT:
            invoices.void_draft(invoice, None)
        elif invoice.state in CREDITABLE and invoice.credited_minor < invoice.total_minor:
            credit(invoice, None, why[:MAX_REASON])
