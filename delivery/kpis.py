"""Delivery KPIs, computed by SQL from the engagements' stamps, time and money; never typed.

Per engagement (``engagement_facts``): time to start and cycle time in elapsed calendar days
(the business-day targets are shown beside them, not folded in: business days need the
holiday calendar, which SQL cannot count portably), on time (the latest delivery's UTC date
on or before ``deliver_by``), effort variance (approved hours / estimated hours), CSAT, price,
cost and margin.

Aggregates (``aggregates``, ``totals``) count the engagements *delivered in the period*: in
state delivered or accepted, whose latest delivery (``delivered_at``) falls in it. An
engagement accepted this month but delivered last month counts last month, so no engagement
counts in two periods; one sent back for rework counts again when delivered again.

Money is in the vendor's currency, in minor units. An engagement ordered in another
currency counts in every figure but revenue and margin (``Aggregate.other_currency`` says
how many were left out), since adding currencies needs an exchange rate the product does
not keep. Costs (approved time at the resource's rate, partner fees) are in the vendor's
currency.

An engagement with two consultants (or partners) counts in the row of each: the rows of a
grouped table may add up to more than the totals, which count each engagement once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from accounts.models import Membership, Organization, User
from catalog.models import ServletVersion
from core.extensions import db
from core.money import Money
from delivery import calendar
from delivery.models import (
    Assignment,
    ChangeOrder,
    ChangeOrderState,
    Engagement,
    EngagementState,
    Resource,
    TimeEntry,
    TimeEntryState,
    TimeOff,
)
from ordering.models import OrderLine

DELIVERED = (EngagementState.DELIVERED, EngagementState.ACCEPTED)
WORK_DAYS_A_WEEK = 5


class days_between(FunctionElement[float]):
    """Elapsed days, fractional, from the first datetime to the second."""

    type = sa.Float()
    inherit_cache = True


@compiles(days_between)
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
    )


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
        f"{compiler.process(start, **kw)})) / 86400.0)"
    )


class utc_day(FunctionElement[date]):
    """The UTC calendar date of a stored datetime, comparable with a date column."""

    type = sa.Date()
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(next(iter(element.clauses)), **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return (
        f"CAST(({compiler.process(next(iter(element.clauses)), **kw)} AT TIME ZONE 'UTC') AS DATE)"
    )


class GroupBy(StrEnum):
    SERVLET = "servlet"
    PARTNER = "partner"
    CONSULTANT = "consultant"
    CUSTOMER = "customer"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class Period:
    """Days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """The UTC instants the period spans: [start 00:00, the day after end 00:00)."""
        return (
            datetime.combine(self.start, time(), UTC),
            datetime.combine(self.end + timedelta(days=1), time(), UTC),
        )


# The periods the dashboard offers, by the name its address carries. Each ends today (or
# at the end of last month), so capacity never counts days still to come.
PERIODS = {
    "month": "This month",
    "last_month": "Last month",
    "quarter": "This quarter",
    "year": "Last 12 months",  # this month and the 11 before it
    "custom": "Custom",
}
MAX_PERIOD_DAYS = 3 * 366


