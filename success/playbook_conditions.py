"""Playbook conditions: for each condition kind, one set-based statement that finds every
customer of the vendor (or of a subset) for whom a playbook's condition holds, with the
figures that fired it, and those figures as the facts its reason template is filled with."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from accounts.models import Organization
from catalog.models import ServletVersion
from core.extensions import db
from core.permissions import OrgKind
from core.templating import date_filter
from delivery.models import Engagement, EngagementState
from success.health_models import AccountHealth
from success.models import CustomerAccount, KeyContact
from success.playbook_models import Playbook, PlaybookCondition
from success.signal_models import UsageSignal

C = PlaybookCondition


def _customers(vendor_id: int, customer_ids: Collection[int] | None, playbook: Playbook) -> Any:
    """The vendor's active customers (of the subset, at the playbook's stage) as a subquery
    of ``customer_id`` and ``account`` (the name)."""
    stmt = select(Organization.id.label("customer_id"), Organization.name.label("account")).where(
        Organization.vendor_id == vendor_id,
        Organization.kind == OrgKind.CUSTOMER,
        Organization.active.is_(True),
    )
    if customer_ids is not None:
        stmt = stmt.where(Organization.id.in_(sorted(customer_ids)))
    if playbook.stage is not None:
        # A customer without a record is at the record's first stage.
        stage = func.coalesce(CustomerAccount.stage, "onboarding")
        stmt = stmt.outerjoin(
            CustomerAccount, CustomerAccount.organization_id == Organization.id
        ).where(stage == playbook.stage.value)
    return stmt.subquery("customers")


def _since(today: date, days: int) -> datetime:
    return datetime.combine(today - timedelta(days=days), time.min, tzinfo=UTC)


def _latest(type_id: int, after: date, until: date) -> Any:
    """Each customer's latest figure of the signal type after ``after`` up to ``until``: a
    subquery of ``customer_id``, ``day`` and ``value``."""
    latest = (
        select(UsageSignal.customer_id, func.max(UsageSignal.day).label("day"))
        .where(
            UsageSignal.signal_type_id == type_id, UsageSignal.day > after, UsageSignal.day <= until
        )
        .group_by(UsageSignal.customer_id)
        .subquery()
    )
    row = aliased(UsageSignal)
    return (
        select(row.customer_id, row.day, row.value)
        .join(
            latest,
            and_(
                row.customer_id == latest.c.customer_id,
                row.signal_type_id == type_id,
                row.day == latest.c.day,
            ),
        )
        .subquery()
    )


def _signal_drop(p: Playbook, base: Any, today: date) -> Any:
    """Latest figure of the last ``window`` days against the latest of the window before."""
    window = p.window_days
    now = _latest(p.signal_type_id, today - timedelta(days=window), today)
    then = _latest(
        p.signal_type_id, today - timedelta(days=2 * window), today - timedelta(days=window)
    )
    return (
        select(
            base.c.customer_id,
            base.c.account,
            now.c.value.label("value"),
            then.c.value.label("before"),
            now.c.day.label("day"),
            then.c.day.label("before_day"),
        )
        .join(now, now.c.customer_id == base.c.customer_id)
        .join(then, then.c.customer_id == base.c.customer_id)
        .where(then.c.value > 0, now.c.value <= then.c.value * (1 - p.threshold / 100))
    )


def _licence_cap(p: Playbook, base: Any, today: date) -> Any:
    now = _latest(p.signal_type_id, today - timedelta(days=p.window_days), today)
    return (
        select(
            base.c.customer_id,
            base.c.account,
            now.c.value.label("value"),
            CustomerAccount.licences_bought.label("bought"),
        )
        .join(now, now.c.customer_id == base.c.customer_id)
        .join(CustomerAccount, CustomerAccount.organization_id == base.c.customer_id)
        .where(
            CustomerAccount.licences_bought > 0,
            now.c.value * 100 >= CustomerAccount.licences_bought * p.threshold,
        )
    )


def _component_below(p: Playbook, base: Any, today: date) -> Any:
    score = AccountHealth.components[(p.component.value, "score")].as_float()
    fact = AccountHealth.components[(p.component.value, "fact")].as_string()
    return (
        select(base.c.customer_id, base.c.account, score.label("score"), fact.label("fact"))
        .join(AccountHealth, AccountHealth.customer_id == base.c.customer_id)
        .where(score < p.threshold)
    )


def _contact_changed(p: Playbook, base: Any, today: date) -> Any:
    """The current holder of the role started in the window and followed someone."""
    before = aliased(KeyContact)
    previous = (
        select(before.name)
        .where(
            before.account_id == KeyContact.account_id,
            before.role == KeyContact.role,
            before.ended_at.is_not(None),
            before.id < KeyContact.id,
        )
        .order_by(before.id.desc())
        .limit(1)
        .correlate(KeyContact)
        .scalar_subquery()
    )
    return (
        select(
            base.c.customer_id,
            base.c.account,
            KeyContact.name.label("contact"),
            KeyContact.since.label("since"),
            previous.label("previous"),
        )
        .join(CustomerAccount, CustomerAccount.organization_id == base.c.customer_id)
        .join(KeyContact, KeyContact.account_id == CustomerAccount.id)
        .where(
            KeyContact.role == p.contact_role,
            KeyContact.ended_at.is_(None),
            KeyContact.since > today - timedelta(days=p.window_days),
            KeyContact.since <= today,
            previous.is_not(None),
        )
    )


def _of_kind(p: Playbook, base: Any) -> list[Any]:
    return [
        Engagement.customer_id == base.c.customer_id,
        ServletVersion.kind == p.servlet_kind,
        Engagement.state != EngagementState.CANCELLED,
    ]


def _no_servlet_kind(p: Playbook, base: Any, today: date) -> Any:
    """No engagement of the kind requested or accepted in the window (never counts too)."""
    since = _since(today, p.window_days)
    engagements = select(Engagement.id).join(
        ServletVersion, ServletVersion.id == Engagement.servlet_version_id
    )
    recent = engagements.where(
        *_of_kind(p, base), or_(Engagement.requested_at >= since, Engagement.accepted_at >= since)
    ).exists()
    last = (
        select(func.max(Engagement.requested_at))
        .join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
        .where(*_of_kind(p, base))
        .scalar_subquery()
    )
    return select(base.c.customer_id, base.c.account, last.label("last")).where(~recent)


def _low_csat(p: Playbook, base: Any, today: date) -> Any:
    """Each customer's lowest rating at or under the threshold in the window (latest first)."""
    ranked = (
        select(
            Engagement.customer_id,
            Engagement.number,
            Engagement.csat,
            Engagement.csat_comment,
            ServletVersion.title,
            func.row_number()
            .over(
                partition_by=Engagement.customer_id,
                order_by=(Engagement.csat, Engagement.rated_at.desc(), Engagement.id.desc()),
            )
            .label("rank"),
        )
        .join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
        .where(Engagement.csat <= p.threshold, Engagement.rated_at >= _since(today, p.window_days))
        .subquery()
    )
    return (
        select(
            base.c.customer_id,
            base.c.account,
            ranked.c.number,
            ranked.c.csat,
            ranked.c.csat_comment,
            ranked.c.title,
        )
        .join(ranked, ranked.c.customer_id == base.c.customer_id)
        .where(ranked.c.rank == 1)
    )


