"""Capacity: the hours each resource gives in a window (weekly hours over the business days,
less holidays and time off) against the hours planned for them there (each assignment's
planned hours spread evenly over the business days of its window).

The allocation page asks it about one window for every resource; the capacity page about
eight weeks for a page of resources. Either way a fixed number of statements: the holidays,
the time off and the assignments of the window, whatever the number of resources.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from core.extensions import db
from core.permissions import scoped
from delivery.calendar import business_days, days_between, vendor_holidays
from delivery.models import Assignment, Engagement, Resource, TimeOff
from delivery.policies import ALLOCATABLE

WORK_DAYS_A_WEEK = 5
NEAR = Decimal("0.8")  # booked beyond 80% of capacity is near full
WEEKS_SHOWN = 8
HOUR = Decimal("0.01")
MAX_WINDOW_DAYS = 366  # the longest assignment window (``delivery.allocation``)


class LoadLevel(StrEnum):
    """How full a resource is; each has a word, so the page never relies on colour alone."""

    NONE = "none"
    UNDER = "under"
    NEAR = "near"
    OVER = "over"

    @property
    def label(self) -> str:
        return {
            "none": "No capacity",
            "under": "Room left",
            "near": "Nearly full",
            "over": "Over capacity",
        }[self.value]


@dataclass(frozen=True)
class Load:
    capacity: Decimal
    planned: Decimal

    @property
    def free(self) -> Decimal:
        return self.capacity - self.planned

    @property
    def level(self) -> LoadLevel:
        if self.planned > self.capacity:
            return LoadLevel.OVER
        if self.capacity == 0:
            return LoadLevel.NONE
        if self.planned >= self.capacity * NEAR:
            return LoadLevel.NEAR
        return LoadLevel.UNDER

    def plus(self, hours: Decimal) -> Load:
        return Load(self.capacity, self.planned + hours)


@dataclass(frozen=True)
class Window:
    """Days from ``first`` to ``last``, both included."""

    first: date
    last: date


@dataclass(frozen=True)
class Calendar:
    """What a window's arithmetic needs, read once: holidays, days away by resource, and the
    open assignments of resources overlapping the window."""

    holidays: frozenset[date]
    away: dict[int, set[date]]
    assignments: dict[int, list[Assignment]]


def read_calendar(vendor_id: int, window: Window, resource_ids: Collection[int] | None) -> Calendar:
    """Three statements, whatever the number of resources (``None``: all of them)."""
    # An assignment overlapping the window may run up to a window's length beyond it, and
    # its hours spread over all of its business days.
    reach = timedelta(days=MAX_WINDOW_DAYS)
    holidays = vendor_holidays(vendor_id, window.first - reach, window.last + reach)
    time_off = scoped(TimeOff).where(
        TimeOff.starts_on <= window.last, TimeOff.ends_on >= window.first
    )
    assigned = (
        scoped(Assignment)
        .join(Engagement, Engagement.id == Assignment.engagement_id)
        .where(
            Assignment.resource_id.is_not(None),
            Assignment.starts_on <= window.last,
            Assignment.ends_on >= window.first,
            Engagement.state.in_(ALLOCATABLE),
        )
    )
    if resource_ids is not None:
        time_off = time_off.where(TimeOff.resource_id.in_(resource_ids))
        assigned = assigned.where(Assignment.resource_id.in_(resource_ids))
    away: dict[int, set[date]] = defaultdict(set)
    for period in db.session.scalars(time_off):
        away[period.resource_id].update(
            days_between(max(period.starts_on, window.first), min(period.ends_on, window.last))
        )
    assignments: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in db.session.scalars(assigned):
        assignments[assignment.resource_id].append(assignment)
    return Calendar(holidays, away, assignments)


def _workdays(first: date, last: date, holidays: frozenset[date]) -> list[date]:
    """The days an assignment's hours spread over: its business days, or every day of a
    window that has none (work planned over a weekend still counts)."""
    return business_days(first, last, holidays) or list(days_between(first, last))


def planned_share(
    planned_hours: Decimal,
    starts_on: date,
    ends_on: date,
    window: Window,
    holidays: frozenset[date],
) -> Decimal:
    """The part of an assignment's planned hours that falls in ``window``."""
    days = _workdays(starts_on, ends_on, holidays)
    inside = sum(1 for day in days if window.first <= day <= window.last)
    return planned_hours * inside / len(days)


def capacity_in(resource: Resource, window: Window, calendar: Calendar) -> Decimal:
    away = calendar.away.get(resource.id, set())
    days = [d for d in business_days(window.first, window.last, calendar.holidays) if d not in away]
    return Decimal(resource.weekly_capacity_hours) * len(days) / WORK_DAYS_A_WEEK


def load_in(resource: Resource, window: Window, calendar: Calendar) -> Load:
    planned = sum(
        (
            planned_share(a.planned_hours, a.starts_on, a.ends_on, window, calendar.holidays)
            for a in calendar.assignments.get(resource.id, [])
        ),
        Decimal(0),
    )
    return Load(capacity_in(resource, window, calendar).quantize(HOUR), planned.quantize(HOUR))


def loads(resources: Sequence[Resource], window: Window, vendor_id: int) -> dict[int, Load]:
    """Each resource's load in one window."""
    calendar = read_calendar(vendor_id, window, [r.id for r in resources])
    return {r.id: load_in(r, window, calendar) for r in resources}


def weeks_from(today: date, count: int = WEEKS_SHOWN) -> list[Window]:
    """``count`` weeks, Monday to Sunday, starting with the current one."""
    monday = today - timedelta(days=today.weekday())
    return [
        Window(monday + timedelta(weeks=n), monday + timedelta(weeks=n, days=6))
        for n in range(count)
    ]


@dataclass(frozen=True)
class CapacityRow:
    resource: Resource
    weeks: list[Load]


def grid(resources: Iterable[Resource], weeks: list[Window], vendor_id: int) -> list[CapacityRow]:
    """Resources by weeks: planned hours against capacity in each week."""
    resources = list(resources)
    span = Window(weeks[0].first, weeks[-1].last)
    calendar = read_calendar(vendor_id, span, [r.id for r in resources])
    return [CapacityRow(r, [load_in(r, week, calendar) for week in weeks]) for r in resources]
