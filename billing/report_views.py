"""Finance's reports: AR ageing, revenue by month, revenue and margin by servlet; each a
table with its chart and the same table as CSV. Finance and the vendor's admin only: the
figures are the vendor's books."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import flash, render_template
from flask.typing import ResponseReturnValue

from billing import bp, reports, revenue
from billing.models import BILLING_STAFF
from core import params
from core.charts import BarChart, horizontal_bars
from core.csv_export import csv_download
from core.db import utcnow
from core.money import Money
from core.navigation import nav_item
from core.permissions import current_actor, requires
from delivery.kpis import Period

nav_item("Reports", "billing.ar_ageing", *BILLING_STAFF, group="Bill", icon="bar-chart-line")

CHARTED = 10  # customers or servlets a chart shows: the largest
CHART_SIZE = {"width": 560, "label_width": 200, "value_width": 120}
DEFAULT_PERIOD = "year"  # revenue is read over the year so far


@dataclass(frozen=True)
class Choice:
    """The period the address asks for, parsed; ``start``/``end`` as typed."""

    period_name: str
    period: Period
    start: date | None
    end: date | None

    def args(self) -> dict[str, str]:
        custom = self.period_name == "custom"
        return params.query_args(
            {
                "period": self.period_name,
                "start": self.start if custom else None,
                "end": self.end if custom else None,
            }
        )


def _choice() -> Choice:
    """The period asked for; what cannot be used is ignored, and said so."""
    name = params.choice("period", list(reports.PERIODS), DEFAULT_PERIOD)
    start, end = params.day("start"), params.day("end")
    if name == "custom":
        try:
            return Choice(name, reports.custom_period(start, end), start, end)
        except ValueError as error:
            name = DEFAULT_PERIOD
            flash(f"{error} Showing {reports.PERIODS[name].lower()} instead.", "warning")
    return Choice(name, reports.preset(name, utcnow().date()), start, end)


def money_bars(rows: list[tuple[str, Money, str]]) -> BarChart:
    """Money bars, each labelled with the amount as the table states it."""
    return horizontal_bars(
        [(label, amount.amount, kind) for label, amount, kind in rows],
        texts=[str(amount) for _, amount, _ in rows],
        **CHART_SIZE,
    )


def _vendor_id() -> int:
    return current_actor().vendor_id


def _decimal(amount: Money) -> Any:
    return amount.to_decimal()


# --- AR ageing ---------------------------------------------------------------------------

AGE_KINDS = ("current", "late", "late", "very-late", "very-late")


@bp.get("/reports/ageing", endpoint="ar_ageing")
@requires(*BILLING_STAFF)
def ar_ageing() -> ResponseReturnValue:
    figures = reports.ageing(_vendor_id(), utcnow().date())
    largest = [row for row in figures.rows if row.invoices][:CHARTED]
    charts = {
        "ages": money_bars(
            [
                (label, amount, kind)
                for (_, label, _, _), amount, kind in zip(
                    reports.BUCKETS, figures.totals.amounts(), AGE_KINDS, strict=True
                )
            ]
        ),
        "customers": money_bars([(row.name, row.total, "owed") for row in largest]),
    }
    return render_template(
        "billing/reports_ageing.html",
        figures=figures,
        buckets=reports.BUCKETS,
        charts=charts,
        charted=len(largest),
    )


AGEING_HEADER = [
    "customer",
    *(key for key, _, _, _ in reports.BUCKETS),
    "total",
    "open_invoices",
    "overdue_invoices",
    "unused_credit",
    "currency",
]


def ageing_rows(figures: reports.Ageing) -> Iterator[list[Any]]:
    for row in [*figures.rows, figures.totals]:
        yield [
            row.name,
            *(_decimal(amount) for amount in row.amounts()),
            _decimal(row.total),
            row.invoices,
            row.overdue_invoices,
            _decimal(row.credit),
            row.currency,
        ]


@bp.get("/reports/ageing.csv", endpoint="export_ar_ageing")
@requires(*BILLING_STAFF)
def export_ar_ageing() -> ResponseReturnValue:
    figures = reports.ageing(_vendor_id(), utcnow().date())
    return csv_download(f"ar-ageing-{figures.as_of}.csv", AGEING_HEADER, ageing_rows(figures))


# --- revenue by month --------------------------------------------------------------------


def month_label(month: date) -> str:
    return month.strftime("%b %Y")


@bp.get("/reports/revenue", endpoint="revenue_report")
@requires(*BILLING_STAFF)
def revenue_report() -> ResponseReturnValue:
    choice = _choice()
    figures = revenue.by_month(_vendor_id(), choice.period)
    charts = {
        "invoiced": money_bars(
            [(month_label(m.month), m.invoiced, "invoiced") for m in figures.months]
        ),
        "recognised": money_bars(
            [(month_label(m.month), m.recognised, "recognised") for m in figures.months]
        ),
    }
    return render_template(
        "billing/reports_revenue.html",
        choice=choice,
        figures=figures,
        charts=charts,
        periods=reports.PERIODS,
        has_figures=any(getattr(figures.totals, name) for name in revenue.REVENUE_FIGURES),
    )


REVENUE_HEADER = [
    "month",
    "invoiced_net",
    "collected",
    "deferred_net",
    "recognised_net",
    "currency",
]


def revenue_rows(figures: revenue.Revenue) -> Iterator[list[Any]]:
    for m in [*figures.months, figures.totals]:
        yield [
            "Total" if m.month is None else m.month.strftime("%Y-%m"),
            _decimal(m.invoiced),
            _decimal(m.collected),
            _decimal(m.deferred),
            _decimal(m.recognised),
            m.currency,
        ]


@bp.get("/reports/revenue.csv", endpoint="export_revenue")
@requires(*BILLING_STAFF)
def export_revenue() -> ResponseReturnValue:
    choice = _choice()
    figures = revenue.by_month(_vendor_id(), choice.period)
    filename = f"revenue-{choice.period.start}-{choice.period.end}.csv"
    return csv_download(filename, REVENUE_HEADER, revenue_rows(figures))


# --- revenue and margin by servlet ---------------------------------------------------------


@bp.get("/reports/margins", endpoint="margin_report")
@requires(*BILLING_STAFF)
def margin_report() -> ResponseReturnValue:
    choice = _choice()
    figures = reports.margins(_vendor_id(), choice.period)
    largest = figures.rows[:CHARTED]
    charts = {
        "revenue": money_bars([(m.name, m.revenue, "invoiced") for m in largest]),
        "margin": money_bars([(m.name, m.margin, "margin") for m in largest]),
    }
    return render_template(
        "billing/reports_margins.html",
        choice=choice,
        figures=figures,
        charts=charts,
        charted=len(largest),
        periods=reports.PERIODS,
    )


MARGIN_HEADER = ["servlet", "revenue_net", "delivery_cost", "margin", "margin_rate", "currency"]


def margin_rows(figures: reports.Margins) -> Iterator[list[Any]]:
    for m in [*figures.rows, figures.totals]:
        yield [
            m.name,
            _decimal(m.revenue),
            _decimal(m.cost),
            _decimal(m.margin),
            "" if m.margin_rate is None else m.margin_rate,
            m.currency,
        ]


@bp.get("/reports/margins.csv", endpoint="export_margins")
@requires(*BILLING_STAFF)
def export_margins() -> ResponseReturnValue:
    choice = _choice()
    figures = reports.margins(_vendor_id(), choice.period)
    filename = f"margins-{choice.period.start}-{choice.period.end}.csv"
    return csv_download(filename, MARGIN_HEADER, margin_rows(figures))
