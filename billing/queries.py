"""Read paths of the invoice pages: the list with its filters, the invoice page with what is
recorded against it, the "new invoice" page's uninvoiced counts, and the accountant's CSV."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import Organization
from billing.models import (
    OPEN_STATES,
    BillingProfile,
    Charge,
    CreditNote,
    Invoice,
    InvoiceDocument,
    InvoiceState,
    Payment,
    Refund,
)
from core.extensions import db
from core.permissions import Actor, OrgKind, scoped

OVERDUE = "overdue"  # a filter value beside the states: open and past its due date
STATE_FILTERS = (*(state.value for state in InvoiceState), OVERDUE)


@dataclass(frozen=True)
class InvoiceFilters:
    state: str | None = None  # an InvoiceState value or OVERDUE
    customer_id: int | None = None
    issued_from: date | None = None
    issued_to: date | None = None  # inclusive
    number: str = ""  # a part of the number, any case

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in (None, "") for f in fields(self))


def invoices(actor: Actor, filters: InvoiceFilters, today: date) -> Select[tuple[Invoice]]:
    """Invoices within the actor's reach, newest first (drafts, which have no issue date, by
    when they were started)."""
    stmt = scoped(Invoice).options(joinedload(Invoice.customer))
    if filters.state == OVERDUE:
        stmt = stmt.where(Invoice.state.in_(OPEN_STATES), Invoice.due_on < today)
    elif filters.state is not None:
        stmt = stmt.where(Invoice.state == InvoiceState(filters.state))
    if filters.customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == filters.customer_id)
    if filters.issued_from is not None:
        stmt = stmt.where(Invoice.issued_on >= filters.issued_from)
    if filters.issued_to is not None:
        stmt = stmt.where(Invoice.issued_on <= filters.issued_to)
    if filters.number:
        pattern = "%" + filters.number.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        stmt = stmt.where(Invoice.number.ilike(pattern + "%", escape="\\"))
    return stmt.order_by(Invoice.issued_on.desc().nulls_first(), Invoice.id.desc())


def invoice_page_options() -> list[Any]:
    return [selectinload(Invoice.lines), joinedload(Invoice.customer)]


@dataclass(frozen=True)
class Recorded:
    """What the invoice page shows beside the invoice itself."""

    payments: list[Payment]
    refunds: list[Refund]
    credit_notes: list[CreditNote]
    document: InvoiceDocument | None


def recorded_against(invoice: Invoice) -> Recorded:
    """Payments, refunds, credit notes (with lines) and the stored PDF row (bytes deferred)
    of an invoice the caller may already see: four queries whatever their number."""
    payments = list(
        db.session.scalars(
            select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.id)
        )
    )
    refunds = list(
        db.session.scalars(
            select(Refund)
            .where(Refund.invoice_id == invoice.id)
            .options(joinedload(Refund.payment))
            .order_by(Refund.id)
        )
    )
    credit_notes = list(
        db.session.scalars(
            select(CreditNote)
            .where(CreditNote.invoice_id == invoice.id)
            .options(selectinload(CreditNote.lines))
            .order_by(CreditNote.id)
        )
    )
    document = db.session.scalar(
        select(InvoiceDocument).where(
            InvoiceDocument.kind == "invoice", InvoiceDocument.object_id == invoice.id
        )
    )
    return Recorded(payments, refunds, credit_notes, document)


def customers() -> list[Organization]:
    """The vendor's customers, active or not (old invoices name them too), by name."""
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.kind == OrgKind.CUSTOMER)
            .order_by(sa.func.lower(Organization.name), Organization.id)
        )
    )


def uninvoiced_counts() -> dict[int, int]:
    """Customer id → how many charges wait for an invoice."""
    rows = db.session.execute(
        select(Charge.customer_id, sa.func.count())
        .where(Charge.invoice_line_id.is_(None))
        .group_by(Charge.customer_id)
    )
    return dict(rows.all())


def profiles_by_organization() -> dict[int, BillingProfile]:
    """Every billing profile of the tenant by organisation id (one per organisation)."""
    return {p.organization_id: p for p in db.session.scalars(select(BillingProfile))}


CSV_HEADER = [
    "number",
    "issue_date",
    "due_date",
    "customer",
    "customer_tax_id",
    "currency",
    "net",
    "tax",
    "total",
    "paid",
    "credited",
    "balance",
    "state",
    "po_number",
]


def csv_rows(invoices: Iterable[Invoice], today: date) -> Iterator[list[Any]]:
    """One row per invoice, amounts as plain decimals in the invoice's currency; the customer
    as printed on the invoice (its frozen legal name and tax id) once issued."""
    for invoice in invoices:
        buyer = invoice.buyer or {}
        yield [
            invoice.reference,
            invoice.issued_on.isoformat() if invoice.issued_on else "",
            invoice.due_on.isoformat() if invoice.due_on else "",
            buyer.get("legal_name") or invoice.customer.name,
            buyer.get("tax_id", ""),
            invoice.currency,
            invoice.subtotal.to_decimal(),
            invoice.tax.to_decimal(),
            invoice.total.to_decimal(),
            invoice.paid.to_decimal(),
            invoice.credited.to_decimal(),
            invoice.balance.to_decimal(),
            OVERDUE if invoice.overdue_on(today) else invoice.state.value,
            invoice.po_number,
        ]
