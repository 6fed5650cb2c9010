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

How it stays fast (the dashboard over 100,000 engagements and 300,000 time entries, on SQLite,
``bench/dashboard.py``): an engagement's approved time, partner fees and approved change
orders are sums kept on its own row by the services that change them (``delivery.kpi_facts``),
so a period reads one row per engagement, from the covering index ``ix_engagement_delivered``
alone. The totals and the grouped rows come from one statement (``UNION ALL`` of the whole and
the ``GROUP BY``), the resources' time from one more. The median is an aggregate, ``median``:
PostgreSQL's ``percentile_cont(0.5)``, and on SQLite (which has none) a small aggregate given
to the connection (``_SqliteMedian``). Ranking the rows with window functions, the portable way,
cost 150-250 ms per 100,000 rows on SQLite each time, twice per page (totals and groups).
"""

from __future__ import annotations

import statistics
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


class median(FunctionElement[float]):
    """The median of a group: its middle value, or the mean of the two middle ones."""

    type = sa.Float()
    inherit_cache = True


@compiles(median)
def _median_sqlite(element: median, compiler: Any, **kw: Any) -> str:
    return f"median({compiler.process(element.clauses, **kw)})"


@compiles(median, "postgresql")
def _median_postgresql(element: median, compiler: Any, **kw: Any) -> str:
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {compiler.process(element.clauses, **kw)})"


class _SqliteMedian:
    """``median(x)`` for SQLite, which has no percentile aggregate. Its window functions can
    rank rows for one, but cost 150-250 ms per 100,000 rows each time (measured), while this
    aggregate keeps the group's values and takes the middle once, as PostgreSQL's
    ``percentile_cont`` does."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def _execute(stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
    """Run a statement that may use ``median`` (given to SQLite's connection first)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.create_aggregate("median", 1, _SqliteMedian)
    return list(db.session.execute(stmt))


def _price(currency: str) -> sa.ColumnElement[int]:
    """The line's price with the approved changes; NULL in another currency than ``currency``."""
    return sa.case(
        (
            OrderLine.currency == currency,
            OrderLine.unit_price_minor + Engagement.change_price_minor,
        ),
        else_=sa.null(),
    )


def delivery_cost() -> sa.ColumnElement[int]:
    """What delivering an engagement cost: its approved time at cost and its partner fees
    (billing's margin report subtracts the same cost)."""
    return Engagement.approved_cost_minor + Engagement.partner_fee_minor


