"""Renewals: the accounts renewing in a window, by renewal date, with ARR, health band and open
recommendations; the forecast (ARR renewing by band); and time to first value.

Time to first value is, per account, from its first order placed (cancelled orders left out:
they delivered nothing) to the first acceptance of any of its engagements; an account that
ordered and has nothing accepted yet is "waiting". Every figure is read set-based: a page
runs the same statements with ten accounts or ten thousand.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select

from accounts.models import Organization
from catalog.models import Recommendation, RecommendationState
from core.extensions import db
from core.money import Money
from core.permissions import Actor, OrgKind
from delivery.models import Engagement
from ordering.models import Order, OrderState
from success import policies, queries
from success.health_models import AccountHealth, Band
from success.models import CustomerAccount

QUARTER = "quarter"
WINDOWS = {
    QUARTER: "This quarter",
    "90": "Next 90 days",
    "180": "Next 6 months",
    "365": "Next 12 months",
}
DEFAULT_WINDOW = "365"
NO_SCORE = "none"
BANDS = (Band.GREEN.value, Band.AMBER.value, Band.RED.value, NO_SCORE)
BAND_LABELS = {**{band.value: band.label for band in Band}, NO_SCORE: "No score"}
OPEN_RECOMMENDATIONS = (RecommendationState.PROPOSED, RecommendationState.VIEWED)
NO_SEGMENT = "No segment"
CSV_HEADER = (
    "account",
    "owner",
    "segment",
    "renewal_date",
    "arr",
    "currency",
    "health_band",
    "health_score",
    "open_recommendations",
    "time_to_first_value_days",
)


def quarter_end(today: date) -> date:
    """The last day of ``today``'s calendar quarter."""
    first_month_next = (today.month - 1) // 3 * 3 + 4
    if first_month_next > 12:
        return date(today.year, 12, 31)
    return date(today.year, first_month_next, 1) - timedelta(days=1)


def window_end(window: str, today: date) -> date:
    if window == QUARTER:
        return quarter_end(today)
    return today + timedelta(days=int(window))


@dataclass(frozen=True)
class RenewalFilters:
    who: str = queries.ALL
    window: str = DEFAULT_WINDOW
    segment: str = ""


def _renewing(stmt: sa.Select[Any], actor: Actor, filters: RenewalFilters, today: date):
    """``stmt`` (over customer accounts) narrowed to those renewing in the window that
    ``actor`` may see."""
    stmt = stmt.join(Organization, Organization.id == CustomerAccount.organization_id).where(
        Organization.kind == OrgKind.CUSTOMER,
        CustomerAccount.renewal_date >= today,
        CustomerAccount.renewal_date <= window_end(filters.window, today),
    )
    if filters.who == queries.MINE or policies.restricted_to_own(actor):
        stmt = stmt.where(Organization.csm_id == actor.id)
    if filters.segment:
        stmt = stmt.where(CustomerAccount.segment == filters.segment)
    return CustomerAccount.reach(stmt, actor)


def renewals(actor: Actor, filters: RenewalFilters, today: date) -> sa.Select[Any]:
    """The accounts renewing in the window, soonest first."""
    return _renewing(select(CustomerAccount), actor, filters, today).order_by(
        CustomerAccount.renewal_date, Organization.name, CustomerAccount.id
    )


# --- the forecast ------------------------------------------------------------------------


@dataclass
class Forecast:
    """ARR renewing in the window by health band, per currency (an account's ARR is in its
    own currency, and amounts of two currencies do not add up)."""

    arr: dict[str, dict[str, int]] = field(default_factory=dict)  # currency → band → minor
    accounts: dict[str, int] = field(default_factory=dict)  # band → accounts

    @property
    def currencies(self) -> list[str]:
        return sorted(self.arr)

    def amount(self, currency: str, band: str) -> Money:
        return Money(self.arr.get(currency, {}).get(band, 0), currency)

    def total(self, currency: str) -> Money:
        return Money(sum(self.arr.get(currency, {}).values()), currency)

    @property
    def total_accounts(self) -> int:
        return sum(self.accounts.values())


def forecast(actor: Actor, filters: RenewalFilters, today: date) -> Forecast:
    """One grouped statement over the same accounts as the list."""
    band = AccountHealth.band  # NULL: no score (a coalesce would not fit the enum's type)
    stmt = _renewing(
        select(
            band,
            CustomerAccount.currency,
            func.sum(CustomerAccount.arr_minor),
            func.count(CustomerAccount.id),
        ).select_from(CustomerAccount),
        actor,
        filters,
        today,
    )
    stmt = stmt.outerjoin(
        AccountHealth, AccountHealth.customer_id == CustomerAccount.organization_id
    ).group_by(band, CustomerAccount.currency)
    made = Forecast()
    for band_value, currency, arr_minor, accounts in db.session.execute(stmt):
        key = band_value.value if band_value is not None else NO_SCORE
        made.arr.setdefault(currency, {})[key] = int(arr_minor or 0)
        made.accounts[key] = made.accounts.get(key, 0) + int(accounts)
    return made


