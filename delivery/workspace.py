"""The engagement page's read model: what one role may see of one engagement, read in a
fixed number of statements whatever the number of tasks, updates, files or time entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import Membership, User
from core.audit import AuditEvent
from core.extensions import db
from core.money import Money
from core.permissions import Actor
from core.templating import date_filter
from delivery import policies, updates
from delivery.calendar import business_days
from delivery.models import (
    CLOSED,
    Assignment,
    DeliverableFile,
    Engagement,
    EngagementState,
    Resource,
    TimeEntry,
    TimeEntryState,
)
from ordering.models import OrderLine

_E = EngagementState
# Within this many business days of a due date, the page warns that it is due soon.
DUE_SOON_DAYS = 2


def page_options() -> tuple[Any, ...]:
    """What the page and its sections (assignments, change orders) read of the engagement."""
    return (
        joinedload(Engagement.customer),
        joinedload(Engagement.servlet_version),
        joinedload(Engagement.owner).joinedload(Membership.user),
        joinedload(Engagement.order_line).joinedload(OrderLine.order),
        selectinload(Engagement.tasks),
        selectinload(Engagement.assignments)
        .selectinload(Assignment.resource)
        .selectinload(Resource.membership)
        .selectinload(Membership.user),
        selectinload(Engagement.assignments).selectinload(Assignment.partner),
        selectinload(Engagement.change_orders),
    )


@dataclass(frozen=True)
class Warning:
    """A due date passed or close: ``level`` is the Bootstrap colour (danger, warning)."""

    level: str
    text: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    who: str
    kind: str  # "update" or "state"
    text: str
    internal: bool = False


@dataclass(frozen=True)
class TimeSummary:
    logged: Decimal
    approved: Decimal
    estimated: Decimal
    cost: Money | None  # approved internal cost: delivery staff only


@dataclass(frozen=True)
class Workspace:
    engagement: Engagement
    done: int
    warnings: list[Warning]
    timeline: list[TimelineEntry]
    files: list[DeliverableFile]
    time: TimeSummary | None
    my_entries: list[TimeEntry]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _business_days_after(first: date, last: date) -> int:
    """Business days after ``first`` up to ``last`` (weekends skipped; the SLA watch, not
    this warning, counts the vendor's holidays)."""
    return len(business_days(first + timedelta(days=1), last))


def warnings(engagement: Engagement, today: date) -> list[Warning]:
    """Late to start, late to deliver, or due soon, in business days."""
    if engagement.state in (*CLOSED, _E.DELIVERED):
        return []
    found = []
    if engagement.started_at is None:
        due, verb = engagement.start_by, "start"
    else:
        due, verb = engagement.deliver_by, "deliver"
    if today > due:
        late = _plural(_business_days_after(due, today), "business day")
        found.append(Warning("danger", f"Late to {verb}: due {date_filter(due)}, {late} late."))
    elif (left := _business_days_after(today, due)) <= DUE_SOON_DAYS:
        when = "today" if left == 0 else f"in {_plural(left, 'business day')}"
        found.append(Warning("warning", f"Due soon: {verb} by {date_filter(due)}, {when}."))
    return found


def _state_changes(engagement: Engagement) -> list[TimelineEntry]:
    rows = db.session.execute(
        select(AuditEvent, User)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.vendor_id == engagement.vendor_id,
            AuditEvent.object_type == Engagement.__tablename__,
            AuditEvent.object_id == engagement.id,
            AuditEvent.action.like("engagement.%"),
        )
    )
    entries = []
    for event, user in rows:
        state = event.changes.get("state")
        if state:
            label = EngagementState(state[1]).label
        elif event.action == "engagement.requested":
            label = "Requested"
        else:
            continue  # not a change of state (allocation, rating...): their sections tell it
        reason = event.changes.get("reason")
        text = f"{label}: {reason}" if reason else label
        who = user.display_name if user is not None else "Servlet Desk"
        entries.append(TimelineEntry(event.occurred_at, who, "state", text))
    return entries


def _update_entries(actor: Actor, engagement: Engagement) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            u.created_at,
            u.author.user.display_name,
            "update",
            u.body,
            internal=u.visibility.value == "internal",
        )
        for u in db.session.scalars(updates.visible_updates(actor, engagement))
    ]


def _time(actor: Actor, engagement: Engagement) -> TimeSummary:
    logged, approved, cost = db.session.execute(
        select(
            sa.func.coalesce(sa.func.sum(TimeEntry.hours), 0),
            sa.func.coalesce(
                sa.func.sum(sa.case((TimeEntry.state == TimeEntryState.APPROVED, TimeEntry.hours))),
                0,
            ),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case((TimeEntry.state == TimeEntryState.APPROVED, TimeEntry.cost_minor))
                ),
                0,
            ),
        ).where(
            TimeEntry.engagement_id == engagement.id,
            TimeEntry.state != TimeEntryState.REJECTED,
        )
    ).one()
    currency = engagement.order_line.currency
    return TimeSummary(
        logged=Decimal(logged),
        approved=Decimal(approved),
        estimated=engagement.estimated_hours,
        cost=Money(int(cost), currency) if policies.sees_costs(actor) else None,
    )


def _my_entries(actor: Actor, engagement: Engagement) -> list[TimeEntry]:
    return list(
        db.session.scalars(
            select(TimeEntry)
            .join(Resource, Resource.id == TimeEntry.resource_id)
            .where(TimeEntry.engagement_id == engagement.id, Resource.membership_id == actor.id)
            .options(selectinload(TimeEntry.resource))
            .order_by(TimeEntry.day.desc(), TimeEntry.id.desc())
        )
    )


def workspace(actor: Actor, engagement: Engagement, today: date) -> Workspace:
    """``engagement`` (loaded with ``page_options``) as ``actor`` may see it."""
    timeline = sorted(
        _update_entries(actor, engagement) + _state_changes(engagement),
        key=lambda entry: entry.at,
        reverse=True,
    )
    files = list(
        db.session.scalars(
            select(DeliverableFile)
            .where(DeliverableFile.engagement_id == engagement.id)
            .options(joinedload(DeliverableFile.uploaded_by).joinedload(Membership.user))
            .order_by(DeliverableFile.id.desc())
        )
    )
    sees_time = policies.sees_time(actor, engagement)
    return Workspace(
        engagement=engagement,
        done=sum(1 for task in engagement.tasks if task.done_at is not None),
        warnings=warnings(engagement, today),
        timeline=timeline,
        files=files,
        time=_time(actor, engagement) if sees_time else None,
        my_entries=_my_entries(actor, engagement) if policies.works_on(actor, engagement) else [],
    )
