"""Invoices from draft to issued: lines and their tax, the legal number, the frozen copy.

A draft is finance's (or a billing policy's) work in progress: lines come from charges
(``billing.charges``) or are typed by hand, and totals follow every change. ``issue`` freezes
it in one transaction: the next number of the vendor's sequence of the year
(``core.sequences``: consecutive under any concurrency, and given back by a rollback, so a
crash half-way through uses no number), the issue and due dates, both parties' legal details
and the payment instructions as printed. After that nothing on the invoice changes but what
payments and credit notes record against it; the PDF is rendered once, after commit, by a
queued job (``billing.documents``), which then mails it to the customer's billing contacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.models import Organization
from billing import policies
from billing.models import INVOICE_LIFE, BillingProfile, Charge, Invoice, InvoiceLine, InvoiceState
from core import audit, queue, sequences, states
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor

_I = InvoiceState
MAX_LINES = 100
MAX_DESCRIPTION = 300
MAX_QUANTITY = 10_000
MAX_NOTES = 1000
MAX_PO = 64
MAX_TERMS_DAYS = 365

IMMUTABLE = (
    "An issued invoice never changes; correct it with a credit note."  # said on every refusal
)


def lock(invoice: Invoice) -> Invoice:
    """Re-read ``invoice`` under a row lock with its lines: payments, credit notes and issuing
    decide on the invoice as it is now."""
    return db.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice.id)
        .options(selectinload(Invoice.lines))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def profile_of(organization_id: int) -> BillingProfile | None:
    return db.session.scalar(
        select(BillingProfile).where(BillingProfile.organization_id == organization_id)
    )


def tax_rate_for(vendor: Organization, customer_id: int) -> Decimal:
    """The customer's own rate where the vendor set one (reverse charge: 0 %), else the
    vendor's default."""
    profile = profile_of(customer_id)
    if profile is not None and profile.tax_rate is not None:
        return Decimal(profile.tax_rate)
    return Decimal(vendor.tax_rate)


def line_amounts(
    quantity: int, unit_price_minor: int, rate: Decimal, currency: str
) -> tuple[int, int]:
    """Net and tax of one line, tax rounded half-up on the line (never on the invoice)."""
    net = Money(unit_price_minor, currency) * quantity
    return net.amount, net.percent(rate).amount


def _check_draft(invoice: Invoice) -> None:
    if invoice.state is not _I.DRAFT:
        raise InvalidTransition(
            f"Invoice {invoice.reference} is {invoice.state.label.lower()}. {IMMUTABLE}"
        )


def _refuse_unless_books(actor: Actor | None) -> None:
    if not policies.keeps_books(actor):
        raise NotAllowed("You do not have permission to do that.")


def _total(invoice: Invoice) -> None:
    invoice.subtotal_minor = sum(line.net_minor for line in invoice.lines)
    invoice.tax_minor = sum(line.tax_minor for line in invoice.lines)
    invoice.total_minor = invoice.subtotal_minor + invoice.tax_minor


# --- drafts ------------------------------------------------------------------------------


def new_draft(
    vendor: Organization,
    customer_id: int,
    *,
    created_by_id: int | None,
    order_id: int | None = None,
    po_number: str = "",
    terms_days: int | None = None,
    origin: str = "",
) -> Invoice:
    """An empty draft for ``customer_id`` in the vendor's currency (audited; no commit)."""
    invoice = Invoice(
        vendor_id=vendor.id,
        customer_id=customer_id,
        order_id=order_id,
        currency=vendor.currency,
        po_number=po_number[:MAX_PO],
        terms_days=vendor.payment_terms_days if terms_days is None else terms_days,
        origin=origin[:200],
        created_by_id=created_by_id,
        lines=[],
    )
    states.begin(INVOICE_LIFE, invoice, _I.DRAFT)
    db.session.add(invoice)
    db.session.flush()
    audit.record("invoice.drafted", invoice, changes={"customer_id": customer_id, "origin": origin})
    return invoice


