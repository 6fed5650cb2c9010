"""CSM recommendations: proposing a servlet to a customer and the life of that proposal.

The states are data (``RECOMMENDATION_LIFE``) and every move goes through
``core.states.transition``, which checks the table and the mover, stamps, audits and signals.
``mark_ordered`` is for the ordering area.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from sqlalchemy import func, select

from accounts.models import Membership, Organization, User
from catalog import policies
from catalog.models import (
    CatalogItem,
    Recommendation,
    RecommendationState,
    Servlet,
    ServletVersion,
    VersionState,
    visible_servlet_ids,
)
from core import audit, states
from core.db import utcnow, writes
from core.errors import InvalidTransition, NotAllowed, NotFound, ServiceError
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Actor, OrgKind
from core.states import SYSTEM, StateMachine

State = RecommendationState

RECOMMENDED = notification_kind(
    "recommendation.proposed", "A servlet is recommended to my organisation"
)

# A customer's buyer or approver opens, orders or declines; a viewer only reads. An order
# confirmed from a recommendation (ordering, SYSTEM) and the expiry job close it too.
DECIDERS = frozenset(policies.BUYERS)
RECOMMENDATION_LIFE = StateMachine(
    "recommendation",
    RecommendationState,
    initial=frozenset({State.PROPOSED}),
    moves={
        (State.PROPOSED, State.VIEWED): DECIDERS,
        (State.PROPOSED, State.ORDERED): DECIDERS | {SYSTEM},
        (State.PROPOSED, State.DECLINED): DECIDERS,
        (State.PROPOSED, State.EXPIRED): DECIDERS | {SYSTEM},
        (State.VIEWED, State.ORDERED): DECIDERS | {SYSTEM},
        (State.VIEWED, State.DECLINED): DECIDERS,
        (State.VIEWED, State.EXPIRED): DECIDERS | {SYSTEM},
    },
    stamps={
        State.VIEWED: "viewed_at",
        State.ORDERED: "closed_at",
        State.DECLINED: "closed_at",
        State.EXPIRED: "closed_at",
    },
)


def recommend(
    actor: Actor,
    servlet_id: int,
    customer_id: int,
    reason: str,
    expires_at: datetime | None = None,
) -> Recommendation:
    """Propose a published servlet the customer can see in one of its catalogs."""
    if not policies.recommends(actor):
        raise NotAllowed("You do not have permission to do that.")
    reason = reason.strip()
    if not reason:
        raise ServiceError("Reason: tell the customer why this servlet helps them.")
    if len(reason) > 2000:
        raise ServiceError("Reason: at most 2,000 characters.")
    if expires_at is not None and expires_at <= utcnow():
        raise ServiceError("Expiry: choose a date in the future.")
    customer = db.session.scalar(
        select(Organization).where(
            Organization.id == customer_id,
            Organization.vendor_id == actor.vendor_id,
            Organization.kind == OrgKind.CUSTOMER,
        )
    )
    if customer is None or not customer.active:
        raise NotFound("That customer does not exist.")
    servlet = db.session.scalar(
        select(Servlet)
        .join(ServletVersion, ServletVersion.servlet_id == Servlet.id)
        .where(
            Servlet.id == servlet_id,
            Servlet.vendor_id == actor.vendor_id,
            ServletVersion.state == VersionState.PUBLISHED,
        )
    )
    if servlet is None:
        raise NotFound("Only a published servlet can be recommended.")
    if servlet.retired_at is not None:
        raise InvalidTransition("This servlet is retired: recommend another one.")
    visible = db.session.scalar(
        select(
            visible_servlet_ids(customer.id).where(CatalogItem.servlet_id == servlet.id).exists()
        )
    )
    if not visible:
        raise ServiceError(
            f"{customer.name} cannot see this servlet: add it to a published catalog "
            "assigned to them first."
        )
    recommendation = Recommendation(
        vendor_id=actor.vendor_id,
        servlet_id=servlet.id,
        customer_id=customer.id,
        recommended_by_id=actor.user_id,
        reason=reason,
        expires_at=expires_at,
    )
    db.session.add(recommendation)
    db.session.flush()
    audit.record(
        "recommendation.proposed",
        recommendation,
        changes={"servlet_id": servlet.id, "customer_id": customer.id},
    )
    _tell_buyers(recommendation, customer)
    db.session.commit()
    return recommendation


def _tell_buyers(recommendation: Recommendation, customer: Organization) -> None:
    """Notify the customer's buyers and approvers, who can order it or decline it."""
    title = db.session.scalar(
        select(ServletVersion.title).where(
            ServletVersion.servlet_id == recommendation.servlet_id,
            ServletVersion.state == VersionState.PUBLISHED,
        )
    )
    by = db.session.get(User, recommendation.recommended_by_id)
    try:
        link = url_for("catalog.servlet_page", servlet_id=recommendation.servlet_id, _external=True)
    except RuntimeError:  # no request and no SERVER_NAME (the demo seed)
        link = ""
    people = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organization_id == customer.id,
            Membership.role.in_(DECIDERS),
            Membership.active.is_(True),
            User.active.is_(True),
        )
        .order_by(User.id)
    )
    for person in people:
        notify(
            person,
            f"Recommended for {customer.name}: {title}",
            f"{by.display_name} recommends {title}: {recommendation.reason}",
            link,
            RECOMMENDED,
            vendor_id=recommendation.vendor_id,
        )


