"""A year of demo usage signals, weekly, for a vendor's customers: shapes a CSM recognises.

- the first customer is in distress: steady for most of the year, then its active users and
  licences used fall by about half over the last 30 days while tickets and escalations rise;
- the second is near its licence cap: licences used climb to 380, 95 % of the 400 it bought
  (the seed gives that account 400 licences);
- every other customer is steady or growing.

One ``store_signals`` call (set-based upserts), so it is fast and a second run changes
nothing; the caller commits.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from core.tenancy import tenant_scope
from success.signal_models import BuiltInSignal, SignalSource
from success.signals import SignalRow, store_signals

WEEKS = 52
NEAR_CAP_BOUGHT = 400
NEAR_CAP_USED = 380  # 95 % of NEAR_CAP_BOUGHT
NPS_EVERY_WEEKS = 4

_USERS = BuiltInSignal.ACTIVE_USERS.value
_LICENCES = BuiltInSignal.LICENCES_USED.value
_TICKETS = BuiltInSignal.TICKETS_OPEN.value
_ESCALATIONS = BuiltInSignal.ESCALATIONS.value
_NPS = BuiltInSignal.NPS.value


def _distress(week: int) -> dict[str, float]:
    """``week`` counts back from today (0 = this week): a sharp fall in the last 4 weeks."""
    fall = max(0, 5 - week) / 5  # 0 until five weeks ago, 1 this week
    users = 310 * (1 - 0.55 * fall)
    return {
        _USERS: users,
        _LICENCES: 340 * (1 - 0.5 * fall),
        _TICKETS: 3 + 14 * fall,
        _ESCALATIONS: round(3 * fall),
        _NPS: 8 - 4 * fall,
    }


def _near_cap(week: int) -> dict[str, float]:
    grown = (WEEKS - week) / WEEKS  # 0 a year ago, 1 this week
    licences = 250 + (NEAR_CAP_USED - 250) * grown
    return {
        _USERS: licences * 0.93,
        _LICENCES: licences,
        _TICKETS: 4,
        _ESCALATIONS: 0,
        _NPS: 8.5,
    }


def _growing(index: int) -> dict[int, dict[str, float]]:
    base = 60 + 35 * index
    weekly_growth = 0.002 * (index % 4)  # some steady, some growing
    shapes = {}
    for week in range(WEEKS + 1):
        users = base * (1 + weekly_growth) ** (WEEKS - week)
        shapes[week] = {
            _USERS: users,
            _LICENCES: users * 1.12,
            _TICKETS: 2 + index % 3,
            _ESCALATIONS: 0,
            _NPS: 8 + (index % 2) * 0.8,
        }
    return shapes


def _figure(key: str, value: float, rng: random.Random) -> float:
    if key in (_USERS, _LICENCES):
        return float(round(value * rng.uniform(0.97, 1.03)))
    if key == _NPS:
        return round(min(10.0, max(0.0, value + rng.uniform(-0.4, 0.4))), 1)
    return float(max(0, round(value + rng.choice((-1, 0, 0, 1)) * (value > 1))))


def demo_rows(customer_ids: list[int], today: date, seed: int = 0) -> list[SignalRow]:
    rng = random.Random(seed)
    rows: list[SignalRow] = []
    for index, customer_id in enumerate(customer_ids):
        growing = _growing(index)
        for week in range(WEEKS + 1):
            if index == 0:
                figures = _distress(week)
            elif index == 1:
                figures = _near_cap(week)
            else:
                figures = growing[week]
            day = today - timedelta(weeks=week)
            for key, value in figures.items():
                if key == _NPS and week % NPS_EVERY_WEEKS:
                    continue
                shown = value if (index, key, week) == (1, _LICENCES, 0) else None
                rows.append(
                    SignalRow(customer_id, key, day, shown if shown else _figure(key, value, rng))
                )
    return rows


def demo(vendor_id: int, user_id: int, customer_ids: list[int], today: date) -> None:
    """Store the year of signals for ``customer_ids`` (see the module's docstring)."""
    with tenant_scope(vendor_id):
        store_signals(
            vendor_id,
            demo_rows(customer_ids, today, seed=vendor_id),
            SignalSource.CSV,
            user_id,
            "demo-usage-signals.csv",
        )
