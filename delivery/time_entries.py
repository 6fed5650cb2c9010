"""Time: an assignee logs hours on a day against their engagement; the delivery manager
approves (fixing its cost at the resource's rate then) or rejects it with a reason.

Rules: more than 0 and at most 24 hours an entry, at most 24 hours a day for one person over
all their engagements (rejected time does not count), no day in the future, a note of at
most 500 characters, and only while the engagement is scheduled, in progress, on hold or
delivered (``policies.TIME_STATES``). A submitted entry may be edited or deleted by its
author; a decided one is settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import Membership
from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor
from delivery import kpi_facts, moves, policies
from delivery.models import Engagement, Resource, TimeEntry, TimeEntryState

MAX_TIME_NOTE = 500
MAX_REASON = 500
DAY_HOURS = Decimal(24)


@dataclass(frozen=True)
class Hours:
    day: date | None
    hours: Decimal | None
    note: str = ""


def _resource_of(actor: Actor) -> Resource | None:
    """The actor's resource, locked: two entries of one person are checked one at a time."""
    return db.session.scalar(
        select(Resource).where(Resource.membership_id == actor.id).with_for_update()
    )


def _valid(resource: Resource, hours: Hours, today: date, replacing: int | None = None) -> Hours:
    if hours.day is None:
        raise ServiceError("Day: enter the day worked.")
    if hours.day > today:
        raise ServiceError("Day: time is logged for days worked, not days to come.")
    if hours.hours is None or hours.hours <= 0:
        raise ServiceError("Hours: more than 0, e.g. 0.5 for half an hour.")
    if hours.hours > DAY_HOURS:
        raise ServiceError("Hours: at most 24 in one day.")
    note = (hours.note or "").strip()
    if len(note) > MAX_TIME_NOTE:
        raise ServiceError(f"Note: at most {MAX_TIME_NOTE} characters.")
    logged = db.session.scalar(
        select(sa.func.coalesce(sa.func.sum(TimeEntry.hours), 0)).where(
            TimeEntry.resource_id == resource.id,
            TimeEntry.day == hours.day,
            TimeEntry.state != TimeEntryState.REJECTED,
            TimeEntry.id != (replacing or 0),
        )
    )
    if (logged := Decimal(logged)) + hours.hours > DAY_HOURS:
        raise ServiceError(
            f"Hours: you already logged {logged.normalize():f} hours on "
            f"{hours.day:%d %b %Y}; a day holds at most 24."
        )
    return Hours(hours.day, hours.hours, note)


def log_time(actor: Actor, engagement: Engagement, hours: Hours, today: date) -> TimeEntry:
    """Log ``hours`` on ``engagement`` for the actor's own resource."""
    engagement = moves.lock(engagement)
    if not policies.works_on(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    if not policies.may_log_time(actor, engagement):
        raise ServiceError(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}: time is "
            "logged while it is scheduled, in progress, on hold or delivered."
        )
    resource = _resource_of(actor)
    hours = _valid(resource, hours, today)
    entry = TimeEntry(
        vendor_id=engagement.vendor_id,
        engagement_id=engagement.id,
        resource_id=resource.id,
        day=hours.day,
        hours=hours.hours,
        note=hours.note,
    )
    db.session.add(entry)
    db.session.flush()
    audit.record("time_entry.logged", entry, changes=_values(entry))
    db.session.commit()
    return entry


def _values(entry: TimeEntry) -> dict[str, object]:
    return {"engagement_id": entry.engagement_id, "day": str(entry.day), "hours": str(entry.hours)}


def _own_submitted(actor: Actor, entry_id: int) -> TimeEntry:
    entry = db.session.scalar(
        select(TimeEntry)
        .where(TimeEntry.id == entry_id)
        .options(selectinload(TimeEntry.resource), selectinload(TimeEntry.engagement))
        .with_for_update(of=TimeEntry)
        .execution_options(populate_existing=True)
    )
    if entry is None or entry.resource.membership_id != actor.id:
        raise NotAllowed("You do not have permission to do that.")
    if not policies.owns_entry(actor, entry):
        raise ServiceError(f"This entry is {entry.state.label.lower()}; it can no longer change.")
    return entry


