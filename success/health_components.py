"""The health components, each read set-based for all of a vendor's customers (or a given few)
on an "as of" day, and scored 0-100 with a fact a person can check.

One SQL statement per component (the four signal-based ones share one), never one per
account. Each component has data for a customer or is left out of that customer's score:

- ``health_check``: the latest accepted health-check engagement's ``health_score``.
- ``csat``: the mean CSAT (1-5) of engagements rated in the last 365 days, 1 → 0, 5 → 100.
- ``nps``: NPS answers (signal ``nps``, 0-10) of the last 180 days: % promoters (9-10) -
  % detractors (0-6), from -100..100 to 0..100.
- ``usage_trend``: active users now (latest in 90 days) against 30 days before: flat scores
  75, each % of growth +1.5, each % of fall -1.5 (-50 % → 0, +17 % → 100).
- ``licence_utilisation``: latest licences used of ``CustomerAccount.licences_bought``:
  80 % and more → 100, linearly down to 0; the 30-day change is in the fact.
- ``support_load``: tickets open + 3 x escalations (latest in 30 days): 100 - 5 per point.
- ``late_engagements``: engagements past their deliver-by date and not delivered on the day:
  100 - 25 per late engagement (data: the customer has engagements).
- ``overdue_invoices``: issued invoices past due and unpaid on the day: 100 - 25 each (data:
  the customer has issued invoices).
- ``entitlements``: credits unused on entitlements expiring within 60 days, as a share of
  the credits valid on the day: 100 x (1 - expiring unused / valid).
- ``recency``: days since an engagement last started or was accepted: 30 days or less →
  100, linearly down to 0 at 365 days.
- ``contact_change``: a key contact replaced in the last 90 days: 0 on the day, back to 100
  after 90 days (data: the account has key contacts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from accounts.models import Organization
from billing.models import Invoice, InvoiceState
from catalog.models import ServletKind, ServletVersion
from core.extensions import db
from core.permissions import OrgKind
from core.templating import date_filter
from delivery.models import Engagement
from ordering.models import Entitlement
from success.health_models import HealthComponent as C
from success.models import CustomerAccount, KeyContact
from success.signal_models import BuiltInSignal, SignalType, UsageSignal

CSAT_DAYS = 365
NPS_DAYS = 180
TREND_DAYS = 30
FRESH_DAYS = 90  # a usage figure older than this is no figure
SUPPORT_DAYS = 30
ESCALATION_WEIGHT = 3
EXPIRY_DAYS = 60
RECENT_DAYS, STALE_DAYS = 30, 365
CONTACT_DAYS = 90
FULL_UTILISATION = 80  # % of licences used that counts as fully adopted

# What each component is called in a sentence ("licence utilisation fell from ...").
SUBJECTS = {
    C.HEALTH_CHECK: "health-check result",
    C.CSAT: "CSAT",
    C.NPS: "NPS",
    C.USAGE_TREND: "active users",
    C.LICENCE_UTILISATION: "licence utilisation",
    C.SUPPORT_LOAD: "support load",
    C.LATE_ENGAGEMENTS: "late engagements",
    C.OVERDUE_INVOICES: "overdue invoices",
    C.ENTITLEMENTS: "credits expiring unused",
    C.RECENCY: "days since the last engagement",
    C.CONTACT_CHANGE: "key contacts",
}
LABELS = {
    C.HEALTH_CHECK: "Health check",
    C.CSAT: "CSAT",
    C.NPS: "NPS",
    C.USAGE_TREND: "Usage trend",
    C.LICENCE_UTILISATION: "Licence utilisation",
    C.SUPPORT_LOAD: "Support load",
    C.LATE_ENGAGEMENTS: "Late engagements",
    C.OVERDUE_INVOICES: "Overdue invoices",
    C.ENTITLEMENTS: "Expiring entitlements",
    C.RECENCY: "Engagement recency",
    C.CONTACT_CHANGE: "Key-contact change",
}


@dataclass(frozen=True)
class Reading:
    """One component of one customer: its score, the figure it is scored on (``value``, as
    ``shown`` in a sentence) and the fact the page states."""

    score: int
    value: float
    shown: str
    fact: str


@dataclass(frozen=True)
class Scope:
    """Whose components to read, and on which day (the day's end is the cut-off)."""

    vendor_id: int
    as_of: date
    customer_ids: tuple[int, ...] | None = None  # None: every customer of the vendor

    @property
    def end(self) -> datetime:
        return datetime.combine(self.as_of + timedelta(days=1), time(0), tzinfo=UTC)

    def days_ago(self, days: int) -> date:
        return self.as_of - timedelta(days=days)

    def only(self, column: Any) -> list[Any]:
        return [] if self.customer_ids is None else [column.in_(self.customer_ids)]


Readings = dict[C, dict[int, Reading]]


def _clamp(value: float) -> int:
    return max(0, min(100, round(value)))


def _plural(count: float, word: str) -> str:
    return f"{count:g} {word}{'' if count == 1 else 's'}"


def _ago(days: int) -> str:
    return "today" if days == 0 else f"{_plural(days, 'day')} ago"


def _pct(value: float) -> str:
    return f"{value:.0f} %"


# --- signals -----------------------------------------------------------------------------


def _signal_types(vendor_id: int) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(SignalType.key, SignalType.id).where(
            SignalType.vendor_id == vendor_id,
            SignalType.key.in_([member.value for member in BuiltInSignal]),
        )
    )
    return {key: type_id for key, type_id in rows}  # noqa: C416 (rows are Row objects)


