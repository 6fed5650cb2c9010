"""Read paths of the delivery pages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import joinedload

from core.db import utcnow
from core.permissions import Actor, scoped
from delivery.models import Engagement, EngagementState
from ordering.models import OrderLine

# The list's "late" filter: its value, what the page calls it.
LATE = {"start": "Late to start", "deliver": "Late to deliver"}


def engagements(actor: Actor, state: str = "", late: str = "") -> Select[tuple[Engagement]]:
    """Engagements within the actor's reach, with what the list shows: soonest start first,
    or, late to start or to deliver (``late``), most overdue first."""
    stmt = scoped(Engagement).options(
        joinedload(Engagement.customer),
        joinedload(Engagement.servlet_version),
        joinedload(Engagement.order_line).joinedload(OrderLine.order),
    )
    if state in {s.value for s in EngagementState}:
        stmt = stmt.where(Engagement.state == EngagementState(state))
    today = utcnow().date()
    if late == "start":
        return stmt.where(Engagement.late_to_start(today)).order_by(
            Engagement.start_by, Engagement.id
        )
    if late == "deliver":
        return stmt.where(Engagement.late_to_deliver(today)).order_by(
            Engagement.deliver_by, Engagement.id
        )
    return stmt.order_by(Engagement.start_by, Engagement.id)


CSV_HEADER = [
    "engagement",
    "servlet",
    "version",
    "unit",
    "customer",
    "order",
    "state",
    "requested_at",
    "start_by",
    "deliver_by",
]


def csv_rows(engagements: Iterable[Engagement]) -> Iterator[list[Any]]:
    for e in engagements:
        yield [
            e.reference,
            e.servlet_version.title,
            e.servlet_version.number,
            e.unit,
            e.customer.name,
            e.order_line.order.reference,
            e.state.value,
            e.requested_at.isoformat(timespec="seconds"),
            e.start_by.isoformat(),
            e.deliver_by.isoformat(),
        ]
