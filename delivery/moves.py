"""The engagement's moves on the vendor's side: start, deliver, hold, resume, cancel; and who
is told about every move of ``ENGAGEMENT_LIFE``, whoever made it.

Each move re-reads the engagement under a row lock, checks the state as it is now and who
asks (``delivery.policies``), then moves it through ``core.states.transition`` (stamp, audit,
signal) in one transaction. A refusal raises before anything changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.models import Membership, User
from catalog.models import ServletKind, ServletVersion
from core import states
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Actor, Role
from delivery import policies, recipients
from delivery.models import ENGAGEMENT_LIFE, Assignment, Engagement, EngagementState, Resource

_E = EngagementState
MAX_NOTE = 5000
MAX_REASON = 1000

CUSTOMER_TOLD = notification_kind("engagement.progress", "Your engagements move on")
TEAM_TOLD = notification_kind("engagement.decision", "The customer decides on a delivery")


def lock(engagement: Engagement) -> Engagement:
    """Re-read ``engagement`` under a row lock with its assignments and servlet version, so
    the decision is made on its state as it is now (two people may click at once)."""
    return db.session.scalar(
        select(Engagement)
        .where(Engagement.id == engagement.id)
        .options(
            selectinload(Engagement.assignments).selectinload(Assignment.resource),
            selectinload(Engagement.servlet_version),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _refuse_unless(allowed: bool, actor: Actor, engagement: Engagement, to: _E) -> None:
    """Wrong state: say what it is now; right state but not this person: not allowed."""
    if allowed:
        return
    if not ENGAGEMENT_LIFE.exists(engagement.state, to):
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}; "
            f"it cannot become {to.label.lower()}."
        )
    raise NotAllowed("You do not have permission to do that.")


def _text(value: str, what: str, limit: int, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ServiceError(f"{what}: required.")
    if len(value) > limit:
        raise ServiceError(f"{what}: at most {limit:,} characters.")
    return value


def start(actor: Actor, engagement: Engagement) -> Engagement:
    """Scheduled → in progress, by an assignee or the delivery manager."""
    engagement = lock(engagement)
    if engagement.state is not _E.SCHEDULED:
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}; "
            "only a scheduled engagement can be started."
        )
    _refuse_unless(policies.may_start(actor, engagement), actor, engagement, _E.IN_PROGRESS)
    states.transition(ENGAGEMENT_LIFE, engagement, _E.IN_PROGRESS, actor)
    db.session.commit()
    return engagement


@dataclass(frozen=True)
class Delivery:
    """What a delivery says: a note for the customer and, for a health check, its result."""

    note: str
    health_score: int | None = None
    findings: str = ""


def deliver(actor: Actor, engagement: Engagement, delivery: Delivery) -> Engagement:
    """In progress → delivered, with a delivery note; a health check also records its score
    (0-100) and findings, which the customer and the customer-success area read."""
    engagement = lock(engagement)
    _refuse_unless(policies.may_deliver(actor, engagement), actor, engagement, _E.DELIVERED)
    changes: dict[str, Any] = {
        "delivery_note": _text(delivery.note, "Delivery note", MAX_NOTE, required=True)
    }
    if engagement.servlet_version.kind is ServletKind.HEALTH_CHECK:
        score = delivery.health_score
        if score is None or not 0 <= score <= 100:
            raise ServiceError("Health score: a whole number from 0 to 100.")
        changes["health_score"] = score
        changes["findings"] = _text(delivery.findings, "Findings", MAX_NOTE, required=True)
    for field, value in changes.items():
        setattr(engagement, field, value)
    states.transition(ENGAGEMENT_LIFE, engagement, _E.DELIVERED, actor, **changes)
    db.session.commit()
    return engagement


def hold(actor: Actor, engagement: Engagement, reason: str) -> Engagement:
    """Any open state → on hold, by the delivery manager or an admin, saying why."""
    return _stop(actor, engagement, _E.ON_HOLD, reason)


def resume(actor: Actor, engagement: Engagement) -> Engagement:
    """On hold → in progress if work had started, else scheduled (``policies.resume_state``:
    the start stamp says it, so no audit has to be read)."""
    engagement = lock(engagement)
    if engagement.state is not _E.ON_HOLD:
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}, "
            "not on hold; there is nothing to resume."
        )
    to = policies.resume_state(engagement)
    _refuse_unless(policies.may_resume(actor, engagement), actor, engagement, to)
    states.transition(ENGAGEMENT_LIFE, engagement, to, actor)
    db.session.commit()
    return engagement


def cancel(actor: Actor, engagement: Engagement, reason: str) -> Engagement:
    """Any open state → cancelled, by the delivery manager or an admin, saying why."""
    return _stop(actor, engagement, _E.CANCELLED, reason)


def _stop(actor: Actor, engagement: Engagement, to: EngagementState, reason: str) -> Engagement:
    engagement = lock(engagement)
    _refuse_unless(policies.may_move(actor, engagement, to), actor, engagement, to)
    reason = _text(reason, "Reason", MAX_REASON, required=True)
    states.transition(ENGAGEMENT_LIFE, engagement, to, actor, reason)
    db.session.commit()
    return engagement


# --- who is told --------------------------------------------------------------------------

_CUSTOMER_NEWS = {
    _E.SCHEDULED: "is scheduled",
    _E.IN_PROGRESS: "has started",
    _E.DELIVERED: "is delivered: please review it and accept it or ask for rework",
    _E.ON_HOLD: "is on hold",
    _E.CANCELLED: "is cancelled",
}


def _delivery_team(engagement: Engagement) -> list[User]:
    """The delivery owner and the assigned consultants."""
    assigned = select(Resource.membership_id).join(
        Assignment, Assignment.resource_id == Resource.id
    )
    return recipients.users(
        (Membership.id == engagement.owner_id)
        | Membership.id.in_(assigned.where(Assignment.engagement_id == engagement.id))
    )


def _tell(users: list[User], engagement: Engagement, subject: str, body: str, kind: str) -> None:
    for user in users:
        link = recipients.link("delivery.engagement", engagement_id=engagement.id)
        notify(user, subject, body, link, kind, vendor_id=engagement.vendor_id)


@ENGAGEMENT_LIFE.changed.connect
def _on_move(
    engagement: Engagement, before: _E, to: _E, actor: Actor | None, reason: str = "", **_: Any
) -> None:
    """The customer's buyers hear of the vendor's moves; the delivery team of the customer's.
    A cancellation caused by the customer's own cancelled order (no actor) is not news to it."""
    version = db.session.get(ServletVersion, engagement.servlet_version_id)
    title = f"{engagement.reference} {version.title}"
    why = f"\n\nReason: {reason}" if reason else ""
    if to is _E.ACCEPTED or (before is _E.DELIVERED and to is _E.IN_PROGRESS):
        news = "was accepted" if to is _E.ACCEPTED else "was sent back for rework"
        _tell(
            _delivery_team(engagement),
            engagement,
            f"{title} {news}",
            f"The customer's decision on {title}: it {news}.{why}",
            TEAM_TOLD,
        )
    elif to in _CUSTOMER_NEWS and actor is not None:
        news = _CUSTOMER_NEWS[to]
        if before is _E.ON_HOLD:
            news = "has resumed"
        _tell(
            recipients.with_roles(engagement.customer_id, Role.BUYER, Role.APPROVER),
            engagement,
            f"{title} {news.split(':')[0]}",
            f"{title} {news}.{why}",
            CUSTOMER_TOLD,
        )
