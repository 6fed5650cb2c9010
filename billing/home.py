"""What billing puts on finance's home: invoices overdue, invoices to issue, payments to match.

Figures count the statements the lists behind them show (the invoice list's filters,
``billing.queries``; the AR ageing report), so a figure and its list never disagree. Amounts
are in the vendor's currency, as the reports are.

"Payments to match" is money received that does not yet sit where it belongs: customer credit
(an overpayment, or a paid invoice credited afterwards) that no invoice has used yet, and
invoices paid in part, whose payment fell short of what they owe. Card payments Stripe
reported with a wrong amount are ordering's "Card payments" panel, beside this one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for

from billing import bp, policies, queries, reports, revenue
from billing.models import Charge, Invoice, InvoiceState
from billing.queries import OVERDUE, InvoiceFilters
from billing.report_views import money_bars, month_label
from core.charts import BarChart
from core.db import utcnow
from core.extensions import db
from core.home import Figure, Panel, Row, ago, count, home_panel
from core.money import Money
from core.permissions import Actor, Role, current_actor
from core.templating import date_filter
from delivery.kpis import Period

SHOWN = 5
TREND_MONTHS = 6  # this month and the five before it


def _url(endpoint: str, **values: Any) -> str | None:
    """The address of ``endpoint`` when the app offers it (invoice pages are built beside
    this), else None."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _invoice_list(**filters: Any) -> str:
    return _url("billing.invoices", **filters) or url_for("billing.ar_ageing")


def _invoice_link(invoice: Invoice) -> str:
    return _url("billing.invoice", invoice_id=invoice.id) or _invoice_list()


def _sum(stmt: sa.Select[Any], currency: str, amount: Any) -> Money:
    """The sum of ``amount`` over the invoices of ``stmt`` in ``currency``."""
    ids = stmt.with_only_columns(Invoice.id).order_by(None)
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(amount), 0)).where(
            Invoice.id.in_(ids), Invoice.currency == currency
        )
    )
    return Money(int(total), currency)


def _days(days: int) -> str:
    return f"{days} day{'s' if days != 1 else ''}"


def _overdue_row(invoice: Invoice, today: date) -> Row:
    return Row(
        label=f"{invoice.reference} · {invoice.customer.name}",
        detail=f"{invoice.balance} owed · {_days(invoice.days_overdue(today))} overdue"
        f" (due {date_filter(invoice.due_on)})",
        link=_invoice_link(invoice),
    )


@home_panel(Role.FINANCE)
def overdue_invoices(actor: Actor) -> Panel:
    today = utcnow().date()
    late = queries.invoices(actor, InvoiceFilters(state=OVERDUE), today)
    listed = count(late)
    owed = _sum(late, reports.vendor_currency(actor.vendor_id), reports.outstanding())
    oldest = late.order_by(None).order_by(Invoice.due_on, Invoice.id).limit(SHOWN)
    return Panel(
        key="overdue",
        title="Overdue invoices",
        figures=(
            Figure("Overdue", str(owed), url_for("billing.ar_ageing")),
            Figure("Invoices overdue", str(listed), _invoice_list(state=OVERDUE)),
        ),
        rows=tuple(_overdue_row(i, today) for i in db.session.scalars(oldest)),
        more=max(listed - SHOWN, 0),
        empty="No invoice is overdue: every open invoice is within its payment terms.",
        action=("AR ageing", url_for("billing.ar_ageing")),
    )


def _draft_row(invoice: Invoice) -> Row:
    return Row(
        label=f"{invoice.reference} · {invoice.customer.name}",
        detail=f"{invoice.origin or 'Drafted by hand'} · {invoice.total}"
        f" · drafted {ago(invoice.created_at)}",
        link=_invoice_link(invoice),
        action="Review",
    )