CONDITIONS = {
    C.SIGNAL_DROP: _signal_drop,
    C.LICENCE_CAP: _licence_cap,
    C.COMPONENT_BELOW: _component_below,
    C.CONTACT_CHANGED: _contact_changed,
    C.NO_SERVLET_KIND: _no_servlet_kind,
    C.LOW_CSAT: _low_csat,
}


def firing(p: Playbook, customer_ids: Collection[int] | None, today: date) -> dict[int, Any]:
    """The customers (of ``customer_ids``, or all the vendor's) for whom ``p`` holds today,
    each with the row of figures that fired it; one statement."""
    stmt = CONDITIONS[p.condition](p, _customers(p.vendor_id, customer_ids, p), today)
    return {row.customer_id: row for row in db.session.execute(stmt)}


# --- the figures that fired a playbook -------------------------------------------------------


def _figure(value: float) -> str:
    """12 rather than 12.0; one decimal otherwise."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def facts(p: Playbook, row: Any, signal_name: str) -> dict[str, Any]:
    """What fired the playbook for one customer: JSON-ready, and every placeholder of the
    condition (``success.playbook_values.PLACEHOLDERS``) filled."""
    facts: dict[str, Any] = {"account": row.account, "days": p.window_days}
    if p.condition is C.SIGNAL_DROP:
        drop = round((row.before - row.value) / row.before * 100)
        facts |= {
            "signal": signal_name,
            "value": _figure(row.value),
            "before": _figure(row.before),
            "drop": drop,
            "on": row.day.isoformat(),
            "before_on": row.before_day.isoformat(),
        }
    elif p.condition is C.LICENCE_CAP:
        facts |= {
            "signal": signal_name,
            "value": _figure(row.value),
            "bought": row.bought,
            "percent": round(row.value / row.bought * 100),
        }
    elif p.condition is C.COMPONENT_BELOW:
        facts |= {
            "component": p.component.label,
            "score": _figure(row.score),
            "fact": row.fact or "",
        }
    elif p.condition is C.CONTACT_CHANGED:
        facts |= {
            "role": p.contact_role.label.lower(),
            "contact": row.contact,
            "previous": row.previous,
            "since": date_filter(row.since),
        }
    elif p.condition is C.NO_SERVLET_KIND:
        facts |= {
            "kind": p.servlet_kind.label.lower(),
            "last": date_filter(row.last) if row.last else "never",
        }
    elif p.condition is C.LOW_CSAT:
        facts |= {
            "csat": row.csat,
            "engagement": f"E-{row.number:06d} {row.title}",
            "comment": row.csat_comment or "",
        }
    return facts
