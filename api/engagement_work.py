"""``/api/v1/engagements/<id>/time-entries`` and ``.../updates``: the work logged on an
engagement from partners' and consultants' own tooling, through the web page's services
(``delivery.time_entries``, ``delivery.updates``). Reach and refusals are those of
``api.engagements``: an engagement outside the caller's reach is a 404, a role the page offers
no button 403, a move its state does not allow 409.
"""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from accounts.models import Membership
from api.engagements import load_engagement, state_refusal
from api.fields import ApiSchema, Day, Hours, MoneyField, Timestamp
from api.pagination import ListArgs, keyset_page, page_of
from api.problems import pointed
from api.rest import ApiBlueprint
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor, current_actor, require
from delivery import policies, time_entries, updates
from delivery.models import (
    Engagement,
    EngagementState,
    EngagementUpdate,
    Resource,
    TimeEntry,
    TimeEntryState,
    UpdateVisibility,
)

blp = ApiBlueprint(
    "engagement_work",
    __name__,
    area="delivery",
    url_prefix="/engagements",
    description="Engagements' work: time entries and progress updates.",
)

# Where a service's refusal points, by the label its message starts with ("Hours: ...").
_TIME_FIELDS = {"Day": "day", "Hours": "hours", "Note": "note"}
_UPDATE_FIELDS = {"Update": "body"}


# --- schemas ------------------------------------------------------------------------------


class TimeEntrySchema(ApiSchema):
    id = fields.Integer(required=True)
    engagement_id = fields.Integer(required=True)
    person = fields.String(required=True)
    day = fields.Date(required=True)
    hours = Hours(required=True)
    note = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": [s.value for s in TimeEntryState]})
    reject_reason = fields.String(required=True)
    cost = MoneyField(
        required=True, allow_none=True, metadata={"description": "Once approved; staff only."}
    )
    created_at = Timestamp(required=True)
    decided_at = Timestamp(required=True, allow_none=True)


class NewTimeEntrySchema(ApiSchema):
    day = Day(required=True)
    hours = Hours(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=time_entries.MAX_TIME_NOTE))


class ProgressUpdateSchema(ApiSchema):
    id = fields.Integer(required=True)
    engagement_id = fields.Integer(required=True)
    author = fields.String(required=True)
    visibility = fields.String(
        required=True, metadata={"enum": [v.value for v in UpdateVisibility]}
    )
    body = fields.String(required=True)
    created_at = Timestamp(required=True)


class NewProgressUpdateSchema(ApiSchema):
    body = fields.String(required=True, validate=validate.Length(max=updates.MAX_BODY))
    visibility = fields.String(
        load_default=UpdateVisibility.CUSTOMER.value,
        validate=validate.OneOf([v.value for v in UpdateVisibility]),
        metadata={"description": "internal: the vendor and its partners only."},
    )


# --- time ---------------------------------------------------------------------------------


def _time_entry(entry: TimeEntry, cost_currency: str | None) -> dict[str, Any]:
    """``cost_currency``: the engagement's, for those who see costs (``None`` for others)."""
    costed = cost_currency is not None and entry.state is TimeEntryState.APPROVED
    return {
        "id": entry.id,
        "engagement_id": entry.engagement_id,
        "person": entry.resource.membership.user.display_name,
        "day": entry.day,
        "hours": entry.hours,
        "note": entry.note,
        "state": entry.state.value,
        "reject_reason": entry.reject_reason,
        "cost": Money(entry.cost_minor, cost_currency) if costed else None,
        "created_at": entry.created_at,
        "decided_at": entry.decided_at,
    }


_WITH_PERSON = (  # who logged the entry, for ``person``
    joinedload(TimeEntry.resource).joinedload(Resource.membership).joinedload(Membership.user)
)


def _cost_currency(actor: Actor, engagement: Engagement) -> str | None:
    return engagement.order_line.currency if policies.sees_costs(actor) else None