def put_charges(invoice: Invoice, charges: Iterable[Charge], vendor: Organization) -> None:
    """Add ``charges`` to a draft: one line per order line and amount (three units of a
    servlet are one line of quantity three), each charge pointing at its line. No commit."""
    rate = tax_rate_for(vendor, invoice.customer_id)
    position = max((line.position for line in invoice.lines), default=0)

    def same_line(charge: Charge) -> tuple[Any, ...]:
        return (charge.order_line_id, charge.description, charge.amount_minor)

    for _, group in groupby(sorted(charges, key=lambda c: (*same_line(c), c.id)), same_line):
        units = list(group)
        first = units[0]
        if first.currency != invoice.currency:
            raise ServiceError(
                f"Charges in {first.currency} cannot go on a {invoice.currency} invoice."
            )
        position += 1
        net, tax = line_amounts(len(units), first.amount_minor, rate, invoice.currency)
        line = InvoiceLine(
            vendor_id=invoice.vendor_id,
            position=position,
            description=first.description,
            quantity=len(units),
            unit_price_minor=first.amount_minor,
            net_minor=net,
            tax_rate=rate,
            tax_minor=tax,
            currency=invoice.currency,
            servlet_id=first.servlet_id,
        )
        invoice.lines.append(line)
        db.session.flush()
        for charge in units:
            charge.invoice_line_id = line.id
    _total(invoice)


