"""The QBR value report of one customer and period: what was delivered and what came of it,
the delivery KPIs met, the success plan's goals, the health trend, the spend and the
servlets to suggest next. The page and the PDF print the same ``ValueReportFigures``.

Definitions (README, Decisions): a servlet counts as *delivered in the period* when its
engagement was accepted in it (``accepted_at``, UTC). Of those, *on time* means the latest
delivery's UTC date on or before ``deliver_by`` (as ``delivery.kpis``), *started on time*
the first start's UTC date on or before ``start_by``; CSAT is the mean of the ratings given.
The health score on a day is the last one recorded on or before it (``HealthHistory`` rows,
and ``AccountHealth`` as the latest). Spend is what was invoiced in the period (issued
invoices by issue date, with tax) less the credit notes issued in it, in the customer's
currency (the account's; the vendor's when the account has no record); amounts in other
currencies are listed apart, never added.

Every figure comes from a fixed number of statements whatever the data (the page's query
count is tested); aggregates are computed by SQL, the lists are capped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from accounts.models import Organization
from billing.models import CreditNote, Invoice
from catalog.models import ServletVersion
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from delivery.kpis import Period, utc_day
from delivery.models import Engagement, EngagementState
from success import plans
from success.health_models import AccountHealth, Band, HealthHistory
from success.models import CustomerAccount
from success.plan_models import SuccessPlan
from success.playbook_models import Suggestion, SuggestionState

MAX_LISTED = 200  # servlets listed by name; the KPIs count them all
MAX_SUGGESTED = 10
LOOKBACK_DAYS = 2 * 365 + 1  # a period starts at most two years back


# --- the period --------------------------------------------------------------------------


def last_full_quarter(today: date) -> Period:
    start = plans.shift_quarters(plans.quarter_start(today), -1)
    return Period(start, plans.quarter_end(start))


def latest_day(today: date) -> date:
    """A period may run to the end of the current quarter (a QBR of the quarter so far)."""
    return plans.quarter_end(plans.quarter_start(today))


def earliest_day(today: date) -> date:
    return today - timedelta(days=LOOKBACK_DAYS)


def checked_period(start: date | None, end: date | None, today: date) -> Period:
    """The period asked for; ``ServiceError`` with the reason when it cannot be reported."""
    if start is None and end is None:
        return last_full_quarter(today)
    if start is None or end is None:
        raise ServiceError("A period needs both a start and an end date (YYYY-MM-DD).")
    if end < start:
        raise ServiceError("The period's end is before its start.")
    earliest, latest = earliest_day(today), latest_day(today)
    if start < earliest or end > latest:
        raise ServiceError(
            f"A value report covers days from {earliest.isoformat()} to {latest.isoformat()}."
        )
    return Period(start, end)


# --- the figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveredServlet:
    reference: str
    title: str
    outcome: str
    accepted_on: date
    deliver_by: date
    on_time: bool
    csat: int | None
    health_score: int | None
    findings: str


@dataclass(frozen=True)
class Kpis:
    delivered: int
    on_time: int
    started: int  # delivered servlets with a start recorded
    started_on_time: int
    rated: int
    csat_total: int

    @staticmethod
    def _share(part: int, whole: int) -> int | None:
        return round(100 * part / whole) if whole else None

    @property
    def on_time_percent(self) -> int | None:
        return self._share(self.on_time, self.delivered)

    @property
    def started_on_time_percent(self) -> int | None:
        return self._share(self.started_on_time, self.started)

    @property
    def mean_csat(self) -> float | None:
        return round(self.csat_total / self.rated, 1) if self.rated else None


@dataclass(frozen=True)
class GoalLine:
    title: str
    measure: str
    unit: str
    baseline: float
    target: float
    current: float
    percent: int
    servlets: tuple[str, ...]


@dataclass(frozen=True)
class PlanLine:
    label: str
    summary: str
    percent: int | None
    goals: tuple[GoalLine, ...]


@dataclass(frozen=True)
class Reading:
    day: date
    score: int
    band: Band


@dataclass(frozen=True)
class TrendChart:
    """A line of the score over the period, on 0-100: SVG geometry for the template."""

    width: int
    height: int
    points: str  # "x,y x,y ..." for a polyline
    dots: tuple[tuple[float, float], ...]
    gridlines: tuple[tuple[int, float], ...]  # (score, y)


@dataclass(frozen=True)
class HealthTrend:
    start: Reading | None
    end: Reading | None
    readings: tuple[Reading, ...]  # the changes within the period
    chart: TrendChart | None

    @property
    def change(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return self.end.score - self.start.score


@dataclass(frozen=True)
class Spend:
    invoiced: Money
    credited: Money
    invoices: int
    credit_notes: int
    other_currencies: tuple[Money, ...]  # net, per other currency

    @property
    def net(self) -> Money:
        return self.invoiced - self.credited


@dataclass(frozen=True)
class SuggestedServlet:
    title: str
    reason: str


@dataclass(frozen=True)
class ValueReportFigures:
    vendor_name: str
    customer_name: str
    customer_id: int
    period: Period
    delivered: tuple[DeliveredServlet, ...]
    kpis: Kpis
    plans: tuple[PlanLine, ...]
    health: HealthTrend
    spend: Spend
    suggestions: tuple[SuggestedServlet, ...]

    @property
    def more_delivered(self) -> int:
        """Delivered servlets beyond those listed by name."""
        return self.kpis.delivered - len(self.delivered)


def figures(customer: Organization, period: Period) -> ValueReportFigures:
    """The report of ``customer`` over ``period`` (the caller checked who may read it)."""
    vendor = db.session.get(Organization, customer.tenant_id)
    plan_rows = plans.plans_between(customer.id, plans.quarter_start(period.start), period.end)
    suggestion_rows = _open_suggestions(customer.id)
    titles = plans.servlet_titles(
        [s.id for plan in plan_rows for goal in plan.goals for s in goal.servlets]
        + [servlet_id for servlet_id, _ in suggestion_rows]
    )
    return ValueReportFigures(
        vendor_name=vendor.name,
        customer_name=customer.name,
        customer_id=customer.id,
        period=period,
        delivered=delivered(customer.id, period),
        kpis=kpis(customer.id, period),
        plans=tuple(_plan_line(plan, titles) for plan in plan_rows),
        health=health_trend(customer.id, period),
        spend=spend(customer.id, period, customer_currency(customer, vendor)),
        suggestions=tuple(
            SuggestedServlet(titles.get(servlet_id, ""), reason)
            for servlet_id, reason in suggestion_rows
        ),
    )


def _accepted_in(customer_id: int, period: Period) -> list[sa.ColumnElement[bool]]:
    low, high = period.bounds()
    return [
        Engagement.customer_id == customer_id,
        Engagement.state == EngagementState.ACCEPTED,
        Engagement.accepted_at >= low,
        Engagement.accepted_at < high,
    ]


def delivered(customer_id: int, period: Period) -> tuple[DeliveredServlet, ...]:
    """The servlets accepted in the period, in the order they were accepted (the first
    ``MAX_LISTED``)."""
    rows = db.session.execute(
        sa.select(
            Engagement.number,
            ServletVersion.title,
            ServletVersion.outcome,
            Engagement.accepted_at,
            Engagement.delivered_at,
            Engagement.deliver_by,
            Engagement.csat,
            Engagement.health_score,
            Engagement.findings,
        )
        .join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
        .where(*_accepted_in(customer_id, period))
        .order_by(Engagement.accepted_at, Engagement.id)
        .limit(MAX_LISTED)
    )
    return tuple(
        DeliveredServlet(
            reference=f"E-{row.number:06d}",
            title=row.title,
            outcome=row.outcome,
            accepted_on=row.accepted_at.date(),
            deliver_by=row.deliver_by,
            on_time=row.delivered_at is not None and row.delivered_at.date() <= row.deliver_by,
            csat=row.csat,
            health_score=row.health_score,
            findings=row.findings,
        )
        for row in rows
    )


def kpis(customer_id: int, period: Period) -> Kpis:
    def counted(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        sa.select(
            sa.func.count(Engagement.id).label("delivered"),
            counted(utc_day(Engagement.delivered_at) <= Engagement.deliver_by).label("on_time"),
            sa.func.count(Engagement.started_at).label("started"),
            counted(utc_day(Engagement.started_at) <= Engagement.start_by).label("started_ok"),
            sa.func.count(Engagement.csat).label("rated"),
            sa.func.coalesce(sa.func.sum(Engagement.csat), 0).label("csat_total"),
        ).where(*_accepted_in(customer_id, period))
    ).one()
    return Kpis(
        delivered=int(row.delivered),
        on_time=int(row.on_time),
        started=int(row.started),
        started_on_time=int(row.started_ok),
        rated=int(row.rated),
        csat_total=int(row.csat_total),
    )


def _plan_line(plan: SuccessPlan, titles: dict[int, str]) -> PlanLine:
    return PlanLine(
        label=plans.quarter_label(plan.quarter_start),
        summary=plan.summary,
        percent=plans.percent(plans.plan_progress(plan.goals)),
        goals=tuple(
            GoalLine(
                title=goal.title,
                measure=goal.measure,
                unit=goal.unit,
                baseline=goal.baseline,
                target=goal.target,
                current=goal.current,
                percent=plans.percent(plans.goal_progress(goal)) or 0,
                servlets=tuple(titles.get(s.id, "") for s in goal.servlets),
            )
            for goal in plan.goals
        ),
    )


# --- health ------------------------------------------------------------------------------


def health_trend(customer_id: int, period: Period) -> HealthTrend:
    """The score at the period's start and end, and each change between."""
    before = db.session.execute(
        sa.select(HealthHistory.day, HealthHistory.score, HealthHistory.band)
        .where(HealthHistory.customer_id == customer_id, HealthHistory.day <= period.start)
        .order_by(HealthHistory.day.desc())
        .limit(1)
    ).first()
    during = db.session.execute(
        sa.select(HealthHistory.day, HealthHistory.score, HealthHistory.band)
        .where(
            HealthHistory.customer_id == customer_id,
            HealthHistory.day > period.start,
            HealthHistory.day <= period.end,
        )
        .order_by(HealthHistory.day)
    ).all()
    current = db.session.execute(
        sa.select(AccountHealth.changed_at, AccountHealth.score, AccountHealth.band).where(
            AccountHealth.customer_id == customer_id
        )
    ).first()
    known = [Reading(*row) for row in ([before] if before else []) + list(during)]
    if current is not None:
        known = _with_current(
            known, Reading(current.changed_at.date(), current.score, current.band)
        )
    start = _reading_on(known, period.start)
    end = _reading_on(known, period.end)
    readings = tuple(r for r in known if period.start < r.day <= period.end)
    return HealthTrend(start, end, readings, _chart(period, start, readings, end))


