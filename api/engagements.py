"""``/api/v1/engagements``: engagements as the web app shows them, and the moves made on them
from partners' and consultants' own tooling (start, deliver, tasks); time entries and progress
updates are ``api.engagement_work``'s.

Reach is ``Engagement.reach``: delivery staff (admin, CSM, delivery manager, finance) read
every engagement of their vendor, a customer's people their own, consultants and partner
consultants those they are assigned to, a partner manager those allocated to the partner;
another's id is a 404. Every change goes through the web page's service (``delivery.moves``,
``delivery.tasks``) with its state machine and policies, so the same people may act: a role
the web page offers no button refuses with 403, a move the engagement's state does not allow
with 409.

Engagements have no change column: ``updated_at`` (and ``updated_since``) is the latest of
their state stamps (requested, scheduled, started, delivered, accepted, cancelled) and the
customer's rating. A hold, a task ticked, time logged or an update posted does not move it.

A task is changed with ``PATCH .../tasks/<task_id>`` guarded by the task's own ``ETag``
(``GET`` the task, or read it from the engagement's ``tasks``): ticking one task never makes
another's tag stale, while two people ticking the same task are told (412).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate
from sqlalchemy.orm import joinedload, selectinload

from api.fields import ApiSchema, Hours, MoneyField, Timestamp
from api.pagination import ChangedListArgs, keyset_page, page_of
from api.problems import pointed
from api.rest import ApiBlueprint
from core.audit import record_denied
from core.db import UTCDateTime, utcnow
from core.errors import Conflict, InvalidTransition, ServiceError
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, Actor, current_actor, get_or_404, require, scoped
from delivery import moves, policies, tasks, workspace
from delivery.models import (
    Engagement,
    EngagementState,
    Task,
)
from ordering.models import OrderLine

blp = ApiBlueprint(
    "engagements",
    __name__,
    area="delivery",
    url_prefix="/engagements",
    description="Engagements: one unit of an order being delivered, its tasks, time and updates.",
)

_E = EngagementState
_STAMPS = ("scheduled_at", "started_at", "delivered_at", "accepted_at", "cancelled_at", "rated_at")
# Where a service's refusal points, by the label its message starts with ("Hours: ...").
_DELIVERY_FIELDS = {"Delivery note": "note", "Health score": "health_score", "Findings": "findings"}


# --- schemas ------------------------------------------------------------------------------


class EngagementPartySchema(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ServletRefSchema(ApiSchema):
    servlet_id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)


class TaskSchema(ApiSchema):
    id = fields.Integer(required=True)
    engagement_id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    done = fields.Boolean(required=True)
    done_at = Timestamp(required=True, allow_none=True)


class AssignmentSchema(ApiSchema):
    id = fields.Integer(required=True)
    consultant = fields.String(
        required=True, allow_none=True, metadata={"description": "null: the partner names one."}
    )
    partner = fields.Nested(EngagementPartySchema, required=True, allow_none=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    planned_hours = Hours(
        required=True, allow_none=True, metadata={"description": "null for the customer."}
    )


class DeliverySchema(ApiSchema):
    note = fields.String(required=True)
    health_score = fields.Integer(required=True, allow_none=True)
    findings = fields.String(required=True)


class TimeSummarySchema(ApiSchema):
    logged_hours = Hours(required=True)
    approved_hours = Hours(required=True)
    estimated_hours = Hours(required=True)
    approved_cost = MoneyField(
        required=True, allow_none=True, metadata={"description": "Delivery staff only."}
    )


class EngagementSchema(ApiSchema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "E-000042"})
    state = fields.String(required=True, metadata={"enum": [s.value for s in EngagementState]})
    servlet = fields.Nested(ServletRefSchema, required=True)
    customer = fields.Nested(
        EngagementPartySchema,
        required=True,
        allow_none=True,
        metadata={"description": "For the vendor's delivery staff and the customer itself."},
    )
    order_id = fields.Integer(required=True)
    order_reference = fields.String(required=True)
    unit = fields.Integer(required=True)
    start_by = fields.Date(required=True, metadata={"description": "KPI: start by this day."})
    deliver_by = fields.Date(required=True, metadata={"description": "KPI: deliver by this day."})
    requested_at = Timestamp(required=True)
    scheduled_at = Timestamp(required=True, allow_none=True)
    started_at = Timestamp(required=True, allow_none=True)
    delivered_at = Timestamp(required=True, allow_none=True)
    accepted_at = Timestamp(required=True, allow_none=True)
    cancelled_at = Timestamp(required=True, allow_none=True)
    tasks_done = fields.Integer(required=True)
    tasks_total = fields.Integer(required=True)
    updated_at = Timestamp(
        required=True, metadata={"description": "The latest state stamp or rating."}
    )


class EngagementDetailSchema(EngagementSchema):
    tasks = fields.List(fields.Nested(TaskSchema), required=True)
    assignments = fields.List(fields.Nested(AssignmentSchema), required=True)
    delivery = fields.Nested(
        DeliverySchema,
        required=True,
        allow_none=True,
        metadata={"description": "Once delivered: the note and, for a health check, results."},
    )
    time = fields.Nested(
        TimeSummarySchema,
        required=True,
        allow_none=True,
        metadata={"description": "Delivery staff and those who work on it."},
    )


class EngagementListArgs(ChangedListArgs):
    state = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in EngagementState])
    )


class DeliverSchema(ApiSchema):
    note = fields.String(required=True, validate=validate.Length(max=moves.MAX_NOTE))
    health_score = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(0, 100)
    )
    findings = fields.String(load_default="", validate=validate.Length(max=moves.MAX_NOTE))


class TaskChangeSchema(ApiSchema):
    done = fields.Boolean(required=True, truthy={True}, falsy={False})


# --- reading ------------------------------------------------------------------------------


def changed_at() -> sa.ColumnElement[datetime]:
    """The engagement's latest state stamp or rating, as one SQL expression."""
    parts = [Engagement.requested_at] + [
        sa.func.coalesce(getattr(Engagement, stamp), Engagement.requested_at) for stamp in _STAMPS
    ]
    # GREATEST on PostgreSQL; SQLite's max() of several arguments is the same function.
    dialect = db.session.get_bind().dialect.name
    latest = sa.func.greatest if dialect == "postgresql" else sa.func.max
    return sa.type_coerce(latest(*parts), UTCDateTime())