def _latest(type_id: int | None, last: date, first: date) -> Any:
    """The customer's latest figure of a signal type from ``first`` (exclusive) to ``last``."""
    if type_id is None:
        return sa.null()
    return (
        sa.select(UsageSignal.value)
        .where(
            UsageSignal.customer_id == Organization.id,
            UsageSignal.signal_type_id == type_id,
            UsageSignal.day <= last,
            UsageSignal.day > first,
        )
        .order_by(UsageSignal.day.desc())
        .limit(1)
        .scalar_subquery()
    )


def _customers(scope: Scope) -> sa.Select[Any]:
    return (
        sa.select(Organization.id)
        .where(Organization.kind == OrgKind.CUSTOMER, Organization.vendor_id == scope.vendor_id)
        .where(*scope.only(Organization.id))
    )


def signal_readings(scope: Scope, types: dict[str, int]) -> tuple[dict[int, str], Readings]:
    """Usage trend, licence utilisation and support load (one statement), and each
    customer's segment (the same statement: it reads every customer once)."""
    day, before = scope.as_of, scope.days_ago(TREND_DAYS)
    users, licences = types.get(BuiltInSignal.ACTIVE_USERS), types.get(BuiltInSignal.LICENCES_USED)
    tickets, escalations = (
        types.get(BuiltInSignal.TICKETS_OPEN),
        types.get(BuiltInSignal.ESCALATIONS),
    )
    stmt = (
        _customers(scope)
        .add_columns(
            CustomerAccount.segment,
            CustomerAccount.licences_bought,
            _latest(users, day, scope.days_ago(FRESH_DAYS)),
            _latest(users, before, scope.days_ago(TREND_DAYS + FRESH_DAYS)),
            _latest(licences, day, scope.days_ago(FRESH_DAYS)),
            _latest(licences, before, scope.days_ago(TREND_DAYS + FRESH_DAYS)),
            _latest(tickets, day, scope.days_ago(SUPPORT_DAYS)),
            _latest(escalations, day, scope.days_ago(SUPPORT_DAYS)),
        )
        .outerjoin(CustomerAccount, CustomerAccount.organization_id == Organization.id)
    )
    segments: dict[int, str] = {}
    readings: Readings = {C.USAGE_TREND: {}, C.LICENCE_UTILISATION: {}, C.SUPPORT_LOAD: {}}
    for row in db.session.execute(stmt):
        customer_id, segment, bought, users_now, users_then, used_now, used_then, open_, esc = row
        segments[customer_id] = segment or ""
        if users_now is not None and users_then is not None:
            readings[C.USAGE_TREND][customer_id] = usage_trend(users_now, users_then)
        if used_now is not None and bought:
            readings[C.LICENCE_UTILISATION][customer_id] = licence_utilisation(
                used_now, used_then, bought
            )
        if open_ is not None or esc is not None:
            readings[C.SUPPORT_LOAD][customer_id] = support_load(open_ or 0, esc or 0)
    return segments, readings


