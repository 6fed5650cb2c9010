"""The delivery dashboard: how delivery went over a period, per servlet, partner, consultant
or customer, with its CSV export.

Delivery managers and admins run delivery; finance reads it for revenue and margin. CSMs
do not: margin and cost rates are the vendor's internal figures, and a CSM's view of
delivery is per account (the customer-success area).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import flash, render_template
from flask.typing import ResponseReturnValue

from core import params
from core.charts import horizontal_bars
from core.csv_export import csv_download
from core.db import utcnow
from core.navigation import nav_item
from core.permissions import Role, current_actor, requires
from delivery import bp, kpis
from delivery.kpis import Aggregate, GroupBy, Period

DASHBOARD_VIEWERS = (Role.DELIVERY_MANAGER, Role.ADMIN, Role.FINANCE)
CHARTED = 10  # groups a chart shows: those with the most engagements

nav_item(
    "Delivery dashboard",
    "delivery.dashboard",
    *DASHBOARD_VIEWERS,
    group="Deliver",
    icon="speedometer2",
)


@dataclass(frozen=True)
class Choice:
    """What the dashboard's address asks for, parsed; ``start``/``end`` as typed."""

    period_name: str
    period: Period
    group_by: GroupBy
    start: date | None
    end: date | None

    def args(self) -> dict[str, str]:
        return params.query_args(
            {
                "period": self.period_name,
                "by": self.group_by,
                "start": self.start if self.period_name == "custom" else None,
                "end": self.end if self.period_name == "custom" else None,
            }
        )


# This quarter so far: early in a month, the month alone holds too little to read.
DEFAULT_PERIOD = "quarter"


def _choice() -> Choice:
    """The period and grouping asked for; what cannot be used is ignored, and said so."""
    name = params.choice("period", list(kpis.PERIODS), DEFAULT_PERIOD)
    group_by = GroupBy(params.choice("by", [g.value for g in GroupBy], GroupBy.SERVLET))
    start, end = params.day("start"), params.day("end")
    if name == "custom":
        try:
            return Choice(name, kpis.custom_period(start, end), group_by, start, end)
        except ValueError as error:
            name = DEFAULT_PERIOD
            flash(f"{error} Showing {kpis.PERIODS[name].lower()} instead.", "warning")
    return Choice(name, kpis.preset(name, utcnow().date()), group_by, start, end)


# Servlet and customer names run long: room for about 30 characters before the bars.
CHART_SIZE = {"width": 560, "label_width": 220}


def _charts(rows: list[Aggregate]) -> dict[str, Any]:
    busiest = sorted(rows, key=lambda a: (-a.count, a.name.casefold()))[:CHARTED]
    return {
        "delivered": horizontal_bars(
            [(a.name, a.count, "delivered") for a in busiest], **CHART_SIZE
        ),
        "on_time": horizontal_bars(
            [(a.name, round(a.on_time_rate * 100), "on-time") for a in busiest], **CHART_SIZE
        ),
    }


@bp.get("/delivery/dashboard")
@requires(*DASHBOARD_VIEWERS)
def dashboard() -> ResponseReturnValue:
    choice = _choice()
    figures = kpis.dashboard(current_actor().vendor_id, choice.period, choice.group_by)
    return render_template(
        "delivery/dashboard.html",
        choice=choice,
        figures=figures,
        charts=_charts(figures.rows),
        periods=kpis.PERIODS,
        groupings=list(GroupBy),
        people=choice.group_by in kpis.PEOPLE,
    )


CSV_HEADER = [
    "group",
    "name",
    "engagements",
    "on_time",
    "on_time_rate",
    "median_cycle_days",
    "mean_csat",
    "approved_hours",
    "capacity_hours",
    "utilisation",
    "revenue",
    "margin",
    "currency",
    "other_currency_engagements",
]


def _rounded(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def _csv_rows(group_by: GroupBy, rows: list[Aggregate]) -> Iterator[list[Any]]:
    for a in rows:
        yield [
            group_by.value,
            a.name,
            a.count,
            a.on_time,
            _rounded(a.on_time_rate, 4),
            _rounded(a.median_cycle_days, 2),
            _rounded(a.mean_csat, 2),
            "" if a.hours is None else a.hours,
            "" if a.capacity_hours is None else a.capacity_hours,
            _rounded(a.utilisation, 4),
            a.revenue.to_decimal(),
            a.margin.to_decimal(),
            a.currency,
            a.other_currency,
        ]


@bp.get("/delivery/dashboard.csv")
@requires(*DASHBOARD_VIEWERS)
def export_dashboard() -> ResponseReturnValue:
    """The grouped table the page shows, for the same period and grouping."""
    choice = _choice()
    vendor_id = current_actor().vendor_id
    currency = kpis.vendor_currency(vendor_id)
    rows = kpis.aggregates(vendor_id, currency, choice.period, choice.group_by)
    filename = f"delivery-{choice.group_by.value}-{choice.period.start}-{choice.period.end}.csv"
    return csv_download(filename, CSV_HEADER, _csv_rows(choice.group_by, rows))