# --- time to first value -----------------------------------------------------------------


@dataclass(frozen=True)
class FirstValue:
    placed_at: datetime
    accepted_at: datetime | None

    @property
    def days(self) -> float | None:
        if self.accepted_at is None:
            return None
        return max((self.accepted_at - self.placed_at).total_seconds(), 0) / 86400

    def waiting_days(self, now: datetime) -> float:
        return max((now - self.placed_at).total_seconds(), 0) / 86400


def first_value(customer_ids: Iterable[int] | None = None) -> dict[int, FirstValue]:
    """Each customer's first order placed and first engagement accepted (of the customers
    named, or all of the vendor's): two grouped statements."""
    placed = select(Order.customer_id, func.min(Order.created_at)).where(
        Order.state != OrderState.CANCELLED
    )
    accepted = select(Engagement.customer_id, func.min(Engagement.accepted_at)).where(
        Engagement.accepted_at.is_not(None)
    )
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        placed = placed.where(Order.customer_id.in_(ids))
        accepted = accepted.where(Engagement.customer_id.in_(ids))
    first_orders = dict(db.session.execute(placed.group_by(Order.customer_id)).all())
    first_accepted = dict(db.session.execute(accepted.group_by(Engagement.customer_id)).all())
    return {
        customer_id: FirstValue(placed_at, first_accepted.get(customer_id))
        for customer_id, placed_at in first_orders.items()
    }


@dataclass(frozen=True)
class SegmentValue:
    segment: str
    median_days: float | None
    measured: int  # accounts with a first value
    waiting: int  # accounts that ordered and wait for their first acceptance


def by_segment(actor: Actor) -> list[SegmentValue]:
    """The median time to first value per segment, over the accounts ``actor`` may see."""
    values = first_value()
    stmt = select(CustomerAccount.organization_id, CustomerAccount.segment)
    segments = dict(db.session.execute(CustomerAccount.reach(stmt, actor)).all())
    days: dict[str, list[float]] = defaultdict(list)
    waiting: dict[str, int] = defaultdict(int)
    own_only = policies.restricted_to_own(actor)
    for customer_id, value in values.items():
        if own_only and customer_id not in segments:
            continue
        segment = segments.get(customer_id) or NO_SEGMENT
        if value.days is None:
            waiting[segment] += 1
        else:
            days[segment].append(value.days)
    return [
        SegmentValue(
            segment,
            statistics.median(days[segment]) if days[segment] else None,
            len(days[segment]),
            waiting[segment],
        )
        for segment in sorted(set(days) | set(waiting), key=lambda s: (s == NO_SEGMENT, s))
    ]


# --- the rows of a page ------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalRow:
    account: CustomerAccount
    customer: str
    owner: str
    band: str  # a ``Band`` value or ``NO_SCORE``
    score: int | None
    open_recommendations: int
    first_value: FirstValue | None

    @property
    def band_label(self) -> str:
        return BAND_LABELS[self.band]


def rows_of(page: Sequence[CustomerAccount]) -> list[RenewalRow]:
    """Names, owners, health, open recommendations and first value of a page of accounts:
    a fixed number of statements, whatever the page size."""
    ids = [account.organization_id for account in page]
    if not ids:
        return []
    customers = {
        org_id: (name, csm_id)
        for org_id, name, csm_id in db.session.execute(
            select(Organization.id, Organization.name, Organization.csm_id).where(
                Organization.id.in_(ids)
            )
        )
    }
    owners = queries.owner_names(csm_id for _, csm_id in customers.values())
    health = {
        customer_id: (band, score)
        for customer_id, band, score in db.session.execute(
            select(AccountHealth.customer_id, AccountHealth.band, AccountHealth.score).where(
                AccountHealth.customer_id.in_(ids)
            )
        )
    }
    recommendations = dict(
        db.session.execute(
            select(Recommendation.customer_id, func.count(Recommendation.id))
            .where(
                Recommendation.customer_id.in_(ids),
                Recommendation.state.in_(OPEN_RECOMMENDATIONS),
            )
            .group_by(Recommendation.customer_id)
        ).all()
    )
    values = first_value(ids)
    rows = []
    for account in page:
        name, csm_id = customers.get(account.organization_id, ("", None))
        band, score = health.get(account.organization_id, (None, None))
        rows.append(
            RenewalRow(
                account,
                name,
                owners.get(csm_id, "") if csm_id is not None else "",
                band.value if band is not None else NO_SCORE,
                score,
                int(recommendations.get(account.organization_id, 0)),
                values.get(account.organization_id),
            )
        )
    return rows


def csv_rows(rows: Iterable[RenewalRow]) -> Iterable[list[Any]]:
    for row in rows:
        days = row.first_value.days if row.first_value is not None else None
        yield [
            row.customer,
            row.owner,
            row.account.segment,
            row.account.renewal_date.isoformat() if row.account.renewal_date else "",
            str(row.account.arr.to_decimal()),
            row.account.currency,
            row.band_label,
            "" if row.score is None else row.score,
            row.open_recommendations,
            "" if days is None else f"{days:.1f}",
        ]