def _text(value: str, what: str, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ServiceError(f"{what}: required.")
    if len(value) > limit:
        raise ServiceError(f"{what}: at most {limit:,} characters.")
    return value


def add_line(
    actor: Actor,
    invoice: Invoice,
    description: str,
    quantity: int,
    unit_price: Money,
    tax_rate: Decimal | None = None,
) -> InvoiceLine:
    """Finance adds a line by hand to a draft; the tax rate defaults to the customer's."""
    _refuse_unless_books(actor)
    invoice = lock(invoice)
    _check_draft(invoice)
    description = _text(description, "Description", MAX_DESCRIPTION, required=True)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ServiceError(f"Quantity: a whole number from 1 to {MAX_QUANTITY:,}.")
    if unit_price.currency != invoice.currency:
        raise ServiceError(f"Unit price: this invoice is in {invoice.currency}.")
    if unit_price.amount < 0:
        raise ServiceError("Unit price: cannot be negative; credit with a credit note instead.")
    if len(invoice.lines) >= MAX_LINES:
        raise ServiceError(f"An invoice holds at most {MAX_LINES} lines.")
    vendor = db.session.get(Organization, invoice.vendor_id)
    rate = tax_rate_for(vendor, invoice.customer_id) if tax_rate is None else tax_rate
    if not Decimal(0) <= rate <= Decimal(100):
        raise ServiceError("Tax rate: a percentage from 0 to 100.")
    net, tax = line_amounts(quantity, unit_price.amount, rate, invoice.currency)
    line = InvoiceLine(
        vendor_id=invoice.vendor_id,
        position=max((line.position for line in invoice.lines), default=0) + 1,
        description=description,
        quantity=quantity,
        unit_price_minor=unit_price.amount,
        net_minor=net,
        tax_rate=rate,
        tax_minor=tax,
        currency=invoice.currency,
    )
    invoice.lines.append(line)
    _total(invoice)
    db.session.flush()
    audit.record(
        "invoice.line_added",
        invoice,
        changes={"line_id": line.id, "description": description, "net": str(line.net)},
    )
    db.session.commit()
    return line


def remove_line(actor: Actor, invoice: Invoice, line_id: int) -> None:
    """Take a line off a draft; its charges are uninvoiced items again."""
    _refuse_unless_books(actor)
    invoice = lock(invoice)
    _check_draft(invoice)
    line = next((line for line in invoice.lines if line.id == line_id), None)
    if line is None:
        raise ServiceError("That line is not on this invoice.")
    db.session.execute(
        sa.update(Charge).where(Charge.invoice_line_id == line.id).values(invoice_line_id=None)
    )
    invoice.lines.remove(line)
    _total(invoice)
    audit.record(
        "invoice.line_removed", invoice, changes={"line_id": line_id, "net": str(line.net)}
    )
    db.session.commit()


def update_draft(
    actor: Actor, invoice: Invoice, *, po_number: str, notes: str, terms_days: int
) -> None:
    """PO number, notes and payment terms of a draft."""
    _refuse_unless_books(actor)
    invoice = lock(invoice)
    _check_draft(invoice)
    if not 0 <= terms_days <= MAX_TERMS_DAYS:
        raise ServiceError(f"Payment terms: from 0 to {MAX_TERMS_DAYS} days.")
    changes = audit.diff(
        invoice,
        {
            "po_number": _text(po_number, "PO number", MAX_PO),
            "notes": _text(notes, "Notes", MAX_NOTES),
            "terms_days": terms_days,
        },
    )
    if changes:
        audit.record("invoice.updated", invoice, changes=changes)
    db.session.commit()


def draft_from_uninvoiced(actor: Actor, customer_id: int) -> Invoice:
    """Finance drafts an invoice of everything billable to a customer not yet on one."""
    _refuse_unless_books(actor)
    vendor = db.session.get(Organization, actor.vendor_id)
    customer = db.session.get(Organization, customer_id)
    if customer is None or customer.vendor_id != vendor.id or customer.kind != "customer":
        raise ServiceError("Choose one of your customers.")
    charges = db.session.scalars(
        select(Charge)
        .where(Charge.customer_id == customer_id, Charge.invoice_line_id.is_(None))
        .order_by(Charge.id)
        .with_for_update()
    ).all()
    if not charges:
        raise ServiceError(f"{customer.name} has nothing uninvoiced.")
    invoice = new_draft(vendor, customer_id, created_by_id=actor.user_id, origin="Uninvoiced items")
    put_charges(invoice, charges, vendor)
    db.session.commit()
    return invoice


def draft_for(actor: Actor, customer_id: int) -> Invoice:
    """Finance starts an empty draft for one of its customers, to fill by hand."""
    _refuse_unless_books(actor)
    vendor = db.session.get(Organization, actor.vendor_id)
    customer = db.session.get(Organization, customer_id)
    if customer is None or customer.vendor_id != vendor.id or customer.kind != "customer":
        raise ServiceError("Choose one of your customers.")
    invoice = new_draft(vendor, customer_id, created_by_id=actor.user_id)
    db.session.commit()
    return invoice


def discard(actor: Actor, invoice: Invoice) -> None:
    """A draft nobody will issue: void without a number, its charges uninvoiced again."""
    _refuse_unless_books(actor)
    invoice = lock(invoice)
    void_draft(invoice, actor)
    db.session.commit()


def void_draft(invoice: Invoice, actor: Actor | None) -> None:
    """Void a locked draft and uninvoice its charges (no commit); ``None`` is the system
    (a cancelled order's drafts, ``billing.credit_notes``)."""
    _check_draft(invoice)
    db.session.execute(
        sa.update(Charge)
        .where(Charge.invoice_line_id.in_([line.id for line in invoice.lines]))
        .values(invoice_line_id=None)
    )
    states.transition(INVOICE_LIFE, invoice, _I.VOID, actor)


# --- issuing -----------------------------------------------------------------------------


def _party(organization: Organization) -> dict[str, str]:
    profile = profile_of(organization.id)
    return {
        "name": organization.name,
        "legal_name": (profile.legal_name if profile else "") or organization.name,
        "address": profile.address if profile else "",
        "tax_id": profile.tax_id if profile else "",
        "tax_note": profile.tax_note if profile else "",
    }


def invoice_number(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


def freeze(invoice: Invoice, actor: Actor | None, today: date | None = None) -> None:
    """Number, date and freeze a locked draft (no commit): the caller's transaction holds
    the number, so a rollback gives it back."""
    _check_draft(invoice)
    if not invoice.lines:
        raise ServiceError("An invoice needs at least one line before it is issued.")
    _total(invoice)
    if invoice.total_minor <= 0:
        raise ServiceError("An invoice of nothing cannot be issued; discard the draft instead.")
    vendor = db.session.get(Organization, invoice.vendor_id)
    seller, buyer = _party(vendor), _party(db.session.get(Organization, invoice.customer_id))
    profile = profile_of(vendor.id)
    today = today or utcnow().date()
    sequence_number = sequences.next_number(vendor.id, f"invoice-{today.year}")
    with db.session.no_autoflush:  # the row is written numbered and issued, or not at all
        invoice.sequence_year = today.year
        invoice.sequence_number = sequence_number
        invoice.number = invoice_number(vendor.invoice_prefix, today.year, sequence_number)
        invoice.issued_on = today
        invoice.due_on = today + timedelta(days=invoice.terms_days)
        invoice.seller, invoice.buyer = seller, buyer
        invoice.payment_instructions = profile.bank_details if profile else ""
        invoice.issued_by_id = actor.user_id if actor is not None else None
        states.transition(
            INVOICE_LIFE, invoice, _I.ISSUED, actor, number=invoice.number, total=str(invoice.total)
        )
    queue.enqueue(
        "invoice.document",
        f"invoice-document:{invoice.id}",
        vendor_id=invoice.vendor_id,
        payload={"invoice_id": invoice.id},
    )


def issue(actor: Actor, invoice: Invoice) -> Invoice:
    """Finance issues a draft: numbered, frozen, and (after commit) rendered and mailed."""
    _refuse_unless_books(actor)
    invoice = lock(invoice)
    freeze(invoice, actor)
    db.session.commit()
    return invoice
