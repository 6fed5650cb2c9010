"""Business days: the unit of every KPI promise."""

from __future__ import annotations

from datetime import date

import pytest

from delivery.calendar import add_business_days, is_business_day

MONDAY = date(2026, 11, 23)
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (MONDAY, 0, MONDAY),
        (MONDAY, 1, date(2026, 11, 24)),
        (MONDAY, 5, date(2026, 11, 30)),
        (FRIDAY, 1, date(2026, 11, 30)),
        (SATURDAY, 0, date(2026, 11, 30)),
        (SATURDAY, 1, date(2026, 12, 1)),
        (MONDAY, 10, date(2026, 12, 7)),
    ],
)
def test_business_days_skip_weekends(start, days, expected):
    assert add_business_days(start, days) == expected
    assert is_business_day(add_business_days(start, days))


def test_weekends_are_not_business_days():
    assert not is_business_day(SATURDAY)
    assert is_business_day(FRIDAY)
