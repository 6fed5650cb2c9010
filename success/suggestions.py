"""Suggestions: what the playbooks say about each account, and what the CSM does with it.

Evaluation is set-based: one statement per playbook finds every customer of the vendor (or
of a subset) for whom its condition holds (``success.playbook_conditions``); then one read,
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
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, event, or_, select
from sqlalchemy.orm import joinedload, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from accounts.models import Organization
from catalog import recommendations
from catalog.models import Recommendation
from core import audit
from core.db import insert_for, utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, Role
from core.queue import enqueue, performs
from core.scheduler import every
from success import playbook_conditions, policies
from success.events import health_changed
from success.playbook_models import Playbook, Suggestion, SuggestionState
from success.playbook_values import fill, offered_servlets
from success.playbooks import servlet_title
from success.signal_models import SignalType

State = SuggestionState
EVALUATE = "success.evaluate_playbooks"
# A health change about more customers than this re-evaluates the whole vendor.
SUBSET_LIMIT = 500
INSERT_CHUNK = 1_000
MAX_DECLINE_REASON = 1000
DECIDERS = (Role.ADMIN, Role.CSM)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
    firing = playbook_conditions.firing(p, customer_ids, today)
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
        facts = playbook_conditions.facts(p, row, names.get(p.signal_type_id, ""))
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
        asked += enqueue(EVALUATE, key, vendor_id=vendor_id, payload={"vendor_id": vendor_id})
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


def _shown(stmt: Any) -> Any:
    return stmt.options(
        with_expression(Suggestion.servlet_title, servlet_title(Suggestion)),
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
