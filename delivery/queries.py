"""Read paths of the delivery pages."""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.orm import joinedload

from core.permissions import Actor, scoped
from delivery.models import Engagement, EngagementState
from ordering.models import OrderLine


def engagements(actor: Actor, state: str = "") -> Select[tuple[Engagement]]:
    """Engagements within the actor's reach, soonest start first, with what the list shows."""
    stmt = scoped(Engagement).options(
        joinedload(Engagement.customer),
        joinedload(Engagement.servlet_version),
        joinedload(Engagement.order_line).joinedload(OrderLine.order),
    )
    if state in {s.value for s in EngagementState}:
        stmt = stmt.where(Engagement.state == EngagementState(state))
    return stmt.order_by(Engagement.start_by, Engagement.id)
