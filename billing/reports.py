"""Finance's reports, aggregated by SQL over the issued invoices, credit notes and customer
credit: what customers owe by age (AR ageing) and revenue and margin by servlet; revenue by
month is ``billing.revenue``, which says how revenue is counted.

Figures are in the vendor's currency, in minor units; documents in another currency are
counted apart (``other_currency``), as the delivery KPIs do, since adding currencies needs an
exchange rate the product does not keep. Each report is a fixed number of statements whatever
the number of invoices.

- *AR ageing*: what each open invoice still owes (total less credited less paid, tax
  included: it is what the customer must pay), by days past its due date on the day asked:
  current (not yet due, due today included), 1-30, 31-60, 61-90 and over 90 days; beside it
  the customer's credit that no invoice has used yet.
- *Margin* of a servlet over a period: its invoiced net revenue (lines of invoices issued in
  the period less credit note lines dated in it, as ``billing.revenue`` counts invoiced) less
  the delivery cost (approved time at cost and partner fees, ``delivery.kpis.delivery_cost``)
  of its engagements delivered in the period, the cost the delivery dashboard counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from accounts.models import Organization
from billing.models import (
    OPEN_STATES,
    CreditEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
)
from core.extensions import db
from core.money import Money
from delivery import kpis
from delivery.kpis import Period

# The periods the revenue reports offer, by the name their address carries.
PERIODS = {
    "month": "This month",
    "last_month": "Last month",
    "quarter": "This quarter",
    "year": "This year",
    "last_year": "Last year",
    "custom": "Custom",
}


def preset(name: str, today: date) -> Period:
    """The period ``name`` (a key of ``PERIODS`` but custom) as seen on ``today``."""
    if name == "year":
        return Period(date(today.year, 1, 1), today)
    if name == "last_year":
        return Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))
    return kpis.preset(name, today)


custom_period = kpis.custom_period


def vendor_currency(vendor_id: int) -> str:
    return kpis.vendor_currency(vendor_id)


def issued_invoices(vendor_id: int, currency: str) -> sa.ColumnElement[bool]:
    """Invoices that were issued (numbered), in ``currency``: not drafts, nor discarded ones."""
    return sa.and_(
        Invoice.vendor_id == vendor_id,
        Invoice.issued_on.is_not(None),
        Invoice.currency == currency,
    )


def credit_notes_in(vendor_id: int, currency: str) -> sa.ColumnElement[bool]:
    return sa.and_(CreditNote.vendor_id == vendor_id, CreditNote.currency == currency)


# --- AR ageing ---------------------------------------------------------------------------

# (key, label, fewest days past due, most): "current" is not yet due (due today included).
BUCKETS = (
    ("current", "Current", None, 0),
    ("1_30", "1–30 days", 1, 30),  # noqa: RUF001 (an en dash, as printed)
    ("31_60", "31–60 days", 31, 60),  # noqa: RUF001 (an en dash, as printed)
    ("61_90", "61–90 days", 61, 90),  # noqa: RUF001 (an en dash, as printed)
    ("over_90", "Over 90 days", 91, None),
)


@dataclass(frozen=True)
class AgeingRow:
    """What one customer owes on its open invoices, by days past due, and its credit that
    no invoice has used yet."""

    customer_id: int | None  # None: the totals
    name: str
    currency: str
    buckets: tuple[int, ...]  # minor units, in ``BUCKETS`` order
    invoices: int
    overdue_invoices: int
    credit_minor: int = 0

    def amounts(self) -> list[Money]:
        return [Money(amount, self.currency) for amount in self.buckets]

    @property
    def total(self) -> Money:
        return Money(sum(self.buckets), self.currency)

    @property
    def overdue(self) -> Money:
        return Money(sum(self.buckets[1:]), self.currency)

    @property
    def credit(self) -> Money:
        return Money(self.credit_minor, self.currency)


@dataclass(frozen=True)
class Ageing:
    as_of: date
    currency: str
    rows: list[AgeingRow]
    totals: AgeingRow
    other_currency: int  # open invoices in another currency, left out


def outstanding() -> sa.ColumnElement[int]:
    """What an invoice still owes (``Invoice.balance``)."""
    return Invoice.total_minor - Invoice.credited_minor - Invoice.paid_minor


def _due_between(today: date, fewest: int | None, most: int | None) -> sa.ColumnElement[bool]:
    """Due ``fewest`` to ``most`` days before ``today`` (an open end when None); an invoice
    without a due date is current."""
    due = sa.func.coalesce(Invoice.due_on, today)
    conditions = []
    if fewest is not None:
        conditions.append(due <= today - timedelta(days=fewest))
    if most is not None:
        conditions.append(due >= today - timedelta(days=most))
    return sa.and_(*conditions)


def open_invoices(vendor_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(Invoice.vendor_id == vendor_id, Invoice.state.in_(OPEN_STATES))


def ageing(vendor_id: int, today: date) -> Ageing:
    """Per customer, what its open invoices still owe by days past due on ``today``, largest
    total first; and the customer credit waiting to be used (two statements)."""
    currency = vendor_currency(vendor_id)
    mine = Invoice.currency == currency

    def summed(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(
            sa.func.sum(sa.case((sa.and_(mine, condition), outstanding()), else_=0)), 0
        )

    rows = db.session.execute(
        sa.select(
            Invoice.customer_id,
            Organization.name,
            *(summed(_due_between(today, low, high)) for _, _, low, high in BUCKETS),
            sa.func.sum(sa.case((mine, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(mine, Invoice.due_on < today), 1), else_=0)),
            sa.func.sum(sa.case((mine, 0), else_=1)),
        )
        .join(Organization, Organization.id == Invoice.customer_id)
        .where(open_invoices(vendor_id))
        .group_by(Invoice.customer_id, Organization.name)
    ).all()
    credits = dict(credit_balances(vendor_id, currency))
    names = {row[0]: row[1] for row in rows}
    names |= customer_names([c for c in credits if c not in names])
    by_customer: dict[int, AgeingRow] = {}
    for customer_id, _name, *figures in rows:
        *buckets, count, late, _other = (int(value or 0) for value in figures)
        if count:
            by_customer[customer_id] = AgeingRow(
                customer_id, names[customer_id], currency, tuple(buckets), count, late
            )
    for customer_id, credit in credits.items():
        row = by_customer.get(customer_id) or AgeingRow(
            customer_id, names[customer_id], currency, (0,) * len(BUCKETS), 0, 0
        )
        by_customer[customer_id] = replace(row, credit_minor=credit)
    made = sorted(by_customer.values(), key=lambda r: (-sum(r.buckets), r.name.casefold()))
    other = sum(int(row[-1] or 0) for row in rows)
    return Ageing(today, currency, made, _ageing_totals(made, currency), other)


def _ageing_totals(rows: list[AgeingRow], currency: str) -> AgeingRow:
    return AgeingRow(
        None,
        "Total",
        currency,
        tuple(sum(r.buckets[i] for r in rows) for i in range(len(BUCKETS))),
        sum(r.invoices for r in rows),
        sum(r.overdue_invoices for r in rows),
        sum(r.credit_minor for r in rows),
    )


def credit_balances(vendor_id: int, currency: str) -> list[tuple[int, int]]:
    """(customer id, credit not yet used) of each customer holding some, in ``currency``."""
    balance = sa.func.sum(CreditEntry.amount_minor)
    return [
        (customer_id, int(amount))
        for customer_id, amount in db.session.execute(
            sa.select(CreditEntry.customer_id, balance)
            .where(CreditEntry.vendor_id == vendor_id, CreditEntry.currency == currency)
            .group_by(CreditEntry.customer_id)
            .having(balance > 0)
        )
    ]


def customer_names(customer_ids: list[int]) -> dict[int, str]:
    if not customer_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(Organization.id, Organization.name).where(Organization.id.in_(customer_ids))
        ).all()
    )


# --- revenue and margin by servlet -------------------------------------------------------


@dataclass(frozen=True)
class ServletMargin:
    servlet_id: int | None  # None: lines without a servlet, or the totals
    name: str
    revenue_minor: int
    cost_minor: int
    currency: str

    @property
    def revenue(self) -> Money:
        return Money(self.revenue_minor, self.currency)

    @property
    def cost(self) -> Money:
        return Money(self.cost_minor, self.currency)

    @property
    def margin(self) -> Money:
        return Money(self.revenue_minor - self.cost_minor, self.currency)

    @property
    def margin_rate(self) -> Decimal | None:
        """Margin as a fraction of revenue; None without revenue."""
        if not self.revenue_minor:
            return None
        return (Decimal(self.revenue_minor - self.cost_minor) / self.revenue_minor).quantize(
            Decimal("0.0001")
        )


@dataclass(frozen=True)
class Margins:
    period: Period
    currency: str
    rows: list[ServletMargin]
    totals: ServletMargin


WITHOUT_SERVLET = "Lines without a servlet"


def margin_statement(vendor_id: int, currency: str, period: Period) -> sa.Select[Any]:
    """(servlet id, net revenue, delivery cost) per servlet over ``period``, one statement."""
    issued = issued_invoices(vendor_id, currency)
    zero = sa.literal(0, sa.BigInteger)
    lines = (
        sa.select(InvoiceLine.servlet_id, InvoiceLine.net_minor, zero)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(issued, Invoice.issued_on >= period.start, Invoice.issued_on <= period.end)
    )
    credits = (
        sa.select(InvoiceLine.servlet_id, -CreditNoteLine.net_minor, zero)
        .select_from(CreditNoteLine)
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .where(
            credit_notes_in(vendor_id, currency),
            CreditNote.issued_on >= period.start,
            CreditNote.issued_on <= period.end,
        )
    )
    delivered = (
        kpis.delivered_in(vendor_id, currency, period)
        .add_columns(kpis.delivery_cost().label("cost"))
        .subquery("delivered")
    )
    costs = sa.select(delivered.c.servlet_id, zero, delivered.c.cost)
    parts = sa.union_all(lines, credits, costs).subquery("parts")
    servlet_id, amount, cost = parts.c
    return sa.select(
        servlet_id.label("servlet_id"),
        sa.func.sum(amount).label("revenue"),
        sa.func.sum(cost).label("cost"),
    ).group_by(servlet_id)


def margins(vendor_id: int, period: Period) -> Margins:
    """Net revenue, delivery cost and margin of each servlet over ``period``, largest
    revenue first, with the totals."""
    currency = vendor_currency(vendor_id)
    rows = db.session.execute(margin_statement(vendor_id, currency, period)).all()
    names = kpis.servlet_names([row.servlet_id for row in rows if row.servlet_id is not None])
    made = [
        ServletMargin(
            row.servlet_id,
            WITHOUT_SERVLET if row.servlet_id is None else names.get(row.servlet_id, "—"),
            int(row.revenue or 0),
            int(row.cost or 0),
            currency,
        )
        for row in rows
    ]
    made.sort(key=lambda m: (m.servlet_id is None, -m.revenue_minor, m.name.casefold()))
    totals = ServletMargin(
        None,
        "Total",
        sum(m.revenue_minor for m in made),
        sum(m.cost_minor for m in made),
        currency,
    )
    return Margins(period, currency, made, totals)
