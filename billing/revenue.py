"""Revenue by month: invoiced, collected, deferred and recognised, aggregated by SQL in one
statement over the issued invoices, credit notes, payments and refunds (in the vendor's
currency, as every report, ``billing.reports``).

**Revenue is net of tax.** Invoiced and recognised revenue add the lines' net amounts (an
invoice's subtotal), never tax, which the vendor owes the tax office; collected is cash, so
it includes the tax the customer paid.

- *Invoiced* in a month: the net of the invoices issued in it, less the net of the credit
  notes issued in it (a credit note reduces the month it is dated in, never an earlier one).
- *Collected* in a month: payments received in it, as far as they paid invoices (an excess
  kept as customer credit counts when that credit pays an invoice), less refunds in it of
  money that had paid an invoice.
- *Deferred* and *recognised*: every net amount invoiced belongs to the engagement its charge
  names, or to none (a line typed by hand, a charge without an engagement). An amount is
  recognised once its engagement is accepted (or at once when it has none), in the month of
  the later of the acceptance and its document's date, so a closed month never changes;
  until then it is deferred, reported under the month it was invoiced. A credit note line
  credits its invoice line's charges in proportion to their amounts (rounded down), and the
  cents the rounding leaves, like the credit of a line with no charge, belong to no
  engagement. Each amount is in exactly one of the two, so over all time
  **deferred + recognised = invoiced**, to the cent.

A credit note that takes back what an invoice had been paid turns that part of its payments
into customer credit (``billing.credit_notes``): the payments' applied amounts shrink, so
collected shrinks in the months they were received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from billing import reports
from billing.models import Charge, CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment, Refund
from core.extensions import db
from core.money import Money
from delivery import kpis
from delivery.kpis import Period
from delivery.models import Engagement, EngagementState


class month_of(FunctionElement[str]):
    """The "YYYY-MM" of a date."""

    type = sa.String()
    inherit_cache = True


@compiles(month_of)
def _month_of_sqlite(element: month_of, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(next(iter(element.clauses)), **kw)})"


@compiles(month_of, "postgresql")
def _month_of_postgresql(element: month_of, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(next(iter(element.clauses)), **kw)}, 'YYYY-MM')"


@dataclass(frozen=True)
class RevenueMonth:
    month: date | None  # its first day; None for the totals
    invoiced_minor: int
    collected_minor: int
    deferred_minor: int
    recognised_minor: int
    currency: str

    def _money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def invoiced(self) -> Money:
        return self._money(self.invoiced_minor)

    @property
    def collected(self) -> Money:
        return self._money(self.collected_minor)

    @property
    def deferred(self) -> Money:
        return self._money(self.deferred_minor)

    @property
    def recognised(self) -> Money:
        return self._money(self.recognised_minor)


@dataclass(frozen=True)
class Revenue:
    period: Period
    currency: str
    months: list[RevenueMonth]
    totals: RevenueMonth


def _no_engagement() -> sa.ColumnElement[Any]:
    return sa.cast(sa.null(), sa.Integer)


def revenue_entries(vendor_id: int, currency: str) -> sa.Subquery:
    """Every net amount invoiced (positive) or credited (negative), with the engagement it
    belongs to (or none) and the date of its document: ``amount``, ``engagement_id``, ``on``."""
    issued = reports.issued_invoices(vendor_id, currency)
    credited = reports.credit_notes_in(vendor_id, currency)
    charged = (
        sa.select(Charge.invoice_line_id.label("line_id"), sa.func.sum(Charge.amount_minor))
        .where(Charge.vendor_id == vendor_id, Charge.invoice_line_id.is_not(None))
        .group_by(Charge.invoice_line_id)
        .subquery("charged")
    )
    charged_sum = list(charged.c)[1]
    charges = (
        sa.select(Charge.amount_minor, Charge.engagement_id, Invoice.issued_on)
        .join(InvoiceLine, InvoiceLine.id == Charge.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(issued)
    )
    rests = (
        sa.select(
            InvoiceLine.net_minor - sa.func.coalesce(charged_sum, 0),
            _no_engagement(),
            Invoice.issued_on,
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .outerjoin(charged, charged.c.line_id == InvoiceLine.id)
        .where(issued)
    )
    # A credit line's share of each charge of its invoice line, rounded down.
    share = (CreditNoteLine.net_minor * Charge.amount_minor) // InvoiceLine.net_minor

    def credit_lines(*columns: Any) -> sa.Select[Any]:
        return (
            sa.select(*columns)
            .select_from(CreditNoteLine)
            .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
            .where(credited)
        )

    shares = (
        credit_lines(-share, Charge.engagement_id, CreditNote.issued_on)
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .join(Charge, Charge.invoice_line_id == InvoiceLine.id)
        .where(InvoiceLine.net_minor > 0)
    )
    shared = (
        credit_lines(CreditNoteLine.id.label("credit_line_id"), sa.func.sum(share).label("shared"))
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .join(Charge, Charge.invoice_line_id == InvoiceLine.id)
        .where(InvoiceLine.net_minor > 0)
        .group_by(CreditNoteLine.id)
        .subquery("shared")
    )
    credit_rests = credit_lines(
        sa.func.coalesce(shared.c.shared, 0) - CreditNoteLine.net_minor,
        _no_engagement(),
        CreditNote.issued_on,
    ).outerjoin(shared, shared.c.credit_line_id == CreditNoteLine.id)
    entries = sa.union_all(charges, rests, shares, credit_rests).subquery("entries")
    amount, engagement_id, on = entries.c
    return sa.select(
        amount.label("amount"), engagement_id.label("engagement_id"), on.label("on")
    ).subquery("revenue_entries")


def _month_start(value: str) -> date:
    year, month = value.split("-")
    return date(int(year), int(month), 1)


def months_of(period: Period) -> list[date]:
    """The first day of each month the period touches."""
    months, month = [], period.start.replace(day=1)
    while month <= period.end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def revenue_statement(vendor_id: int, currency: str, period: Period) -> sa.CompoundSelect:
    """(kind, month, amount, deferred) rows: invoiced (with its deferred part), recognised,
    collected and refunded, grouped by month, in one statement."""
    entries = revenue_entries(vendor_id, currency)
    # The table, not the mapped class: the tenant scope's criteria on an entity outer-joined
    # to a subquery land in WHERE and would drop every amount without an engagement.
    engagement = Engagement.__table__
    accepted_on = kpis.utc_day(engagement.c.accepted_at)
    has_engagement = entries.c.engagement_id.is_not(None)
    recognised = sa.or_(~has_engagement, engagement.c.state == EngagementState.ACCEPTED)
    recognised_on = sa.case(
        (sa.and_(has_engagement, accepted_on > entries.c.on), accepted_on), else_=entries.c.on
    )
    joined = entries.outerjoin(
        engagement,
        sa.and_(engagement.c.id == entries.c.engagement_id, engagement.c.vendor_id == vendor_id),
    )
    start, end = period.start, period.end
    invoiced_month = month_of(entries.c.on)
    recognised_month = month_of(recognised_on)
    zero = sa.literal(0, sa.BigInteger)
    invoiced = (
        sa.select(
            sa.literal("invoiced").label("kind"),
            invoiced_month.label("month"),
            sa.func.sum(entries.c.amount).label("amount"),
            sa.func.sum(sa.case((recognised, 0), else_=entries.c.amount)).label("deferred"),
        )
        .select_from(joined)
        .where(entries.c.on >= start, entries.c.on <= end)
        .group_by(invoiced_month)
    )
    recognised_rows = (
        sa.select(sa.literal("recognised"), recognised_month, sa.func.sum(entries.c.amount), zero)
        .select_from(joined)
        .where(recognised, recognised_on >= start, recognised_on <= end)
        .group_by(recognised_month)
    )
    received = month_of(Payment.received_on)
    collected = (
        sa.select(sa.literal("collected"), received, sa.func.sum(Payment.applied_minor), zero)
        .where(
            Payment.vendor_id == vendor_id,
            Payment.currency == currency,
            Payment.received_on >= start,
            Payment.received_on <= end,
        )
        .group_by(received)
    )
    refunded_month = month_of(Refund.refunded_on)
    refunded = (
        sa.select(
            sa.literal("collected"), refunded_month, -sa.func.sum(Refund.from_invoice_minor), zero
        )
        .where(
            Refund.vendor_id == vendor_id,
            Refund.currency == currency,
            Refund.refunded_on >= start,
            Refund.refunded_on <= end,
        )
        .group_by(refunded_month)
    )
    return sa.union_all(invoiced, recognised_rows, collected, refunded)


def by_month(vendor_id: int, period: Period) -> Revenue:
    """Invoiced, collected, deferred and recognised by month over ``period`` (module
    docstring), every month of the period listed, with the totals."""
    currency = reports.vendor_currency(vendor_id)
    figures: dict[date, dict[str, int]] = {
        month: {"invoiced": 0, "collected": 0, "deferred": 0, "recognised": 0}
        for month in months_of(period)
    }
    for kind, month, amount, deferred in db.session.execute(
        revenue_statement(vendor_id, currency, period)
    ):
        row = figures[_month_start(month)]
        row[kind] += int(amount or 0)
        if kind == "invoiced":
            row["deferred"] += int(deferred or 0)
    months = [
        RevenueMonth(month, f["invoiced"], f["collected"], f["deferred"], f["recognised"], currency)
        for month, f in figures.items()
    ]
    totals = RevenueMonth(
        None,
        *(sum(getattr(m, name) for m in months) for name in REVENUE_FIGURES),
        currency,
    )
    return Revenue(period, currency, months, totals)


REVENUE_FIGURES = ("invoiced_minor", "collected_minor", "deferred_minor", "recognised_minor")