def usage_trend(now: float, then: float) -> Reading:
    if then == 0:
        score = 100 if now > 0 else 0
        return Reading(score, now, f"{now:g}", f"active users {now:g}, none 30 days before")
    change = (now - then) / then * 100
    word = "up" if change >= 0 else "down"
    fact = f"active users {now:g}, {word} {abs(change):.0f} % from {then:g} in 30 days"
    return Reading(_clamp(75 + 1.5 * change), now, f"{now:g}", fact)


def licence_utilisation(used: float, then: float | None, bought: int) -> Reading:
    share = used / bought * 100
    fact = f"licences used {_pct(share)} of {bought:,}"
    if then is not None:
        fact += f" ({_pct(then / bought * 100)} 30 days before)"
    return Reading(_clamp(share / FULL_UTILISATION * 100), round(share), _pct(share), fact)


def support_load(tickets: float, escalations: float) -> Reading:
    load = tickets + ESCALATION_WEIGHT * escalations
    shown = f"{_plural(tickets, 'ticket')} open, {_plural(escalations, 'escalation')}"
    return Reading(_clamp(100 - 5 * load), load, shown, shown)


def nps_readings(scope: Scope, type_id: int | None) -> dict[int, Reading]:
    if type_id is None:
        return {}
    one = sa.literal(1)
    stmt = (
        sa.select(
            UsageSignal.customer_id,
            sa.func.count(),
            sa.func.sum(sa.case((UsageSignal.value >= 9, one), else_=0)),
            sa.func.sum(sa.case((UsageSignal.value <= 6, one), else_=0)),
        )
        .where(
            UsageSignal.vendor_id == scope.vendor_id,
            UsageSignal.signal_type_id == type_id,
            UsageSignal.day > scope.days_ago(NPS_DAYS),
            UsageSignal.day <= scope.as_of,
            *scope.only(UsageSignal.customer_id),
        )
        .group_by(UsageSignal.customer_id)
    )
    return {
        customer_id: nps(n, promoters, detractors)
        for customer_id, n, promoters, detractors in db.session.execute(stmt)
    }


def nps(answers: int, promoters: int, detractors: int) -> Reading:
    score = round((promoters - detractors) / answers * 100)
    fact = f"NPS {score:+d} from {_plural(answers, 'answer')} in 180 days"
    return Reading(_clamp((score + 100) / 2), score, f"{score:+d}", fact)


# --- delivery ----------------------------------------------------------------------------