def _with_current(known: list[Reading], current: Reading) -> list[Reading]:
    """The current score counts from the day it changed, unless history has that day."""
    if any(reading.day >= current.day for reading in known):
        return known
    return [*known, current]


def _reading_on(readings: Iterable[Reading], day: date) -> Reading | None:
    """The last reading on or before ``day`` (readings come oldest first)."""
    found = None
    for reading in readings:
        if reading.day <= day:
            found = reading
    return found


CHART_WIDTH, CHART_HEIGHT = 480, 120


def _chart(
    period: Period, start: Reading | None, readings: tuple[Reading, ...], end: Reading | None
) -> TrendChart | None:
    """A step-free line through the score at the start, each change, and the end."""
    if end is None:
        return None
    span = max(period.days - 1, 1)

    def point(day: date, score: int) -> tuple[float, float]:
        x = CHART_WIDTH * (day - period.start).days / span
        return round(x, 1), round(CHART_HEIGHT * (1 - score / 100), 1)

    line = [point(period.start, start.score)] if start is not None else []
    line += [point(reading.day, reading.score) for reading in readings]
    line.append(point(period.end, end.score))
    gridlines = tuple((score, round(CHART_HEIGHT * (1 - score / 100), 1)) for score in (0, 50, 100))
    return TrendChart(
        CHART_WIDTH,
        CHART_HEIGHT,
        " ".join(f"{x},{y}" for x, y in line),
        tuple(line),
        gridlines,
    )