def _margin(price: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    return price - delivery_cost()


CYCLE_DAYS = days_between(Engagement.started_at, Engagement.delivered_at)
ON_TIME = sa.case(
    (Engagement.delivered_at.is_(None), sa.null()),
    (utc_day(Engagement.delivered_at) <= Engagement.deliver_by, 1),
    else_=0,
)


def _priced(stmt: sa.Select[Any], vendor_id: int) -> sa.Select[Any]:
    return (
        stmt.join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
        .join(OrderLine, OrderLine.id == Engagement.order_line_id)
        .where(Engagement.vendor_id == vendor_id)
    )


def engagement_facts(vendor_id: int, currency: str) -> sa.Select[Any]:
    """One row per engagement of the vendor with its KPIs; narrow it with ``where``."""
    estimated = ServletVersion.effort_hours + Engagement.change_hours
    price = _price(currency)
    stmt = sa.select(
        Engagement.id.label("engagement_id"),
        Engagement.customer_id,
        ServletVersion.servlet_id,
        days_between(Engagement.requested_at, Engagement.started_at).label("time_to_start"),
        CYCLE_DAYS.label("cycle_days"),
        ON_TIME.label("on_time"),
        Engagement.approved_hours.label("logged_hours"),
        estimated.label("estimated_hours"),
        (sa.cast(Engagement.approved_hours, sa.Float) / sa.func.nullif(estimated, 0)).label(
            "effort_variance"
        ),
        Engagement.csat,
        price.label("price"),
        Engagement.approved_cost_minor.label("cost"),
        Engagement.partner_fee_minor.label("partner_fee"),
        _margin(price).label("margin"),
    )
    return _priced(stmt, vendor_id)


def engagement_kpis(vendor_id: int, currency: str, engagement_id: int) -> sa.Row[Any] | None:
    """The KPIs of one engagement (``engagement_facts``' columns)."""
    stmt = engagement_facts(vendor_id, currency).where(Engagement.id == engagement_id)
    return db.session.execute(stmt).one_or_none()


def delivered_in(vendor_id: int, currency: str, period: Period) -> sa.Select[Any]:
    """What the aggregates need of the engagements delivered in ``period`` (module
    docstring), read from ``ix_engagement_delivered`` alone."""
    since, until = period.bounds()
    price = _price(currency)
    stmt = sa.select(
        Engagement.id.label("engagement_id"),
        Engagement.customer_id,
        ServletVersion.servlet_id,
        CYCLE_DAYS.label("cycle_days"),
        ON_TIME.label("on_time"),
        Engagement.csat,
        price.label("price"),
        _margin(price).label("margin"),
    )
    return _priced(stmt, vendor_id).where(
        Engagement.state.in_(DELIVERED),
        Engagement.delivered_at >= since,
        Engagement.delivered_at < until,
    )


def _members(group_by: GroupBy, facts: sa.Subquery) -> tuple[sa.FromClause, Any]:
    """What to join to the delivered engagements for ``group_by``, and the group's key: an
    engagement counts once in each group it belongs to (two assignments to one partner
    count once in the partner's row)."""
    if group_by is GroupBy.SERVLET:
        return facts, facts.c.servlet_id
    if group_by is GroupBy.CUSTOMER:
        return facts, facts.c.customer_id
    if group_by is GroupBy.CONSULTANT:
        key = Assignment.resource_id
        stmt = sa.select(Assignment.engagement_id, key.label("key"))
    else:
        key = sa.func.coalesce(Assignment.partner_id, Resource.partner_id)
        stmt = sa.select(Assignment.engagement_id, key.label("key")).outerjoin(
            Resource, Resource.id == Assignment.resource_id
        )
    members = stmt.where(key.is_not(None)).distinct().subquery("members")
    joined = facts.join(members, members.c.engagement_id == facts.c.engagement_id)
    return joined, members.c.key


def _figures(facts: sa.FromClause, key: sa.ColumnElement) -> list[sa.ColumnElement]:
    return [
        key.label("key"),
        sa.func.count().label("count"),
        sa.func.coalesce(sa.func.sum(facts.c.on_time), 0).label("on_time"),
        median(facts.c.cycle_days).label("median_cycle_days"),
        sa.func.avg(facts.c.csat).label("mean_csat"),
        sa.func.coalesce(sa.func.sum(facts.c.price), 0).label("revenue"),
        sa.func.coalesce(sa.func.sum(facts.c.margin), 0).label("margin"),
        (sa.func.count() - sa.func.count(facts.c.price)).label("other_currency"),
    ]


def _statement(
    vendor_id: int, currency: str, period: Period, group_by: GroupBy | None, *, whole: bool
) -> sa.Select[Any] | sa.CompoundSelect:
    """The whole period (a row with ``key`` NULL) if ``whole``, and/or a row per group, in
    one statement. Servlets and customers group the delivered engagements read once (a
    common table); people join their assignments to a second reading, which SQLite can look
    up by engagement (it would compare each assignment with each row of a common table)."""
    delivered = delivered_in(vendor_id, currency, period)
    facts = delivered.cte("delivered")
    parts = []
    if whole:
        parts.append(sa.select(*_figures(facts, sa.null()), sa.true().label("whole")))
    if group_by is not None:
        if group_by in PEOPLE:
            facts = delivered.subquery("delivered_once")
        joined, key = _members(group_by, facts)
        parts.append(
            sa.select(*_figures(facts, key), sa.false().label("whole"))
            .select_from(joined)
            .group_by(key)
        )
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


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


ALL = "All engagements"
PEOPLE = (GroupBy.CONSULTANT, GroupBy.PARTNER)


def _total(row: Any, currency: str, people: list[ResourceTime]) -> Aggregate:
    """The whole vendor; utilisation over every resource counted."""
    hours = sum((p.hours for p in people), Decimal(0))
    capacity = sum((p.capacity for p in people), Decimal(0))
    if not row.count:
        return Aggregate(None, ALL, 0, 0, None, None, 0, 0, 0, currency, hours, capacity)
    return _aggregate(row, ALL, currency, hours, capacity)


def _rows(
    group_by: GroupBy, rows: list[Any], currency: str, people: list[ResourceTime]
) -> list[Aggregate]:
    """One ``Aggregate`` per group row, by name; groups of people carry their utilisation."""
    names = _names(group_by, [row.key for row in rows])
    hours: dict[int, Decimal] = {}
    capacity: dict[int, Decimal] = {}
    if group_by in PEOPLE:
        hours, capacity = _rolled_up(people, by_partner=group_by is GroupBy.PARTNER)
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


def totals(vendor_id: int, currency: str, period: Period) -> Aggregate:
    """The whole vendor over ``period``; utilisation over every resource counted."""
    (row,) = _execute(_statement(vendor_id, currency, period, None, whole=True))
    return _total(row, currency, resource_time(vendor_id, period))


def aggregates(vendor_id: int, currency: str, period: Period, group_by: GroupBy) -> list[Aggregate]:
    """One row per group with engagements delivered in ``period``, by name. Groups of people
    carry their utilisation; servlets and customers have none."""
    rows = _execute(_statement(vendor_id, currency, period, group_by, whole=False))
    people = resource_time(vendor_id, period) if group_by in PEOPLE else []
    return _rows(group_by, rows, currency, people)


@dataclass(frozen=True)
class Dashboard:
    period: Period
    group_by: GroupBy
    totals: Aggregate
    rows: list[Aggregate]


def vendor_currency(vendor_id: int) -> str:
    return db.session.get(Organization, vendor_id).currency


def dashboard(vendor_id: int, period: Period, group_by: GroupBy) -> Dashboard:
    """The delivery dashboard's figures, in the vendor's currency: the totals and the groups
    in one statement, the resources' time in another."""
    currency = vendor_currency(vendor_id)
    rows = _execute(_statement(vendor_id, currency, period, group_by, whole=True))
    whole = next(row for row in rows if row.whole)
    people = resource_time(vendor_id, period)
    groups = [row for row in rows if not row.whole]
    return Dashboard(
        period,
        group_by,
        _total(whole, currency, people),
        _rows(group_by, groups, currency, people),
    )


def servlet_names(keys: Iterable[int]) -> dict[int, str]:
    """Each servlet's name: the title of its latest version."""
    return _names(GroupBy.SERVLET, keys)


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


@dataclass(frozen=True)
class ResourceTime:
    """A resource's approved hours logged in a period and its capacity hours in it."""

    resource_id: int
    partner_id: int | None
    hours: Decimal
    capacity: Decimal


def resource_time(vendor_id: int, period: Period) -> list[ResourceTime]:
    """Every active resource, and any other that logged approved time in the period. Capacity:
    the weekly hours spread over five days, on the period's business days less the resource's
    time off.

    The hours are summed by SQL (from ``ix_time_entry_approved_day`` alone); time off is
    counted in business days per time-off row (a few per person), since SQL cannot count
    business days portably.
    """
    holidays = calendar.vendor_holidays(vendor_id, period.start, period.end)
    workdays = calendar.business_days(period.start, period.end, holidays)
    logged = (
        sa.select(TimeEntry.resource_id, sa.func.sum(TimeEntry.hours).label("hours"))
        .where(
            TimeEntry.vendor_id == vendor_id,
            TimeEntry.state == TimeEntryState.APPROVED,
            TimeEntry.day.between(period.start, period.end),
        )
        .group_by(TimeEntry.resource_id)
        .subquery("logged")
    )
    rows = db.session.execute(
        sa.select(Resource.id, Resource.partner_id, Resource.weekly_capacity_hours, logged.c.hours)
        .outerjoin(logged, logged.c.resource_id == Resource.id)
        .where(
            Resource.vendor_id == vendor_id,
            sa.or_(Resource.active.is_(True), logged.c.hours.is_not(None)),
        )
    )
    away = _days_off(vendor_id, period, set(workdays))
    return [
        ResourceTime(
            resource_id,
            partner_id,
            Decimal(0) if hours is None else Decimal(str(hours)),
            Decimal(weekly) * (len(workdays) - away.get(resource_id, 0)) / WORK_DAYS_A_WEEK,
        )
        for resource_id, partner_id, weekly, hours in rows
    ]


def _rolled_up(
    people: list[ResourceTime], *, by_partner: bool
) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """(hours, capacity) by resource, or by partner (its consultants together); hours only
    for those who logged some."""
    hours: dict[int, Decimal] = defaultdict(Decimal)
    capacity: dict[int, Decimal] = defaultdict(Decimal)
    for p in people:
        key = p.partner_id if by_partner else p.resource_id
        if key is None:
            continue
        capacity[key] += p.capacity
        if p.hours:
            hours[key] += p.hours
    return dict(hours), dict(capacity)


def utilisation(
    vendor_id: int, period: Period, *, by_partner: bool = False
) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """(approved hours logged in the period, capacity hours in the period), by resource or
    by partner (``resource_time``)."""
    return _rolled_up(resource_time(vendor_id, period), by_partner=by_partner)


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