def health_check_readings(scope: Scope) -> dict[int, Reading]:
    rank = (
        sa.func.row_number()
        .over(
            partition_by=Engagement.customer_id,
            order_by=(Engagement.accepted_at.desc(), Engagement.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        sa.select(Engagement.customer_id, Engagement.health_score, Engagement.accepted_at, rank)
        .join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
        .where(
            Engagement.vendor_id == scope.vendor_id,
            Engagement.accepted_at < scope.end,
            Engagement.health_score.is_not(None),
            ServletVersion.kind == ServletKind.HEALTH_CHECK,
            *scope.only(Engagement.customer_id),
        )
        .subquery()
    )
    stmt = sa.select(ranked.c.customer_id, ranked.c.health_score, ranked.c.accepted_at).where(
        ranked.c.rank == 1
    )
    return {
        customer_id: health_check(score, accepted_at.date())
        for customer_id, score, accepted_at in db.session.execute(stmt)
    }


def health_check(score: int, on: date) -> Reading:
    fact = f"latest health check scored {score} of 100 ({date_filter(on)})"
    return Reading(_clamp(score), score, str(score), fact)


def csat_readings(scope: Scope) -> dict[int, Reading]:
    since = scope.end - timedelta(days=CSAT_DAYS)
    stmt = (
        sa.select(Engagement.customer_id, sa.func.avg(Engagement.csat), sa.func.count())
        .where(
            Engagement.vendor_id == scope.vendor_id,
            Engagement.csat.is_not(None),
            Engagement.rated_at >= since,
            Engagement.rated_at < scope.end,
            *scope.only(Engagement.customer_id),
        )
        .group_by(Engagement.customer_id)
    )
    return {customer_id: csat(float(mean), n) for customer_id, mean, n in db.session.execute(stmt)}


def csat(mean: float, ratings: int) -> Reading:
    mean = round(mean, 1)
    fact = f"CSAT {mean:.1f} of 5 from {_plural(ratings, 'rating')} in 12 months"
    return Reading(_clamp((mean - 1) / 4 * 100), mean, f"{mean:.1f}", fact)


def engagement_readings(scope: Scope) -> Readings:
    """Late engagements and recency: one statement over the customers' engagements, each
    judged as it stood at the end of the day (what was delivered later was late then)."""
    end = scope.end
    late = sa.and_(
        Engagement.deliver_by < scope.as_of,
        sa.or_(Engagement.delivered_at.is_(None), Engagement.delivered_at >= end),
        sa.or_(Engagement.cancelled_at.is_(None), Engagement.cancelled_at >= end),
    )
    stmt = (
        sa.select(
            Engagement.customer_id,
            sa.func.count(),
            sa.func.sum(sa.case((late, sa.literal(1)), else_=0)),
            sa.func.max(sa.case((Engagement.started_at < end, Engagement.started_at))),
            sa.func.max(sa.case((Engagement.accepted_at < end, Engagement.accepted_at))),
        )
        .where(
            Engagement.vendor_id == scope.vendor_id,
            Engagement.requested_at < end,
            *scope.only(Engagement.customer_id),
        )
        .group_by(Engagement.customer_id)
    )
    readings: Readings = {C.LATE_ENGAGEMENTS: {}, C.RECENCY: {}}
    for customer_id, total, late_count, started, accepted in db.session.execute(stmt):
        readings[C.LATE_ENGAGEMENTS][customer_id] = late_engagements(int(late_count or 0), total)
        moments = [_aware(m) for m in (started, accepted) if m is not None]
        if moments:
            readings[C.RECENCY][customer_id] = recency((scope.as_of - max(moments).date()).days)
    return readings


def _aware(moment: datetime) -> datetime:
    """An aggregate (``max``) comes back without the column type's conversion on SQLite."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def late_engagements(late: int, total: int) -> Reading:
    fact = (
        f"{_plural(late, 'engagement')} past the deliver-by date"
        if late
        else f"no engagement late (of {total})"
    )
    return Reading(_clamp(100 - 25 * late), late, str(late), fact)


def recency(days: int) -> Reading:
    score = 100 - (days - RECENT_DAYS) / (STALE_DAYS - RECENT_DAYS) * 100
    fact = f"last engagement started or accepted {_ago(days)}"
    return Reading(_clamp(score), days, str(days), fact)


# --- billing and ordering ----------------------------------------------------------------


def overdue_readings(scope: Scope) -> dict[int, Reading]:
    end = scope.end
    overdue = sa.and_(
        Invoice.due_on < scope.as_of,
        sa.or_(Invoice.paid_at.is_(None), Invoice.paid_at >= end),
        sa.or_(Invoice.voided_at.is_(None), Invoice.voided_at >= end),
        Invoice.state != InvoiceState.DRAFT,
    )
    stmt = (
        sa.select(
            Invoice.customer_id,
            sa.func.sum(sa.case((overdue, sa.literal(1)), else_=0)),
            sa.func.min(sa.case((overdue, Invoice.due_on))),
        )
        .where(
            Invoice.vendor_id == scope.vendor_id,
            Invoice.issued_on.is_not(None),
            Invoice.issued_on <= scope.as_of,
            *scope.only(Invoice.customer_id),
        )
        .group_by(Invoice.customer_id)
    )
    readings = {}
    for customer_id, count, oldest in db.session.execute(stmt):
        if isinstance(oldest, str):
            oldest = date.fromisoformat(oldest)
        days = (scope.as_of - oldest).days if oldest is not None else 0
        readings[customer_id] = overdue_invoices(int(count or 0), days)
    return readings


def overdue_invoices(count: int, oldest_days: int) -> Reading:
    fact = (
        f"{_plural(count, 'invoice')} overdue, the oldest by {_plural(oldest_days, 'day')}"
        if count
        else "no invoice overdue"
    )
    return Reading(_clamp(100 - 25 * count), count, str(count), fact)


def entitlement_readings(scope: Scope) -> dict[int, Reading]:
    expiring = Entitlement.valid_until <= scope.as_of + timedelta(days=EXPIRY_DAYS)
    stmt = (
        sa.select(
            Entitlement.customer_id,
            sa.func.sum(Entitlement.quantity),
            sa.func.sum(sa.case((expiring, Entitlement.quantity - Entitlement.used), else_=0)),
        )
        .where(
            Entitlement.vendor_id == scope.vendor_id,
            Entitlement.valid_from <= scope.as_of,
            Entitlement.valid_until >= scope.as_of,
            *scope.only(Entitlement.customer_id),
        )
        .group_by(Entitlement.customer_id)
    )
    return {
        customer_id: entitlements(int(unused or 0), int(total))
        for customer_id, total, unused in db.session.execute(stmt)
    }


def entitlements(expiring_unused: int, valid: int) -> Reading:
    fact = (
        f"{_plural(expiring_unused, 'unused credit')} of {valid} expire within 60 days"
        if expiring_unused
        else f"no credit expiring unused ({valid} valid)"
    )
    score = 100 * (1 - expiring_unused / valid) if valid else 100
    return Reading(_clamp(score), expiring_unused, str(expiring_unused), fact)


# --- account record ----------------------------------------------------------------------


def contact_readings(scope: Scope) -> dict[int, Reading]:
    since = scope.end - timedelta(days=CONTACT_DAYS)
    changed = sa.and_(KeyContact.ended_at >= since, KeyContact.ended_at < scope.end)
    stmt = (
        sa.select(
            CustomerAccount.organization_id,
            sa.func.max(sa.case((changed, KeyContact.ended_at))),
        )
        .join(KeyContact, KeyContact.account_id == CustomerAccount.id)
        .where(
            CustomerAccount.vendor_id == scope.vendor_id,
            KeyContact.created_at < scope.end,
            *scope.only(CustomerAccount.organization_id),
        )
        .group_by(CustomerAccount.organization_id)
    )
    readings = {}
    for customer_id, last_change in db.session.execute(stmt):
        days = None if last_change is None else (scope.as_of - _aware(last_change).date()).days
        readings[customer_id] = contact_change(days)
    return readings


def contact_change(days: int | None) -> Reading:
    if days is None:
        return Reading(100, CONTACT_DAYS, "unchanged", "no key contact changed in 90 days")
    fact = f"a key contact changed {_ago(days)}"
    return Reading(_clamp(days / CONTACT_DAYS * 100), days, f"changed {days} days ago", fact)


# --- explanations of a change ---------------------------------------------------------------


def _contribution(component: Mapping[str, Any] | None) -> float:
    if not component or not component.get("weight"):
        return 0.0
    return component["score"] * component["share"] / 100


def _sentence(
    key: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, days: int
) -> str:
    subject = SUBJECTS[C(key)]
    span = f" in {days} day{'' if days == 1 else 's'}" if days > 0 else ""
    if old is None or not old.get("weight"):
        return f"{subject} now counts: {new['fact']}"
    if new is None or not new.get("weight"):
        return f"{subject} no longer counts (no data)"
    if old["shown"] == new["shown"]:
        return f"{subject} unchanged at {new['shown']}; the weights changed"
    if key == C.CONTACT_CHANGE:
        return new["fact"] if new["value"] < old["value"] else f"{subject}: {new['fact']}"
    verb = "rose" if new["value"] > old["value"] else "fell"
    return f"{subject} {verb} from {old['shown']} to {new['shown']}{span}"


def _counted(component: Mapping[str, Any] | None) -> bool:
    return bool(component and component.get("weight"))


def explain(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]], days: int
) -> list[dict[str, Any]]:
    """Each component's part in the change of the score (points, rounded), largest first, in
    words: ``-12: licence utilisation fell from 81 % to 52 % in 30 days``.

    A component that starts or stops counting also rescales the others' shares; that part
    of the change is its doing, so it is charged to it (in proportion to its share when
    several start or stop at once), and the others are charged only for their own moves.
    The parts add up to the change of the score."""
    keys = [c.value for c in C if c.value in before or c.value in after]
    entered_or_left = {
        key: (after.get(key) or before[key])["share"]
        for key in keys
        if _counted(before.get(key)) != _counted(after.get(key))
    }
    both = [key for key in keys if _counted(before.get(key)) and _counted(after.get(key))]
    rescaled = 0.0
    if entered_or_left:
        rescaled = sum(
            before[key]["score"] * (after[key]["share"] - before[key]["share"]) / 100
            for key in both
        )
    shares = sum(entered_or_left.values()) or 1
    changes = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        exact = _contribution(new) - _contribution(old)
        if key in entered_or_left:
            exact += rescaled * entered_or_left[key] / shares
        elif entered_or_left and key in both:
            exact = (new["score"] - old["score"]) * new["share"] / 100
        points = round(exact)
        if points == 0:
            continue
        text = f"{points:+d}: {_sentence(key, old, new, days)}"
        changes.append({"component": key, "points": points, "text": text})
    changes.sort(key=lambda change: (-abs(change["points"]), change["component"]))
    return changes


# --- all of them -------------------------------------------------------------------------

Reader = Callable[[Scope], dict[int, Reading]]
_SINGLE: tuple[tuple[C, Reader], ...] = (
    (C.HEALTH_CHECK, health_check_readings),
    (C.CSAT, csat_readings),
    (C.OVERDUE_INVOICES, overdue_readings),
    (C.ENTITLEMENTS, entitlement_readings),
    (C.CONTACT_CHANGE, contact_readings),
)


def read_all(scope: Scope) -> tuple[dict[int, str], Readings]:
    """Every component of every customer in ``scope``, and each customer's segment: a
    fixed number of statements whatever the number of customers."""
    types = _signal_types(scope.vendor_id)
    segments, readings = signal_readings(scope, types)
    readings[C.NPS] = nps_readings(scope, types.get(BuiltInSignal.NPS))
    readings.update(engagement_readings(scope))
    for component, reader in _SINGLE:
        readings[component] = reader(scope)
    return segments, readings


def of_customer(readings: Readings, customer_id: int) -> Iterable[tuple[C, Reading]]:
    for component in C:
        reading = readings.get(component, {}).get(customer_id)
        if reading is not None:
            yield component, reading