def edit_time(actor: Actor, entry_id: int, hours: Hours, today: date) -> TimeEntry:
    """Change one's own submitted entry, under the same rules as logging it."""
    entry = _own_submitted(actor, entry_id)
    hours = _valid(_resource_of(actor), hours, today, replacing=entry.id)
    changes = audit.diff(entry, {"day": hours.day, "hours": hours.hours, "note": hours.note})
    if changes:
        audit.record("time_entry.edited", entry, changes=changes)
    db.session.commit()
    return entry


def delete_time(actor: Actor, entry_id: int) -> None:
    entry = _own_submitted(actor, entry_id)
    audit.record("time_entry.deleted", entry, changes=_values(entry))
    db.session.delete(entry)
    db.session.commit()


def cost_of(entry: TimeEntry) -> int:
    """Hours times the resource's cost rate, rounded half up to a minor unit; a partner's
    consultant costs nothing per hour (their fee is on the assignment)."""
    if entry.resource.partner_id is not None:
        return 0
    cost = Decimal(entry.hours) * entry.resource.cost_rate_minor
    return int(cost.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def decide(actor: Actor, entry_ids: Iterable[int], approve: bool, reason: str = "") -> int:
    """Approve or reject the submitted entries among ``entry_ids``; returns how many were
    decided. Entries are locked first, so a double click or a colleague at the same moment
    decides each entry once (the second finds it decided and skips it)."""
    if not policies.approves_time(actor):
        raise NotAllowed("You do not have permission to do that.")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ServiceError("Reason: tell the consultant why the time is rejected.")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"Reason: at most {MAX_REASON} characters.")
    ids = sorted(set(entry_ids))
    if not ids:
        raise ServiceError("Choose the entries to decide.")
    entries = db.session.scalars(
        select(TimeEntry)
        .where(TimeEntry.id.in_(ids), TimeEntry.state == TimeEntryState.SUBMITTED)
        .options(selectinload(TimeEntry.resource))
        .order_by(TimeEntry.id)
        .with_for_update(of=TimeEntry)
        .execution_options(populate_existing=True)
    ).all()
    now = utcnow()
    for entry in entries:
        entry.state = TimeEntryState.APPROVED if approve else TimeEntryState.REJECTED
        entry.decided_by_id = actor.id
        entry.decided_at = now
        entry.cost_minor = cost_of(entry) if approve else 0
        entry.reject_reason = "" if approve else reason
        audit.record(
            f"time_entry.{entry.state.value}",
            entry,
            changes={"state": ["submitted", entry.state.value], "cost_minor": entry.cost_minor}
            | ({"reason": reason} if reason else {}),
        )
    kpi_facts.refresh(entry.engagement_id for entry in entries)
    db.session.commit()
    return len(entries)


# --- read paths ---------------------------------------------------------------------------


def _listing(stmt: Select[tuple[TimeEntry]]) -> Select[tuple[TimeEntry]]:
    return stmt.options(
        joinedload(TimeEntry.engagement).joinedload(Engagement.servlet_version),
        joinedload(TimeEntry.resource).joinedload(Resource.membership).joinedload(Membership.user),
    ).order_by(TimeEntry.day.desc(), TimeEntry.id.desc())


def mine(actor: Actor) -> Select[tuple[TimeEntry]]:
    """The actor's own entries, newest day first."""
    return _listing(
        select(TimeEntry)
        .join(Resource, Resource.id == TimeEntry.resource_id)
        .where(Resource.membership_id == actor.id)
    )


def to_decide(state: TimeEntryState | None, resource_id: int | None) -> Select[tuple[TimeEntry]]:
    """The tenant's entries for the approval page: submitted ones unless another state is
    asked for, optionally one person's."""
    stmt = select(TimeEntry).where(TimeEntry.state == (state or TimeEntryState.SUBMITTED))
    if resource_id is not None:
        stmt = stmt.where(TimeEntry.resource_id == resource_id)
    return _listing(stmt)


def resources_with_time() -> list[Resource]:
    """The people who logged time, for the approval page's filter."""
    return list(
        db.session.scalars(
            select(Resource)
            .where(Resource.id.in_(select(TimeEntry.resource_id)))
            .options(joinedload(Resource.membership).joinedload(Membership.user))
            .order_by(Resource.id)
        )
    )


def entry_of(actor: Actor, entry_id: int) -> TimeEntry | None:
    """One of the actor's own entries (others' are not theirs to open)."""
    return db.session.scalar(mine(actor).where(TimeEntry.id == entry_id))
