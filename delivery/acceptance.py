"""The customer's answer to a delivery: accept it or send it back for rework, then rate it
(CSAT 1-5 with a comment, NPS 0-10), once.

Each service re-reads the engagement under a row lock (``moves.lock``) and checks its state
as it is now, so a double click or two buyers at once give one outcome and a message for the
other. The vendor side hears of an acceptance or a rework through ``moves`` (its receiver on
``ENGAGEMENT_LIFE.changed``); the customer is asked for its rating here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from accounts.models import User
from catalog.models import ServletVersion
from core import audit, states
from core.db import utcnow
from core.errors import Conflict, InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Actor, Role
from delivery import policies, recipients
from delivery.models import CLOSED, ENGAGEMENT_LIFE, Engagement, EngagementState
from delivery.moves import lock
from delivery.signals import engagement_rated
from ordering import orders
from ordering.models import Order, OrderLine, OrderState

_E = EngagementState
MAX_REASON = 1000
MAX_COMMENT = 1000
CSAT_RANGE = range(1, 6)
NPS_RANGE = range(11)

RATING_ASKED = notification_kind(
    "engagement.rating_asked", "An accepted engagement asks for my rating"
)


def _refuse_unless_deciding(actor: Actor, engagement: Engagement) -> Engagement:
    """The customer's buyer or approver, on a delivery still waiting for its answer."""
    if not policies.decides_delivery_for(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    engagement = lock(engagement)
    if engagement.state is not _E.DELIVERED:
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}; "
            "only a delivered engagement waits for your answer."
        )
    return engagement


def accept(actor: Actor, engagement: Engagement) -> Engagement:
    """Delivered → accepted by the customer; its people are asked for their rating, and the
    order is completed once every engagement of it is accepted or cancelled."""
    engagement = _refuse_unless_deciding(actor, engagement)
    states.transition(ENGAGEMENT_LIFE, engagement, _E.ACCEPTED, actor)
    _after_acceptance(engagement, accepted_by=actor.user_id)
    db.session.commit()
    return engagement


def auto_accept(engagement: Engagement, days: int) -> bool:
    """Accept for the customer (SYSTEM) a delivery left unanswered ``days`` days; ``False``
    when it was answered meanwhile (another scheduler, or the customer, came first)."""
    engagement = lock(engagement)
    if engagement.state is not _E.DELIVERED:
        db.session.rollback()
        return False
    reason = f"No answer {days} days after delivery: accepted automatically."
    states.transition(ENGAGEMENT_LIFE, engagement, _E.ACCEPTED, None, reason)
    _after_acceptance(engagement, accepted_by=None, note=reason)
    db.session.commit()
    return True


def request_rework(actor: Actor, engagement: Engagement, reason: str) -> Engagement:
    """Delivered → in progress again, with the customer's reason (required), which the
    delivery team reads in its notification and the timeline."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Reason: tell the delivery team what to rework.")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"Reason: at most {MAX_REASON:,} characters.")
    engagement = _refuse_unless_deciding(actor, engagement)
    states.transition(ENGAGEMENT_LIFE, engagement, _E.IN_PROGRESS, actor, reason)
    db.session.commit()
    return engagement


def _after_acceptance(engagement: Engagement, accepted_by: int | None, note: str = "") -> None:
    ask_for_rating(engagement, accepted_by, note)
    order = db.session.scalar(
        select(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(OrderLine.id == engagement.order_line_id)
    )
    if order.state is OrderState.CONFIRMED and _all_closed(order):
        orders.complete_order(order)


def _all_closed(order: Order) -> bool:
    open_states = [s for s in _E if s not in CLOSED]
    still_open = db.session.scalar(
        select(Engagement.id)
        .join(OrderLine, OrderLine.id == Engagement.order_line_id)
        .where(OrderLine.order_id == order.id, Engagement.state.in_(open_states))
        .limit(1)
    )
    return still_open is None


def ask_for_rating(engagement: Engagement, accepted_by: int | None, note: str = "") -> int:
    """Ask the person who accepted and the customer's buyers, in the app and by email, with
    a link to the rating page; returns how many were asked."""
    version = db.session.get(ServletVersion, engagement.servlet_version_id)
    people = {u.id: u for u in recipients.with_roles(engagement.customer_id, Role.BUYER)}
    if accepted_by is not None:
        people.setdefault(accepted_by, db.session.get(User, accepted_by))
    title = f"{engagement.reference} {version.title}"
    body = (
        f"{note}\n\n" if note else ""
    ) + f"How did {title} go? Rate it from 1 to 5; it takes a minute and helps us improve."
    link = recipients.link("delivery.rate", engagement_id=engagement.id)
    for user in people.values():
        notify(
            user,
            f"Please rate {title}",
            body,
            link,
            RATING_ASKED,
            vendor_id=engagement.vendor_id,
        )
    return len(people)


def rating_page_options() -> tuple[Any, ...]:
    """What the rating page shows of the engagement."""
    return (joinedload(Engagement.servlet_version), joinedload(Engagement.customer))


@dataclass(frozen=True)
class Rating:
    csat: int | None
    comment: str = ""
    nps: int | None = None


def rate(actor: Actor, engagement: Engagement, rating: Rating) -> Engagement:
    """The customer's one rating of an accepted engagement; a second is refused, saying who
    rated and when."""
    if not policies.decides_delivery_for(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    if rating.csat not in CSAT_RANGE:
        raise ServiceError("Satisfaction: choose from 1 (very unsatisfied) to 5 (very satisfied).")
    if rating.nps is not None and rating.nps not in NPS_RANGE:
        raise ServiceError("Recommendation: choose from 0 to 10, or leave it empty.")
    comment = (rating.comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ServiceError(f"Comment: at most {MAX_COMMENT:,} characters.")
    engagement = lock(engagement)
    if engagement.rated_at is not None:
        raise Conflict(f"Engagement {engagement.reference} was already rated; thank you.")
    if engagement.state is not _E.ACCEPTED:
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}; "
            "it can be rated once it is accepted."
        )
    engagement.csat = rating.csat
    engagement.csat_comment = comment
    engagement.nps = rating.nps
    engagement.rated_at = utcnow()
    engagement.rated_by_id = actor.id
    audit.record(
        "engagement.rated",
        engagement,
        changes={"csat": rating.csat, "nps": rating.nps, "comment": comment},
    )
    engagement_rated.send(engagement)
    db.session.commit()
    return engagement
