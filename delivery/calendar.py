"""Business days: the unit of every KPI promise (start within N, deliver within N)."""

from __future__ import annotations

from datetime import date, timedelta

SATURDAY = 5


def is_business_day(day: date) -> bool:
    return day.weekday() < SATURDAY


def add_business_days(start: date, days: int) -> date:
    """The date ``days`` business days after ``start`` (weekends skipped, no holidays yet).

    Zero days from a weekend lands on the next Monday: work cannot be due on a day off.
    """
    day = start
    while not is_business_day(day):
        day += timedelta(days=1)
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day
