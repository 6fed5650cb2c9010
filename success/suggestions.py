"""Suggestions: what the playbooks say about each account, and what the CSM does with it.

Evaluation is set-based: one statement per playbook finds every customer of the vendor (or
of a subset) for whom its condition holds, with the figures that fired it; then one read,
one insert and one update bring the suggestions in line. A customer gets an OPEN suggestion
when the condition holds, none is open and the playbook's last decline for it is older than
the cooling-off period; an open one whose condition no longer holds is RESOLVED. The partial
unique index ``uq_suggestion_open`` keeps a second open one out when two runs race
(``ON CONFLICT DO NOTHING``), so running twice makes nothing twice.

It runs after health changes (``success.events.health_changed``: one queued job, done after
the change commits) and nightly (a job asked for once per vendor and day by its queue key).

A CSM turns a suggestion into a recommendation in one click or declines it; both move the
row by a conditional update, so a double click acts once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, event, func, or_, select
from sqlalchemy.orm import aliased, joinedload, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from accounts.models import Organization
from catalog import recommendations
from catalog.models import Recommendation, ServletVersion, VersionState
from core import audit
from core.db import insert_for, utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind, Role
from core.queue import QueuedJob, enqueue, performs
from core.scheduler import every
from core.templating import date_filter
from delivery.models import Engagement, EngagementState
from success import policies
from success.events import health_changed
from success.health_models import AccountHealth
from success.models import CustomerAccount, KeyContact
from success.playbook_models import Playbook, PlaybookCondition, Suggestion, SuggestionState
from success.playbooks import fill, offered_servlets
from success.signal_models import SignalType, UsageSignal

C = PlaybookCondition
State = SuggestionState
EVALUATE = "success.evaluate_playbooks"
# A health change about more customers than this re-evaluates the whole vendor.
SUBSET_LIMIT = 500
INSERT_CHUNK = 1_000
MAX_DECLINE_REASON = 1000
DECIDERS = (Role.ADMIN, Role.CSM)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- conditions, one statement each ----------------------------------------------------------


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


def _latest_day(type_id: int, after: date, until: date) -> Any:
    return (
        select(UsageSignal.customer_id, func.max(UsageSignal.day).label("day"))
        .where(
            UsageSignal.signal_type_id == type_id, UsageSignal.day > after, UsageSignal.day <= until
        )
        .group_by(UsageSignal.customer_id)
        .subquery()
    )


def _at(latest: Any, type_id: int) -> Any:
    """The signal row on each customer's ``latest`` day."""
    row = aliased(UsageSignal)
    on = and_(
        row.customer_id == latest.c.customer_id,
        row.signal_type_id == type_id,
        row.day == latest.c.day,
    )
    return row, on


def _signal_drop(p: Playbook, base: Any, today: date) -> Any:
    """Latest figure of the last ``window`` days against the latest of the window before."""
    window = p.window_days
    recent = _latest_day(p.signal_type_id, today - timedelta(days=window), today)
    earlier = _latest_day(
        p.signal_type_id, today - timedelta(days=2 * window), today - timedelta(days=window)
    )
    now, now_on = _at(recent, p.signal_type_id)
    then, then_on = _at(earlier, p.signal_type_id)
    return (
        select(
            base.c.customer_id,
            base.c.account,
            now.value.label("value"),
            then.value.label("before"),
            now.day.label("day"),
            then.day.label("before_day"),
        )
        .join(recent, recent.c.customer_id == base.c.customer_id)
        .join(now, now_on)
        .join(earlier, earlier.c.customer_id == base.c.customer_id)
        .join(then, then_on)
        .where(then.value > 0, now.value <= then.value * (1 - p.threshold / 100))
    )


