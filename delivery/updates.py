"""Progress updates: for the customer to read, or internal to the vendor and its partners."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from accounts.models import Membership
from core import audit
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor
from delivery import moves, policies
from delivery.models import Engagement, EngagementUpdate, UpdateVisibility

MAX_BODY = 5000


def post_update(
    actor: Actor, engagement: Engagement, body: str, visibility: UpdateVisibility
) -> EngagementUpdate:
    """Whoever works on it, or the delivery manager, posts; not on a cancelled engagement."""
    engagement = moves.lock(engagement)
    if not policies.may_work(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    if not policies.may_post_update(actor, engagement):
        raise ServiceError(f"Engagement {engagement.reference} is cancelled: no more updates.")
    body = (body or "").strip()
    if not body:
        raise ServiceError("Update: write what happened.")
    if len(body) > MAX_BODY:
        raise ServiceError(f"Update: at most {MAX_BODY:,} characters.")
    update = EngagementUpdate(
        vendor_id=engagement.vendor_id,
        engagement_id=engagement.id,
        author_id=actor.id,
        visibility=UpdateVisibility(visibility),
        body=body,
    )
    db.session.add(update)
    db.session.flush()
    audit.record(
        "engagement_update.posted",
        update,
        changes={"engagement_id": engagement.id, "visibility": update.visibility.value},
    )
    db.session.commit()
    return update


def visible_updates(actor: Actor, engagement: Engagement) -> Select[tuple[EngagementUpdate]]:
    """The updates ``actor`` may read, newest first: the customer's people only those meant
    for the customer."""
    stmt = (
        select(EngagementUpdate)
        .where(EngagementUpdate.engagement_id == engagement.id)
        .options(joinedload(EngagementUpdate.author).joinedload(Membership.user))
        .order_by(EngagementUpdate.created_at.desc(), EngagementUpdate.id.desc())
    )
    if not policies.sees_internal(actor):
        stmt = stmt.where(EngagementUpdate.visibility == UpdateVisibility.CUSTOMER)
    return stmt
