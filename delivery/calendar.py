"""Business days: the unit of every KPI promise (start within N, deliver within N) and of
capacity. Weekends and the vendor's holidays are days off."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date, timedelta

from sqlalchemy import select

from core.extensions import db
from delivery.models import Holiday

SATURDAY = 5
NO_HOLIDAYS: frozenset[date] = frozenset()


def is_business_day(day: date, holidays: Collection[date] = NO_HOLIDAYS) -> bool:
    return day.weekday() < SATURDAY and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date] = NO_HOLIDAYS) -> date:
    """The date ``days`` business days after ``start`` (weekends and ``holidays`` skipped).

    Zero days from a day off lands on the next business day: work cannot be due on a day off.
    """
    day = start
    while not is_business_day(day, holidays):
        day += timedelta(days=1)
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            remaining -= 1
    return day


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from ``first`` to ``last``, both included."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def business_days(first: date, last: date, holidays: Collection[date] = NO_HOLIDAYS) -> list[date]:
    """The business days from ``first`` to ``last``, both included."""
    return [day for day in days_between(first, last) if is_business_day(day, holidays)]


def vendor_holidays(vendor_id: int, first: date, last: date | None = None) -> frozenset[date]:
    """The vendor's holidays from ``first`` (to ``last`` if given, else all later ones: a due
    date N business days ahead may pass any number of them)."""
    stmt = select(Holiday.day).where(Holiday.vendor_id == vendor_id, Holiday.day >= first)
    if last is not None:
        stmt = stmt.where(Holiday.day <= last)
    return frozenset(db.session.scalars(stmt))
