"""Engagements from confirmed orders, and their end when an order is cancelled.

Both run as receivers of the ordering area's signals, inside the transaction that confirms
or cancels the order, so an order is never confirmed without its engagements (nor the other
way round). States beyond ``requested`` (scheduling, allocation, acceptance) come later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from accounts.models import Organization
from catalog.models import ServletVersion
from core import audit, states
from core.db import utcnow
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Role
from core.sequences import next_number
from delivery import recipients
from delivery.calendar import add_business_days, vendor_holidays
from delivery.models import (
    CLOSED,
    ENGAGEMENT_LIFE,
    NOT_STARTED,
    Engagement,
    EngagementState,
    Task,
)
from ordering import signals
from ordering.models import Order, OrderLine

ENGAGEMENTS_REQUESTED = notification_kind(
    "engagement.requested", "New engagements wait to be scheduled"
)


def due_dates(version: ServletVersion, requested_at: datetime) -> tuple[Any, Any]:
    """(start_by, deliver_by) from the version's KPI targets, in business days of the
    vendor (weekends and its holidays skipped)."""
    holidays = vendor_holidays(version.vendor_id, requested_at.date())
    start_by = add_business_days(requested_at.date(), version.start_within_days, holidays)
    return start_by, add_business_days(start_by, version.deliver_within_days, holidays)


def create_engagements(order: Order) -> list[Engagement]:
    """One engagement per purchased unit not made yet, state ``requested``; the ones made.
    Asking twice makes nothing twice, so billing may ask first at confirmation without
    depending on which receiver of ``order_confirmed`` runs first. No commit: the caller's."""
    made = units_of(order)
    versions = {
        v.id: v
        for v in db.session.scalars(
            select(ServletVersion).where(
                ServletVersion.id.in_({line.servlet_version_id for line in order.lines})
            )
        )
    }
    now = utcnow()
    created: list[Engagement] = []
    for line in order.lines:
        version = versions[line.servlet_version_id]
        start_by, deliver_by = due_dates(version, now)
        for unit in range(1, line.quantity + 1):
            if (line.id, unit) in made:
                continue
            created.append(
                Engagement(
                    number=next_number(order.vendor_id, "engagement"),
                    vendor_id=order.vendor_id,
                    order_line_id=line.id,
                    unit=unit,
                    customer_id=order.customer_id,
                    servlet_version_id=version.id,
                    state=EngagementState.REQUESTED,
                    requested_at=now,
                    start_by=start_by,
                    deliver_by=deliver_by,
                )
            )
    if not created:
        return created
    db.session.add_all(created)
    db.session.flush()
    db.session.add_all(task for engagement in created for task in _tasks(engagement, versions))
    for engagement in created:
        audit.record(
            "engagement.requested",
            engagement,
            changes={"order_id": order.id, "start_by": engagement.start_by.isoformat()},
        )
    _tell_delivery_managers(order, created, versions)
    return created


def _tasks(engagement: Engagement, versions: dict[int, ServletVersion]) -> list[Task]:
    """One task per deliverable of the version bought, in the catalog's order."""
    deliverables = versions[engagement.servlet_version_id].deliverables
    return [
        Task(
            vendor_id=engagement.vendor_id,
            engagement_id=engagement.id,
            position=position,
            title=(deliverable.get("title") or "")[:200],
            description=deliverable.get("description") or "",
        )
        for position, deliverable in enumerate(deliverables, 1)
    ]


def _tell_delivery_managers(
    order: Order, created: list[Engagement], versions: dict[int, ServletVersion]
) -> None:
    managers = recipients.with_roles(order.vendor_id, Role.DELIVERY_MANAGER)
    customer = db.session.get(Organization, order.customer_id)
    listing = "\n".join(
        f"- {versions[e.servlet_version_id].title} (unit {e.unit}): start by "
        f"{e.start_by.isoformat()}, deliver by {e.deliver_by.isoformat()}"
        for e in created
    )
    body = f"{customer.name} ordered ({order.reference}). New engagements to schedule:\n\n{listing}"
    for manager in managers:
        notify(
            manager,
            f"{len(created)} new engagement(s) from {customer.name}",
            body,
            recipients.link("delivery.engagements"),
            ENGAGEMENTS_REQUESTED,
            vendor_id=order.vendor_id,
        )


def _of_order(order: Order) -> list[Engagement]:
    return list(
        db.session.scalars(
            select(Engagement)
            .join(OrderLine, OrderLine.id == Engagement.order_line_id)
            .where(OrderLine.order_id == order.id)
            .order_by(Engagement.id)
        )
    )


def units_of(order: Order) -> dict[tuple[int, int], int]:
    """The engagement id of each (order line, unit) of ``order``: what billing charges."""
    return {
        (engagement.order_line_id, engagement.unit): engagement.id
        for engagement in _of_order(order)
    }


def cancel_engagements(order: Order, reason: str = "") -> int:
    """The order was cancelled: its open engagements end too. Returns how many."""
    cancelled = 0
    for engagement in _of_order(order):
        if engagement.state in CLOSED:
            continue
        states.transition(ENGAGEMENT_LIFE, engagement, EngagementState.CANCELLED, None, reason)
        cancelled += 1
    return cancelled


def started(order: Order) -> bool:
    """Whether delivery of any unit of the order has begun (the customer may no longer
    cancel on its own)."""
    return any(e.state not in (*NOT_STARTED, EngagementState.CANCELLED) for e in _of_order(order))


@signals.order_confirmed.connect
def _on_order_confirmed(order: Order, **_: Any) -> None:
    create_engagements(order)


@signals.order_cancelled.connect
def _on_order_cancelled(order: Order, reason: str = "", **_: Any) -> None:
    cancel_engagements(order, reason)


@signals.delivery_started.connect
def _on_delivery_question(order: Order, **_: Any) -> bool:
    return started(order)
