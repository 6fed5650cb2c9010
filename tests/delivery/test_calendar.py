"""Business days: the unit of every KPI promise."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from catalog.models import ServletVersion
from core.extensions import db
from delivery.calendar import add_business_days, business_days, is_business_day, vendor_holidays
from delivery.engagements import due_dates
from delivery.models import Holiday
from tests.ordering import factories as ordering_factories

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


# A Thanksgiving-like run: Thursday 26 and Friday 27 off, then the weekend.
THURSDAY = date(2026, 11, 26)
LONG_WEEKEND = frozenset({THURSDAY, FRIDAY})


@pytest.mark.parametrize(
    ("start", "days", "holidays", "expected"),
    [
        (date(2026, 11, 25), 1, LONG_WEEKEND, date(2026, 11, 30)),
        (THURSDAY, 0, LONG_WEEKEND, date(2026, 11, 30)),
        (THURSDAY, 1, LONG_WEEKEND, date(2026, 12, 1)),
        (MONDAY, 5, LONG_WEEKEND, date(2026, 12, 2)),
        (MONDAY, 0, frozenset({MONDAY}), date(2026, 11, 24)),
        (FRIDAY, 1, frozenset({SATURDAY, date(2026, 11, 29)}), date(2026, 11, 30)),
        (FRIDAY, 0, frozenset({SATURDAY}), FRIDAY),
        (date(2026, 11, 25), 2, LONG_WEEKEND | {date(2026, 11, 30)}, date(2026, 12, 2)),
    ],
    ids=[
        "holiday-run-into-weekend",
        "zero-days-from-a-holiday",
        "one-day-from-a-holiday",
        "a-week-across-the-run",
        "zero-days-from-a-monday-holiday",
        "holiday-on-a-weekend-changes-nothing",
        "zero-days-from-a-business-day",
        "holiday-weekend-holiday",
    ],
)
def test_business_days_skip_the_vendors_holidays(start, days, holidays, expected):
    assert add_business_days(start, days, holidays) == expected
    assert is_business_day(expected, holidays)


def test_business_days_of_a_window_leave_out_weekends_and_holidays():
    assert business_days(MONDAY, date(2026, 12, 6), LONG_WEEKEND) == [
        MONDAY,
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 2),
        date(2026, 12, 3),
        date(2026, 12, 4),
    ]
    assert business_days(SATURDAY, date(2026, 11, 29)) == []


def test_due_dates_skip_the_vendors_own_holidays_only(app, tenant_a, tenant_b, unscoped):
    with unscoped():
        ordering_factories.order(tenant_a, start_within_days=1, deliver_within_days=2)
        version = db.session.scalar(select(ServletVersion))
        db.session.add_all(
            [
                Holiday(vendor_id=tenant_a.vendor_id, day=date(2026, 11, 30), name="Closed"),
                Holiday(vendor_id=tenant_b.vendor_id, day=date(2026, 12, 1), name="Not ours"),
            ]
        )
        db.session.commit()
        friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
        start_by, deliver_by = due_dates(version, friday_evening)
        assert start_by == date(2026, 12, 1)
        assert deliver_by == date(2026, 12, 3)
        assert vendor_holidays(tenant_a.vendor_id, MONDAY) == {date(2026, 11, 30)}
        assert vendor_holidays(tenant_a.vendor_id, MONDAY, date(2026, 11, 29)) == set()