def _due(recommendation: Recommendation, now: datetime) -> bool:
    return (
        recommendation.is_open
        and recommendation.expires_at is not None
        and recommendation.expires_at <= now
    )


def mark_viewed(actor: Actor, recommendation: Recommendation) -> None:
    """A buyer opened it. Opening an overdue one expires it instead. Called while a page
    is shown (a GET), so it writes in a transaction of its own that takes the write lock."""
    _answerable(actor, recommendation)
    if not (recommendation.state == State.PROPOSED or _due(recommendation, utcnow())):
        return
    db.session.commit()
    with writes():
        recommendation = db.session.scalar(
            select(Recommendation)
            .where(Recommendation.id == recommendation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if _due(recommendation, utcnow()):
            states.transition(RECOMMENDATION_LIFE, recommendation, State.EXPIRED, actor)
        elif recommendation.state == State.PROPOSED:
            states.transition(RECOMMENDATION_LIFE, recommendation, State.VIEWED, actor)
        db.session.commit()


def decline(actor: Actor, recommendation: Recommendation, reason: str) -> None:
    _answerable(actor, recommendation)
    reason = reason.strip()
    if not reason:
        raise ServiceError("Tell your CSM why, so they can suggest something better.")
    if len(reason) > 1000:
        raise ServiceError("Reason: at most 1,000 characters.")
    if _due(recommendation, utcnow()):
        raise InvalidTransition("This recommendation has expired.")
    states.transition(RECOMMENDATION_LIFE, recommendation, State.DECLINED, actor, reason)
    recommendation.decline_reason = reason
    db.session.commit()


def mark_ordered(actor: Actor, recommendation: Recommendation) -> None:
    """The customer ordered the recommended servlet (called by the ordering area)."""
    _answerable(actor, recommendation)
    states.transition(RECOMMENDATION_LIFE, recommendation, State.ORDERED, actor)
    db.session.commit()


def close_as_ordered(recommendation: Recommendation, order_reference: str) -> bool:
    """An order that followed this recommendation was confirmed (called by the ordering area).

    No actor and no commit: confirmation may come from a payment webhook, and this change
    lands in the confirmation's own transaction. A closed recommendation stays as it is.
    """
    if not recommendation.is_open:
        return False
    states.transition(
        RECOMMENDATION_LIFE, recommendation, State.ORDERED, None, order=order_reference
    )
    return True


def _answerable(actor: Actor, recommendation: Recommendation) -> None:
    if not policies.buys(actor):
        raise NotAllowed("You do not have permission to do that.")
    if not policies.answers(actor, recommendation):
        raise NotFound("That recommendation does not exist.")


def expire_due(now: datetime | None = None) -> int:
    """Expire every open recommendation past its expiry (a scheduled job; safe to repeat)."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(Recommendation)
            .where(
                Recommendation.state.in_([State.PROPOSED, State.VIEWED]),
                Recommendation.expires_at <= now,
            )
            .with_for_update(skip_locked=True)
        )
    )
    for recommendation in due:
        # Re-check in the row we hold: another worker may have moved it meanwhile.
        if _due(recommendation, now):
            states.transition(RECOMMENDATION_LIFE, recommendation, State.EXPIRED, None)
    db.session.commit()
    return len(due)


@dataclass(frozen=True)
class Conversion:
    """Recommendation outcomes: ordered out of those that reached an outcome."""

    counts: dict[RecommendationState, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def closed(self) -> int:
        return sum(self.counts.get(s, 0) for s in (State.ORDERED, State.DECLINED, State.EXPIRED))

    @property
    def rate(self) -> float | None:
        """Ordered ÷ closed (ordered, declined, expired); ``None`` before any has closed."""
        return self.counts.get(State.ORDERED, 0) / self.closed if self.closed else None


def conversion(recommended_by_id: int | None = None) -> Conversion:
    stmt = select(Recommendation.state, func.count()).group_by(Recommendation.state)
    if recommended_by_id is not None:
        stmt = stmt.where(Recommendation.recommended_by_id == recommended_by_id)
    counts = dict.fromkeys(State, 0)
    counts.update({row[0]: row[1] for row in db.session.execute(stmt)})
    return Conversion(counts)