def _list_options() -> tuple[Any, ...]:
    return (
        joinedload(Engagement.customer),
        joinedload(Engagement.servlet_version),
        joinedload(Engagement.order_line).joinedload(OrderLine.order),
        selectinload(Engagement.tasks),
    )


def load_engagement(engagement_id: int) -> Engagement:
    return get_or_404(Engagement, engagement_id, *workspace.page_options())


def _summary(actor: Actor, engagement: Engagement) -> dict[str, Any]:
    version = engagement.servlet_version
    shows_customer = policies.sees_vendor_side(actor) or actor.role in CUSTOMER_ROLES
    stamps = [engagement.requested_at, *(getattr(engagement, s) for s in _STAMPS)]
    return {
        "id": engagement.id,
        "reference": engagement.reference,
        "state": engagement.state.value,
        "servlet": {
            "servlet_id": version.servlet_id,
            "version": version.number,
            "title": version.title,
            "kind": version.kind.value,
        },
        "customer": (
            {"id": engagement.customer.id, "name": engagement.customer.name}
            if shows_customer
            else None
        ),
        "order_id": engagement.order_line.order_id,
        "order_reference": engagement.order_line.order.reference,
        "unit": engagement.unit,
        "start_by": engagement.start_by,
        "deliver_by": engagement.deliver_by,
        "requested_at": engagement.requested_at,
        "scheduled_at": engagement.scheduled_at,
        "started_at": engagement.started_at,
        "delivered_at": engagement.delivered_at,
        "accepted_at": engagement.accepted_at,
        "cancelled_at": engagement.cancelled_at,
        "tasks_done": sum(1 for task in engagement.tasks if task.done_at is not None),
        "tasks_total": len(engagement.tasks),
        "updated_at": max(stamp for stamp in stamps if stamp is not None),
    }


def _task(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "engagement_id": task.engagement_id,
        "position": task.position,
        "title": task.title,
        "description": task.description,
        "done": task.done_at is not None,
        "done_at": task.done_at,
    }


def _detail(actor: Actor, engagement: Engagement) -> dict[str, Any]:
    """The engagement page's read model (``delivery.workspace``) as the API says it."""
    view = workspace.workspace(actor, engagement, utcnow().date())
    hours = policies.sees_planned_hours(actor)
    time = view.time
    shown = engagement.state in (_E.DELIVERED, _E.ACCEPTED)
    return _summary(actor, engagement) | {
        "tasks": [_task(task) for task in engagement.tasks],
        "assignments": [
            {
                "id": a.id,
                "consultant": a.resource.membership.user.display_name if a.resource else None,
                "partner": {"id": a.partner.id, "name": a.partner.name} if a.partner else None,
                "starts_on": a.starts_on,
                "ends_on": a.ends_on,
                "planned_hours": a.planned_hours if hours else None,
            }
            for a in engagement.assignments
        ],
        "delivery": (
            {
                "note": engagement.delivery_note,
                "health_score": engagement.health_score,
                "findings": engagement.findings,
            }
            if shown
            else None
        ),
        "time": (
            {
                "logged_hours": time.logged,
                "approved_hours": time.approved,
                "estimated_hours": time.estimated,
                "approved_cost": time.cost,
            }
            if time is not None
            else None
        ),
    }


def _reread(engagement_id: int) -> dict[str, Any]:
    """The engagement as it is after a change (the service committed)."""
    db.session.expire_all()
    return _detail(current_actor(), load_engagement(engagement_id))