@home_panel(Role.FINANCE)
def invoices_to_issue(actor: Actor) -> Panel:
    today = utcnow().date()
    drafts = queries.invoices(actor, InvoiceFilters(state=InvoiceState.DRAFT.value), today)
    listed = count(drafts)
    waiting = _sum(drafts, reports.vendor_currency(actor.vendor_id), Invoice.total_minor)
    oldest = drafts.order_by(None).order_by(Invoice.created_at, Invoice.id).limit(SHOWN)
    uninvoiced = db.session.scalar(
        sa.select(sa.func.count(Charge.id)).where(Charge.invoice_line_id.is_(None))
    )
    new_invoice = _url("billing.new_invoice")
    figures = [
        Figure("Drafts to issue", str(listed), _invoice_list(state=InvoiceState.DRAFT.value)),
        Figure("Their total", str(waiting), _invoice_list(state=InvoiceState.DRAFT.value)),
    ]
    if new_invoice:
        figures.append(Figure("Items not on an invoice", str(uninvoiced), new_invoice))
    empty = "No draft waits to be issued."
    empty += (
        f" {uninvoiced} billable item(s) wait for an invoice: draft one from them."
        if uninvoiced
        else " Billing policies draft invoices here when work starts or is accepted."
    )
    action = ("All invoices", _invoice_list())
    if not listed and uninvoiced and new_invoice:
        action = ("Draft an invoice", new_invoice)
    return Panel(
        key="drafts",
        title="Invoices to issue",
        figures=tuple(figures),
        rows=tuple(_draft_row(i) for i in db.session.scalars(oldest)),
        more=max(listed - SHOWN, 0),
        empty=empty,
        action=action,
    )


@home_panel(Role.FINANCE)
def payments_to_match(actor: Actor) -> Panel:
    """Unused customer credit (per customer) and invoices paid in part (module docstring)."""
    today = utcnow().date()
    currency = reports.vendor_currency(actor.vendor_id)
    credits = reports.credit_balances(actor.vendor_id, currency)
    credits.sort(key=lambda pair: (-pair[1], pair[0]))
    names = reports.customer_names([customer_id for customer_id, _ in credits[:SHOWN]])
    partly = queries.invoices(actor, InvoiceFilters(state=InvoiceState.PARTIALLY_PAID.value), today)
    partly_listed = count(partly)
    unused = Money(sum(amount for _, amount in credits), currency)
    rows = [
        Row(
            label=f"{names.get(customer_id, '—')} · {Money(amount, currency)} of credit unused",
            detail="Use it on one of the customer's open invoices, or refund it.",
            link=_invoice_list(customer=customer_id),
        )
        for customer_id, amount in credits[:SHOWN]
    ]
    oldest = partly.order_by(None).order_by(Invoice.due_on, Invoice.id).limit(SHOWN - len(rows))
    rows += [
        Row(
            label=f"{i.reference} · {i.customer.name}",
            detail=f"{i.paid} paid of {i.total} · {i.balance} still owed",
            link=_invoice_link(i),
        )
        for i in (db.session.scalars(oldest) if len(rows) < SHOWN else [])
    ]
    state_list = _invoice_list(state=InvoiceState.PARTIALLY_PAID.value)
    return Panel(
        key="to-match",
        title="Payments to match",
        figures=(
            Figure("Customer credit unused", str(unused), url_for("billing.ar_ageing")),
            Figure("Customers holding credit", str(len(credits)), url_for("billing.ar_ageing")),
            Figure("Invoices paid in part", str(partly_listed), state_list),
        ),
        rows=tuple(rows),
        more=max(len(credits) + partly_listed - len(rows), 0),
        empty="Nothing to match: no customer holds unused credit and no invoice is paid in part.",
        action=("All invoices", _invoice_list()),
    )


@bp.app_template_global()
def revenue_trend() -> BarChart | None:
    """Finance's home chart: net invoiced by month over the last six months (the revenue
    report's figures); None for anyone who does not keep the books."""
    actor = current_actor()
    if not policies.keeps_books(actor):
        return None
    today = utcnow().date()
    months_ago = today.year * 12 + today.month - TREND_MONTHS
    since = date(months_ago // 12, months_ago % 12 + 1, 1)
    figures = revenue.by_month(actor.vendor_id, Period(since, today))
    return money_bars([(month_label(m.month), m.invoiced, "invoiced") for m in figures.months])