@blp.route("/<int:engagement_id>/time-entries", endpoint="time_entries")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_of(TimeEntrySchema))
def list_time_entries(args: dict[str, Any], engagement_id: int) -> ResponseReturnValue:
    """Time logged on the engagement, by id: the delivery manager (who approves it) reads
    everyone's, a consultant or partner consultant their own; anyone else 403."""
    actor = current_actor()
    engagement = load_engagement(engagement_id)
    stmt = select(TimeEntry).where(TimeEntry.engagement_id == engagement.id).options(_WITH_PERSON)
    if not policies.approves_time(actor):
        if not policies.works_on(actor, engagement):
            raise NotAllowed("Only the delivery manager and those who work on it read its time.")
        mine = select(Resource.id).where(Resource.membership_id == actor.id)
        stmt = stmt.where(TimeEntry.resource_id.in_(mine))
    page = keyset_page(stmt, args, keys=(TimeEntry.id,))
    body, headers = page.answer(args)
    currency = _cost_currency(actor, engagement)
    body["data"] = [_time_entry(entry, currency) for entry in page.items]
    return body, headers


@blp.route("/<int:engagement_id>/time-entries", methods=["POST"], endpoint="log_time")
@blp.arguments(NewTimeEntrySchema)
@blp.response(201, TimeEntrySchema)
def log_time(values: dict[str, Any], engagement_id: int) -> ResponseReturnValue:
    """Log the token's member's hours on a day (`delivery.time_entries.log_time`): a
    consultant or partner consultant assigned to it, while it is scheduled, in progress, on
    hold or delivered (else 409); no day to come, at most 24 hours a day (422, pointed)."""
    engagement = load_engagement(engagement_id)
    hours = time_entries.Hours(values["day"], values["hours"], values["note"])
    currency = _cost_currency(current_actor(), engagement)
    try:
        entry = time_entries.log_time(current_actor(), engagement, hours, utcnow().date())
    except ServiceError as error:
        error = state_refusal(error, engagement, policies.TIME_STATES)
        raise pointed(error, _TIME_FIELDS) from None
    db.session.expire_all()
    entry = db.session.scalar(
        select(TimeEntry).where(TimeEntry.id == entry.id).options(_WITH_PERSON)
    )
    return _time_entry(entry, currency)


# --- progress updates ---------------------------------------------------------------------


def _update(update: EngagementUpdate) -> dict[str, Any]:
    return {
        "id": update.id,
        "engagement_id": update.engagement_id,
        "author": update.author.user.display_name,
        "visibility": update.visibility.value,
        "body": update.body,
        "created_at": update.created_at,
    }


@blp.route("/<int:engagement_id>/updates", endpoint="updates")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_of(ProgressUpdateSchema))
def list_updates(args: dict[str, Any], engagement_id: int) -> ResponseReturnValue:
    """Progress updates the token's member may read, by id: the customer's people only those
    for the customer (`delivery.updates.visible_updates`)."""
    actor = current_actor()
    stmt = updates.visible_updates(actor, load_engagement(engagement_id)).order_by(None)
    page = keyset_page(stmt, args, keys=(EngagementUpdate.id,))
    body, headers = page.answer(args)
    body["data"] = [_update(update) for update in page.items]
    return body, headers


@blp.route("/<int:engagement_id>/updates", methods=["POST"], endpoint="post_update")
@blp.arguments(NewProgressUpdateSchema)
@blp.response(201, ProgressUpdateSchema)
def post_update(values: dict[str, Any], engagement_id: int) -> ResponseReturnValue:
    """Post a progress update (`delivery.updates.post_update`): those who work on it or the
    delivery manager; not on a cancelled engagement (409)."""
    engagement = load_engagement(engagement_id)
    actor = require(current_actor(), *policies.DELIVERERS)
    visibility = UpdateVisibility(values["visibility"])
    try:
        made = updates.post_update(actor, engagement, values["body"], visibility)
    except ServiceError as error:
        open_states = tuple(s for s in EngagementState if s is not EngagementState.CANCELLED)
        error = state_refusal(error, engagement, open_states)
        raise pointed(error, _UPDATE_FIELDS) from None
    db.session.expire_all()
    stmt = updates.visible_updates(actor, engagement).where(EngagementUpdate.id == made.id)
    return _update(db.session.scalar(stmt))