@blp.route("", endpoint="list")
@blp.arguments(EngagementListArgs, location="query")
@blp.response(200, page_of(EngagementSchema))
def list_engagements(args: dict[str, Any]) -> ResponseReturnValue:
    """Engagements the token's member reaches, by id (creation order), a cursor page at a
    time; `state` keeps one state, `updated_since` those whose latest state stamp or rating
    is at or after the time (a hold or a ticked task does not count)."""
    actor = current_actor()
    stmt = scoped(Engagement).options(*_list_options())
    if args["state"] is not None:
        stmt = stmt.where(Engagement.state == EngagementState(args["state"]))
    if args["updated_since"] is not None:
        stmt = stmt.where(changed_at() >= args["updated_since"])
    page = keyset_page(stmt, args, keys=(Engagement.id,))
    body, headers = page.answer(args)
    body["data"] = [_summary(actor, engagement) for engagement in page.items]
    return body, headers


@blp.route("/<int:engagement_id>", endpoint="show")
@blp.etag
@blp.response(200, EngagementDetailSchema)
def show_engagement(engagement_id: int) -> ResponseReturnValue:
    """One engagement with its tasks, assignments, delivery and time summary, as its page
    shows it to the token's member (404 outside their reach)."""
    return _detail(current_actor(), load_engagement(engagement_id))


# --- moves --------------------------------------------------------------------------------


def state_refusal(error: ServiceError, engagement: Engagement, states: tuple[_E, ...]) -> Any:
    """A service's plain refusal made because of the engagement's state is a 409, as the
    state machine's own refusals are (the message is the service's)."""
    if type(error) is ServiceError and engagement.state not in states:
        return InvalidTransition(error.message)
    return error


@blp.route("/<int:engagement_id>/start", methods=["POST"], endpoint="start")
@blp.response(200, EngagementDetailSchema)
def start_engagement(engagement_id: int) -> ResponseReturnValue:
    """Scheduled → in progress (`delivery.moves.start`): a consultant or partner consultant
    assigned to it, or the delivery manager. Another state: 409."""
    engagement = load_engagement(engagement_id)
    actor = require(current_actor(), *policies.DELIVERERS)
    moves.start(actor, engagement)
    return _reread(engagement_id)


@blp.route("/<int:engagement_id>/deliver", methods=["POST"], endpoint="deliver")
@blp.arguments(DeliverSchema)
@blp.response(200, EngagementDetailSchema)
def deliver_engagement(values: dict[str, Any], engagement_id: int) -> ResponseReturnValue:
    """In progress → delivered with a note for the customer; a health check also needs its
    `health_score` (0 to 100) and `findings`. Who may: as for `start`."""
    engagement = load_engagement(engagement_id)
    actor = require(current_actor(), *policies.DELIVERERS)
    delivery = moves.Delivery(values["note"], values["health_score"], values["findings"])
    try:
        moves.deliver(actor, engagement, delivery)
    except ServiceError as error:
        raise pointed(error, _DELIVERY_FIELDS) from None
    return _reread(engagement_id)


# --- tasks --------------------------------------------------------------------------------


def _load_task(engagement: Engagement, task_id: int) -> Task:
    task = next((task for task in engagement.tasks if task.id == task_id), None)
    if task is None:
        record_denied("task", task_id)
        abort(404)
    return task


@blp.route("/<int:engagement_id>/tasks/<int:task_id>", endpoint="task")
@blp.etag
@blp.response(200, TaskSchema)
def show_task(engagement_id: int, task_id: int) -> ResponseReturnValue:
    """One task of the engagement, with the `ETag` a change of it needs."""
    return _task(_load_task(load_engagement(engagement_id), task_id))


@blp.route("/<int:engagement_id>/tasks/<int:task_id>", methods=["PATCH"], endpoint="tick")
@blp.etag
@blp.arguments(TaskChangeSchema)
@blp.response(200, TaskSchema)
def tick_task(values: dict[str, Any], engagement_id: int, task_id: int) -> ResponseReturnValue:
    """Mark the task done (`{"done": true}`) or open again, with `If-Match` of the task's
    `ETag` (missing: 428, stale: 412). Who may: as on the page, those who work on it or the
    delivery manager, while it is scheduled or in progress (else 409); asking for the state
    the task already has is a 409 too."""
    engagement = load_engagement(engagement_id)
    task = _load_task(engagement, task_id)
    blp.check_etag(_task(task), TaskSchema)
    actor = require(current_actor(), *policies.DELIVERERS)
    try:
        task = tasks.tick(actor, engagement, task.id, values["done"])
    except ServiceError as error:
        if type(error) is ServiceError and (task.done_at is not None) == values["done"]:
            raise Conflict(error.message) from None
        raise state_refusal(error, engagement, policies.WORK_STATES) from None
    return _task(task)