# --- spend and suggestions ---------------------------------------------------------------


def customer_currency(customer: Organization, vendor: Organization) -> str:
    account_currency = db.session.scalar(
        sa.select(CustomerAccount.currency).where(CustomerAccount.organization_id == customer.id)
    )
    return account_currency or vendor.currency


def spend(customer_id: int, period: Period, currency: str) -> Spend:
    invoiced = db.session.execute(
        sa.select(Invoice.currency, sa.func.count(), sa.func.sum(Invoice.total_minor))
        .where(
            Invoice.customer_id == customer_id,
            Invoice.number.is_not(None),
            Invoice.issued_on >= period.start,
            Invoice.issued_on <= period.end,
        )
        .group_by(Invoice.currency)
    ).all()
    credited = db.session.execute(
        sa.select(CreditNote.currency, sa.func.count(), sa.func.sum(CreditNote.total_minor))
        .where(
            CreditNote.customer_id == customer_id,
            CreditNote.issued_on >= period.start,
            CreditNote.issued_on <= period.end,
        )
        .group_by(CreditNote.currency)
    ).all()
    net: dict[str, int] = {}
    for code, _, total in invoiced:
        net[code] = net.get(code, 0) + int(total or 0)
    for code, _, total in credited:
        net[code] = net.get(code, 0) - int(total or 0)
    mine_invoiced = next((row for row in invoiced if row[0] == currency), (currency, 0, 0))
    mine_credited = next((row for row in credited if row[0] == currency), (currency, 0, 0))
    return Spend(
        invoiced=Money(int(mine_invoiced[2] or 0), currency),
        credited=Money(int(mine_credited[2] or 0), currency),
        invoices=int(mine_invoiced[1]),
        credit_notes=int(mine_credited[1]),
        other_currencies=tuple(
            Money(amount, code) for code, amount in sorted(net.items()) if code != currency
        ),
    )


def _open_suggestions(customer_id: int) -> list[tuple[int, str]]:
    """The servlets the playbooks suggest to the customer now: (servlet id, reason)."""
    rows = db.session.execute(
        sa.select(Suggestion.servlet_id, Suggestion.reason)
        .where(Suggestion.customer_id == customer_id, Suggestion.state == SuggestionState.OPEN)
        .order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
        .limit(MAX_SUGGESTED)
    ).all()
    return [(row.servlet_id, row.reason) for row in rows]