def _licence_cap(p: Playbook, base: Any, today: date) -> Any:
    recent = _latest_day(p.signal_type_id, today - timedelta(days=p.window_days), today)
    now, now_on = _at(recent, p.signal_type_id)
    return (
        select(
            base.c.customer_id,
            base.c.account,
            now.value.label("value"),
            CustomerAccount.licences_bought.label("bought"),
        )
        .join(recent, recent.c.customer_id == base.c.customer_id)
        .join(now, now_on)
        .join(CustomerAccount, CustomerAccount.organization_id == base.c.customer_id)
        .where(
            CustomerAccount.licences_bought > 0,
            now.value * 100 >= CustomerAccount.licences_bought * p.threshold,
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


# --- the figures that fired a playbook -------------------------------------------------------


def figure(value: float) -> str:
    """12 rather than 12.0; one decimal otherwise."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _facts(p: Playbook, row: Any, signal_name: str) -> dict[str, Any]:
    """What fired the playbook for one customer: JSON-ready, and every placeholder of the
    condition (``success.playbooks.PLACEHOLDERS``) filled."""
    facts: dict[str, Any] = {"account": row.account, "days": p.window_days}
    if p.condition is C.SIGNAL_DROP:
        drop = round((row.before - row.value) / row.before * 100)
        facts |= {
            "signal": signal_name,
            "value": figure(row.value),
            "before": figure(row.before),
            "drop": drop,
            "on": row.day.isoformat(),
            "before_on": row.before_day.isoformat(),
        }
    elif p.condition is C.LICENCE_CAP:
        facts |= {
            "signal": signal_name,
            "value": figure(row.value),
            "bought": row.bought,
            "percent": round(row.value / row.bought * 100),
        }
    elif p.condition is C.COMPONENT_BELOW:
        facts |= {
            "component": p.component.label,
            "score": figure(row.score),
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


# --- evaluation ------------------------------------------------------------------------------


@dataclass
class Evaluation:
    made: int = 0
    resolved: int = 0


def _playbooks(vendor_id: int) -> list[Playbook]:
    """The vendor's enabled playbooks whose servlet is still offered."""
    offered = {row[0] for row in offered_servlets(vendor_id)}
    playbooks = db.session.scalars(
        select(Playbook)
        .where(Playbook.vendor_id == vendor_id, Playbook.enabled.is_(True))
        .order_by(Playbook.id)
    )
    return [p for p in playbooks if p.servlet_id in offered]


def evaluate(
    vendor_id: int, customer_ids: Collection[int] | None = None, today: date | None = None
) -> Evaluation:
    """Bring ``vendor_id``'s suggestions in line with its data, for every customer or those
    of ``customer_ids``. Does not commit: the caller's transaction holds the change."""
    today = today or utcnow().date()
    names = dict(db.session.execute(select(SignalType.id, SignalType.name)).all())
    done = Evaluation()
    for playbook in _playbooks(vendor_id):
        made, resolved = _evaluate(playbook, customer_ids, today, names)
        done.made += made
        done.resolved += resolved
    return done


def _evaluate(
    p: Playbook, customer_ids: Collection[int] | None, today: date, names: dict[int, str]
) -> tuple[int, int]:
    base = _customers(p.vendor_id, customer_ids, p)
    firing = {
        row.customer_id: row for row in db.session.execute(CONDITIONS[p.condition](p, base, today))
    }
    now = utcnow()
    known = select(Suggestion.id, Suggestion.customer_id, Suggestion.state).where(
        Suggestion.playbook_id == p.id,
        or_(
            Suggestion.state == State.OPEN,
            and_(
                Suggestion.state == State.DECLINED,
                Suggestion.decided_at > now - timedelta(days=p.cooling_off_days),
            ),
        ),
    )
    if customer_ids is not None:
        known = known.where(Suggestion.customer_id.in_(sorted(customer_ids)))
    rows = db.session.execute(known).all()
    open_ids = {customer: id_ for id_, customer, state in rows if state is State.OPEN}
    quiet = {customer for _, customer, state in rows if state is State.DECLINED}
    new = []
    for customer_id, row in firing.items():
        if customer_id in open_ids or customer_id in quiet:
            continue
        facts = _facts(p, row, names.get(p.signal_type_id, ""))
        new.append(
            {
                "vendor_id": p.vendor_id,
                "playbook_id": p.id,
                "customer_id": customer_id,
                "servlet_id": p.servlet_id,
                "reason": fill(p.reason_template, facts),
                "facts": facts,
                "state": State.OPEN,
                "decline_reason": "",
                "created_at": now,
            }
        )
    made = 0
    for start in range(0, len(new), INSERT_CHUNK):
        inserted = db.session.execute(
            insert_for(db.session, Suggestion.__table__)
            .values(new[start : start + INSERT_CHUNK])
            .on_conflict_do_nothing(
                index_elements=["playbook_id", "customer_id"], index_where=sa.text("state = 'open'")
            )
            .returning(Suggestion.__table__.c.id)
        )
        made += len(inserted.all())
    stale = [id_ for customer, id_ in open_ids.items() if customer not in firing]
    resolved = 0
    if stale:
        resolved = db.session.execute(
            sa.update(Suggestion)
            .where(Suggestion.id.in_(stale), Suggestion.state == State.OPEN)
            .values(state=State.RESOLVED, decided_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    return made, resolved


# --- when it runs ----------------------------------------------------------------------------


def _has_playbooks(vendor_id: int) -> bool:
    return (
        db.session.scalar(
            select(Playbook.id)
            .where(Playbook.vendor_id == vendor_id, Playbook.enabled.is_(True))
            .limit(1)
        )
        is not None
    )


@health_changed.connect
def _on_health_changed(vendor_id: int, customer_ids: Collection[int] = (), **_: Any) -> None:
    """Scores changed: re-evaluate those customers after the change commits (one job)."""
    if not customer_ids or not _has_playbooks(vendor_id):
        return
    ids = sorted(customer_ids)
    enqueue(
        EVALUATE,
        f"playbooks:{vendor_id}:{uuid.uuid4().hex}",
        vendor_id=vendor_id,
        payload={"vendor_id": vendor_id, "customer_ids": ids if len(ids) <= SUBSET_LIMIT else None},
    )


@performs(EVALUATE)
def _perform(payload: dict[str, Any]) -> None:
    ids = payload.get("customer_ids")
    evaluate(payload["vendor_id"], None if ids is None else set(ids))
    db.session.commit()


@every(60 * 60)
def ask_nightly_evaluation() -> int:
    """Once a day per vendor with playbooks, a whole-vendor evaluation: asked for by a queue
    key naming the vendor and the day, so however many schedulers run, it is done once."""
    today = utcnow().date().isoformat()
    vendors = list(
        db.session.scalars(select(Playbook.vendor_id).where(Playbook.enabled.is_(True)).distinct())
    )
    asked = 0
    for vendor_id in vendors:
        key = f"playbooks-nightly:{vendor_id}:{today}"
        if db.session.scalar(select(QueuedJob.id).where(QueuedJob.key == key)) is not None:
            continue
        enqueue(EVALUATE, key, vendor_id=vendor_id, payload={"vendor_id": vendor_id})
        try:
            db.session.commit()
        except sa.exc.IntegrityError:  # another scheduler asked for it first
            db.session.rollback()
            continue
        asked += 1
    db.session.commit()
    return asked


# --- a CSM decides ---------------------------------------------------------------------------


def decides(actor: Actor | None, customer: Organization) -> bool:
    """Who turns a suggestion into a recommendation or declines it: the vendor's admins and
    the CSMs who see the account (all of them, or its owner where the vendor restricts)."""
    return actor is not None and actor.role in DECIDERS and policies.sees_account(actor, customer)


def _decide(actor: Actor | None, suggestion: Suggestion, to: State, **values: Any) -> Suggestion:
    """Move an open suggestion by a conditional update (both databases honour it: a second
    click waits for the first and then finds it decided), and read it back."""
    customer = db.session.get(Organization, suggestion.customer_id)
    if not decides(actor, customer):
        raise NotAllowed("Only the vendor's admins and the account's CSMs decide suggestions.")
    moved = db.session.execute(
        sa.update(Suggestion)
        .where(Suggestion.id == suggestion.id, Suggestion.state == State.OPEN)
        .values(state=to, decided_at=utcnow(), decided_by_id=actor.user_id, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    current = db.session.scalar(
        select(Suggestion)
        .where(Suggestion.id == suggestion.id)
        .execution_options(populate_existing=True)
    )
    if not moved:
        raise InvalidTransition(f"This suggestion is {current.state.label.lower()} already.")
    return current


@contextmanager
def _linking(suggestion: Suggestion) -> Iterator[None]:
    """``recommendations.recommend`` commits its own transaction; the suggestion row takes
    the new recommendation's id in that transaction, right after the recommendation is
    written, so both land in the one commit (or neither)."""
    session = db.session()

    def link(flushed: Any, _: Any) -> None:
        made = [obj for obj in flushed.new if isinstance(obj, Recommendation)]
        if not made or suggestion.recommendation_id is not None:
            return
        flushed.connection().execute(
            sa.update(Suggestion.__table__)
            .where(Suggestion.__table__.c.id == suggestion.id)
            .values(recommendation_id=made[0].id)
        )
        set_committed_value(suggestion, "recommendation_id", made[0].id)

    event.listen(session, "after_flush", link)
    try:
        yield
    finally:
        event.remove(session, "after_flush", link)


def recommend_suggestion(actor: Actor | None, suggestion: Suggestion) -> Recommendation:
    """One click: the suggestion becomes a recommendation to the customer, its reason the
    playbook's, filled with the figures that fired it. One commit for both."""
    suggestion = _decide(actor, suggestion, State.RECOMMENDED)
    audit.record(
        "success.suggestion_recommended",
        suggestion,
        changes={"state": ["open", "recommended"], "servlet_id": suggestion.servlet_id},
    )
    with _linking(suggestion):
        return recommendations.recommend(
            actor, suggestion.servlet_id, suggestion.customer_id, suggestion.reason
        )


def decline_suggestion(actor: Actor | None, suggestion: Suggestion, reason: str = "") -> None:
    """Not now: the playbook stays quiet for this customer for its cooling-off period."""
    reason = _CONTROL.sub("", (reason or "").strip())
    if len(reason) > MAX_DECLINE_REASON:
        raise ServiceError(f"Reason: at most {MAX_DECLINE_REASON:,} characters.")
    suggestion = _decide(actor, suggestion, State.DECLINED, decline_reason=reason)
    audit.record(
        "success.suggestion_declined",
        suggestion,
        changes={"state": ["open", "declined"], "reason": reason},
    )
    db.session.commit()


# --- reading ---------------------------------------------------------------------------------


def servlet_title() -> Any:
    """The suggested servlet's published title (for ``with_expression``)."""
    return (
        select(ServletVersion.title)
        .where(
            ServletVersion.servlet_id == Suggestion.servlet_id,
            ServletVersion.state == VersionState.PUBLISHED,
        )
        .correlate(Suggestion)
        .scalar_subquery()
    )


def _shown(stmt: Any) -> Any:
    return stmt.options(
        with_expression(Suggestion.servlet_title, servlet_title()),
        joinedload(Suggestion.playbook),
        joinedload(Suggestion.decided_by),
    )


def open_suggestions(customer_ids: Collection[int]) -> dict[int, list[Suggestion]]:
    """Each customer's open suggestions, newest first, with their playbook and servlet title
    loaded (one query; the caller passes customers the person may see)."""
    if not customer_ids:
        return {}
    found: dict[int, list[Suggestion]] = {}
    stmt = _shown(
        select(Suggestion)
        .where(Suggestion.customer_id.in_(sorted(customer_ids)), Suggestion.state == State.OPEN)
        .order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
    )
    for suggestion in db.session.scalars(stmt):
        found.setdefault(suggestion.customer_id, []).append(suggestion)
    return found


def decided_suggestions(customer_id: int, limit: int) -> list[Suggestion]:
    """The customer's latest decided suggestions (recommended, declined, resolved)."""
    return list(
        db.session.scalars(
            _shown(
                select(Suggestion)
                .where(Suggestion.customer_id == customer_id, Suggestion.state != State.OPEN)
                .order_by(Suggestion.decided_at.desc(), Suggestion.id.desc())
                .limit(limit)
            )
        )
    )