def preset(name: str, today: date) -> Period:
    """The period ``name`` (a key of ``PERIODS`` but custom) as seen on ``today``."""
    month_start = today.replace(day=1)
    if name == "last_month":
        last_month_end = month_start - timedelta(days=1)
        return Period(last_month_end.replace(day=1), last_month_end)
    if name == "quarter":
        return Period(month_start.replace(month=(today.month - 1) // 3 * 3 + 1), today)
    if name == "year":
        months_ago = today.year * 12 + today.month - 12  # 11 months before this one
        return Period(date(months_ago // 12, months_ago % 12 + 1, 1), today)
    return Period(month_start, today)


def custom_period(start: date | None, end: date | None) -> Period:
    """A period typed by hand; ``ValueError`` with the reason when it cannot be one."""
    if start is None or end is None:
        raise ValueError("A custom period needs a start and an end date.")
    if end < start:
        raise ValueError("The period's end is before its start.")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ValueError("A period is at most three years long.")
    return Period(start, end)


@dataclass(frozen=True)
class Aggregate:
    """One row of the dashboard: the engagements delivered in the period in one group."""

    key: int | None
    name: str
    count: int
    on_time: int
    median_cycle_days: float | None
    mean_csat: float | None
    revenue_minor: int
    margin_minor: int
    other_currency: int
    currency: str
    hours: Decimal | None = None  # approved hours logged in the period (people groups)
    capacity_hours: Decimal | None = None

    @property
    def revenue(self) -> Money:
        return Money(self.revenue_minor, self.currency)

    @property
    def margin(self) -> Money:
        return Money(self.margin_minor, self.currency)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.count if self.count else None

    @property
    def utilisation(self) -> float | None:
        if self.hours is None or not self.capacity_hours:
            return None
        return float(self.hours / self.capacity_hours)


def _sums_by_engagement(vendor_id: int) -> tuple[sa.Subquery, sa.Subquery, sa.Subquery]:
    approved = (
        sa.select(
            TimeEntry.engagement_id,
            sa.func.sum(TimeEntry.hours).label("hours"),
            sa.func.sum(TimeEntry.cost_minor).label("cost"),
        )
        .where(TimeEntry.vendor_id == vendor_id, TimeEntry.state == TimeEntryState.APPROVED)
        .group_by(TimeEntry.engagement_id)
        .subquery("approved_time")
    )
    changes = (
        sa.select(
            ChangeOrder.engagement_id,
            sa.func.sum(ChangeOrder.price_minor).label("price"),
            sa.func.sum(ChangeOrder.extra_hours).label("hours"),
        )
        .where(ChangeOrder.vendor_id == vendor_id, ChangeOrder.state == ChangeOrderState.APPROVED)
        .group_by(ChangeOrder.engagement_id)
        .subquery("approved_changes")
    )
    fees = (
        sa.select(Assignment.engagement_id, sa.func.sum(Assignment.partner_fee_minor).label("fee"))
        .where(Assignment.vendor_id == vendor_id)
        .group_by(Assignment.engagement_id)
        .subquery("partner_fees")
    )
    return approved, changes, fees


def engagement_facts(vendor_id: int, currency: str) -> sa.Select[Any]:
    """One row per engagement of the vendor with its KPIs; narrow it with ``where``."""
    approved, changes, fees = _sums_by_engagement(vendor_id)
    cost = sa.func.coalesce(approved.c.cost, 0)
    estimated = ServletVersion.effort_hours + sa.func.coalesce(changes.c.hours, 0)
    logged = sa.func.coalesce(approved.c.hours, 0)
    price = sa.case(
        (
            OrderLine.currency == currency,
            OrderLine.unit_price_minor + sa.func.coalesce(changes.c.price, 0),
        ),
        else_=sa.null(),
    )
    return (
        sa.select(
            Engagement.id.label("engagement_id"),
            Engagement.customer_id,
            ServletVersion.servlet_id,
            days_between(Engagement.requested_at, Engagement.started_at).label("time_to_start"),
            days_between(Engagement.started_at, Engagement.delivered_at).label("cycle_days"),
            sa.case(
                (Engagement.delivered_at.is_(None), sa.null()),
                (utc_day(Engagement.delivered_at) <= Engagement.deliver_by, 1),
                else_=0,
            ).label("on_time"),
            logged.label("logged_hours"),
            estimated.label("estimated_hours"),
            (sa.cast(logged, sa.Float) / sa.func.nullif(estimated, 0)).label("effort_variance"),
            Engagement.csat,
            price.label("price"),
            cost.label("cost"),
            sa.func.coalesce(fees.c.fee, 0).label("partner_fee"),
            (price - cost - sa.func.coalesce(fees.c.fee, 0)).label("margin"),
        )
        .join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
        .join(OrderLine, OrderLine.id == Engagement.order_line_id)
        .outerjoin(approved, approved.c.engagement_id == Engagement.id)
        .outerjoin(changes, changes.c.engagement_id == Engagement.id)
        .outerjoin(fees, fees.c.engagement_id == Engagement.id)
        .where(Engagement.vendor_id == vendor_id)
    )


def engagement_kpis(vendor_id: int, currency: str, engagement_id: int) -> sa.Row[Any] | None:
    """The KPIs of one engagement (``engagement_facts``' columns)."""
    stmt = engagement_facts(vendor_id, currency).where(Engagement.id == engagement_id)
    return db.session.execute(stmt).one_or_none()


def delivered_in(vendor_id: int, currency: str, period: Period) -> sa.CTE:
    """The facts of the engagements delivered in ``period`` (module docstring)."""
    since, until = period.bounds()
    return (
        engagement_facts(vendor_id, currency)
        .where(
            Engagement.state.in_(DELIVERED),
            Engagement.delivered_at >= since,
            Engagement.delivered_at < until,
        )
        .cte("delivered")
    )


def _members(group_by: GroupBy | None, facts: sa.CTE, vendor_id: int) -> sa.Subquery:
    """(engagement_id, key): which group(s) each delivered engagement counts in."""
    if group_by is GroupBy.SERVLET:
        stmt = sa.select(facts.c.engagement_id, facts.c.servlet_id.label("key"))
    elif group_by is GroupBy.CUSTOMER:
        stmt = sa.select(facts.c.engagement_id, facts.c.customer_id.label("key"))
    elif group_by is GroupBy.CONSULTANT:
        stmt = (
            sa.select(Assignment.engagement_id, Assignment.resource_id.label("key"))
            .where(Assignment.vendor_id == vendor_id, Assignment.resource_id.is_not(None))
            .distinct()
        )
    elif group_by is GroupBy.PARTNER:
        partner = sa.func.coalesce(Assignment.partner_id, Resource.partner_id)
        stmt = (
            sa.select(Assignment.engagement_id, partner.label("key"))
            .outerjoin(Resource, Resource.id == Assignment.resource_id)
            .where(Assignment.vendor_id == vendor_id, partner.is_not(None))
            .distinct()
        )
    else:
        stmt = sa.select(facts.c.engagement_id, sa.literal(0).label("key"))
    return stmt.subquery("members")


def _grouped(vendor_id: int, currency: str, period: Period, group_by: GroupBy | None) -> list:
    facts = delivered_in(vendor_id, currency, period)
    members = _members(group_by, facts, vendor_id)
    ranked = (
        sa.select(
            facts,
            members.c.key,
            sa.func.row_number()
            .over(partition_by=members.c.key, order_by=facts.c.cycle_days.asc().nulls_last())
            .label("rank"),
            sa.func.count(facts.c.cycle_days).over(partition_by=members.c.key).label("timed"),
        )
        .join(members, members.c.engagement_id == facts.c.engagement_id)
        .subquery("ranked")
    )
    middle = ranked.c.rank.in_([(ranked.c.timed + 1) // 2, (ranked.c.timed + 2) // 2])
    stmt = sa.select(
        ranked.c.key,
        sa.func.count().label("count"),
        sa.func.coalesce(sa.func.sum(ranked.c.on_time), 0).label("on_time"),
        sa.func.avg(sa.case((middle, ranked.c.cycle_days))).label("median_cycle_days"),
        sa.func.avg(ranked.c.csat).label("mean_csat"),
        sa.func.coalesce(sa.func.sum(ranked.c.price), 0).label("revenue"),
        sa.func.coalesce(sa.func.sum(ranked.c.margin), 0).label("margin"),
        sa.func.count().filter(ranked.c.price.is_(None)).label("other_currency"),
    ).group_by(ranked.c.key)
    return list(db.session.execute(stmt))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _aggregate(
    row: Any, name: str, currency: str, hours: Decimal | None, capacity: Decimal | None
) -> Aggregate:
    return Aggregate(
        key=row.key,
        name=name,
        count=row.count,
        on_time=int(row.on_time),
        median_cycle_days=_float(row.median_cycle_days),
        mean_csat=_float(row.mean_csat),
        revenue_minor=int(row.revenue),
        margin_minor=int(row.margin),
        other_currency=row.other_currency,
        currency=currency,
        hours=hours,
        capacity_hours=capacity,
    )


def totals(vendor_id: int, currency: str, period: Period) -> Aggregate:
    """The whole vendor over ``period``; utilisation over every resource counted."""
    rows = _grouped(vendor_id, currency, period, None)
    hours, capacity = utilisation(vendor_id, period)
    all_hours = sum(hours.values(), Decimal(0))
    all_capacity = sum(capacity.values(), Decimal(0))
    if not rows:
        return Aggregate(None, ALL, 0, 0, None, None, 0, 0, 0, currency, all_hours, all_capacity)
    return _aggregate(rows[0], ALL, currency, all_hours, all_capacity)


ALL = "All engagements"
PEOPLE = (GroupBy.CONSULTANT, GroupBy.PARTNER)


def aggregates(vendor_id: int, currency: str, period: Period, group_by: GroupBy) -> list[Aggregate]:
    """One row per group with engagements delivered in ``period``, by name. Groups of people
    carry their utilisation; servlets and customers have none."""
    rows = _grouped(vendor_id, currency, period, group_by)
    names = _names(group_by, [row.key for row in rows])
    hours: dict[int, Decimal] = {}
    capacity: dict[int, Decimal] = {}
    if group_by in PEOPLE:
        hours, capacity = utilisation(vendor_id, period, by_partner=group_by is GroupBy.PARTNER)
    made = [
        _aggregate(
            row,
            names.get(row.key, "—"),
            currency,
            hours.get(row.key, Decimal(0)) if group_by in PEOPLE else None,
            capacity.get(row.key, Decimal(0)) if group_by in PEOPLE else None,
        )
        for row in rows
    ]
    return sorted(made, key=lambda a: (a.name.casefold(), a.key))


@dataclass(frozen=True)
class Dashboard:
    period: Period
    group_by: GroupBy
    totals: Aggregate
    rows: list[Aggregate]


def vendor_currency(vendor_id: int) -> str:
    return db.session.get(Organization, vendor_id).currency


def dashboard(vendor_id: int, period: Period, group_by: GroupBy) -> Dashboard:
    """The delivery dashboard's figures, in the vendor's currency."""
    currency = vendor_currency(vendor_id)
    return Dashboard(
        period,
        group_by,
        totals(vendor_id, currency, period),
        aggregates(vendor_id, currency, period, group_by),
    )


def _names(group_by: GroupBy, keys: Iterable[int]) -> dict[int, str]:
    keys = list(keys)
    if group_by is GroupBy.SERVLET:
        latest = (
            sa.select(ServletVersion.servlet_id, sa.func.max(ServletVersion.number).label("n"))
            .where(ServletVersion.servlet_id.in_(keys))
            .group_by(ServletVersion.servlet_id)
            .subquery()
        )
        stmt = sa.select(ServletVersion.servlet_id, ServletVersion.title).join(
            latest,
            sa.and_(
                latest.c.servlet_id == ServletVersion.servlet_id,
                latest.c.n == ServletVersion.number,
            ),
        )
    elif group_by is GroupBy.CONSULTANT:
        stmt = (
            sa.select(Resource.id, User.name)
            .join(Membership, Membership.id == Resource.membership_id)
            .join(User, User.id == Membership.user_id)
            .where(Resource.id.in_(keys))
        )
    else:
        stmt = sa.select(Organization.id, Organization.name).where(Organization.id.in_(keys))
    return dict(db.session.execute(stmt).all())


def utilisation(
    vendor_id: int, period: Period, *, by_partner: bool = False
) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """(approved hours logged in the period, capacity hours in the period), by resource or
    by partner (its consultants together). Capacity: the weekly hours spread over five days,
    on the period's business days less the resource's time off.

    The hours are summed by SQL; time off is counted in business days per time-off row (a
    few per person), since SQL cannot count business days portably.
    """
    holidays = calendar.vendor_holidays(vendor_id, period.start, period.end)
    workdays = calendar.business_days(period.start, period.end, holidays)
    key = Resource.partner_id if by_partner else Resource.id
    logged = (
        sa.select(key, sa.func.sum(TimeEntry.hours))
        .join(Resource, Resource.id == TimeEntry.resource_id)
        .where(
            TimeEntry.vendor_id == vendor_id,
            TimeEntry.state == TimeEntryState.APPROVED,
            TimeEntry.day.between(period.start, period.end),
            key.is_not(None),
        )
        .group_by(key)
    )
    hours = {k: Decimal(str(v)) for k, v in db.session.execute(logged)}
    worked = sa.select(TimeEntry.resource_id).where(
        TimeEntry.vendor_id == vendor_id,
        TimeEntry.state == TimeEntryState.APPROVED,
        TimeEntry.day.between(period.start, period.end),
    )
    resources = db.session.execute(
        sa.select(Resource.id, key, Resource.weekly_capacity_hours).where(
            Resource.vendor_id == vendor_id,
            key.is_not(None),
            sa.or_(Resource.active.is_(True), Resource.id.in_(worked)),
        )
    )
    away = _days_off(vendor_id, period, set(workdays))
    capacity: dict[int, Decimal] = defaultdict(Decimal)
    for resource_id, group, weekly in resources:
        days = len(workdays) - away.get(resource_id, 0)
        capacity[group] += Decimal(weekly) * days / WORK_DAYS_A_WEEK
    return hours, dict(capacity)


def _days_off(vendor_id: int, period: Period, workdays: set[date]) -> dict[int, int]:
    """Business days of the period each resource is away."""
    rows = db.session.execute(
        sa.select(TimeOff.resource_id, TimeOff.starts_on, TimeOff.ends_on).where(
            TimeOff.vendor_id == vendor_id,
            TimeOff.starts_on <= period.end,
            TimeOff.ends_on >= period.start,
        )
    )
    away: dict[int, set[date]] = defaultdict(set)
    for resource_id, starts_on, ends_on in rows:
        span = calendar.days_between(max(starts_on, period.start), min(ends_on, period.end))
        away[resource_id].update(day for day in span if day in workdays)
    return {resource_id: len(days) for resource_id, days in away.items()}
