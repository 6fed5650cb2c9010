"""Follow-up tasks for the owning CSM: an NPS detractor (call them within two days), a passive
(a lighter touch within two weeks) and an engagement rated CSAT 1 or 2.

A task is made once: its ``source`` ("nps:12", "csat:31") is unique per vendor and the insert
does nothing when the row exists, so a replayed signal or two answers at once open one task.
It goes to the customer's owning CSM (``Organization.csm_id``) at the time it opens; with no
owner it waits unassigned, on the admins' list. Marking it done is a conditional update, so a
double click records one outcome and tells the second click it was done already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select, update

from accounts.models import Membership, Organization, User
from core import audit
from core.db import insert_for, utcnow
from core.errors import Conflict, NotAllowed, ServiceError
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Actor, Role, scoped
from delivery import recipients
from delivery.models import Engagement
from delivery.signals import engagement_rated
from success import policies
from success.survey_models import FollowUpKind, FollowUpTask

DUE_IN_DAYS = {FollowUpKind.DETRACTOR: 2, FollowUpKind.PASSIVE: 14, FollowUpKind.LOW_CSAT: 2}
LOW_CSAT = 2  # a rating at or under this opens a follow-up
MAX_OUTCOME = 1000
MINE, ALL, UNASSIGNED = "mine", "all", "unassigned"
OPEN, DONE = "open", "done"

FOLLOW_UP_OPENED = notification_kind(
    "success.follow_up_opened", "A customer of mine needs a follow-up call"
)


def open_task(
    customer_id: int, kind: FollowUpKind, source: str, title: str, detail: str, today: date
) -> FollowUpTask | None:
    """Open the follow-up ``source`` names unless it exists; the new task, or ``None``. The
    owning CSM is told in the app and by email. No commit."""
    customer = db.session.get(Organization, customer_id)
    table = FollowUpTask.__table__
    made = db.session.execute(
        insert_for(db.session, table)
        .values(
            vendor_id=customer.tenant_id,
            customer_id=customer.id,
            assignee_id=customer.csm_id,
            kind=kind,
            source=source,
            title=title[:200],
            detail=detail,
            due_on=today + timedelta(days=DUE_IN_DAYS[kind]),
            outcome="",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["vendor_id", "source"])
        .returning(table.c.id)
    ).scalar()
    if made is None:
        return None
    task = db.session.get(FollowUpTask, made)
    audit.record(
        "success.follow_up_opened",
        task,
        changes={"kind": kind.value, "source": source, "assignee_id": customer.csm_id},
    )
    link = recipients.link("success.follow_ups")
    for user in recipients.members(customer.csm_id):
        notify(
            user,
            f"Follow up with {customer.name}: {task.title}"[:200],
            "\n\n".join(filter(None, [f"{task.title}\nDue by {task.due_on.isoformat()}.", detail])),
            link,
            FOLLOW_UP_OPENED,
            vendor_id=customer.tenant_id,
        )
    return task


@engagement_rated.connect
def _low_csat(engagement: Engagement, **_: Any) -> None:
    """A CSAT of 1 or 2 opens a follow-up for the account's CSM, once per engagement."""
    if engagement.csat is None or engagement.csat > LOW_CSAT:
        return
    title = f"CSAT {engagement.csat} of 5 on {engagement.reference}"
    open_task(
        engagement.customer_id,
        FollowUpKind.LOW_CSAT,
        f"csat:{engagement.id}",
        title,
        engagement.csat_comment or "",
        utcnow().date(),
    )


# --- marking done ------------------------------------------------------------------------


def completes(actor: Actor | None, task: FollowUpTask, customer: Organization) -> bool:
    """The vendor's admins, the task's assignee and the account's owning CSM."""
    if actor is None or not policies.sees_account(actor, customer):
        return False
    return (
        actor.role is Role.ADMIN
        or task.assignee_id == actor.id
        or policies.edits_account(actor, customer)
    )


def complete(actor: Actor, task: FollowUpTask, outcome: str) -> FollowUpTask:
    """Mark ``task`` done with what came of it (required); a task done already is refused,
    saying so, and keeps its first outcome."""
    customer = db.session.get(Organization, task.customer_id)
    if not completes(actor, task, customer):
        raise NotAllowed("Only the account's CSM, the task's assignee or an admin closes it.")
    outcome = (outcome or "").strip()
    if not outcome:
        raise ServiceError("Outcome: say what came of the follow-up.")
    if len(outcome) > MAX_OUTCOME:
        raise ServiceError(f"Outcome: at most {MAX_OUTCOME:,} characters.")
    done = db.session.execute(
        update(FollowUpTask)
        .where(FollowUpTask.id == task.id, FollowUpTask.done_at.is_(None))
        .values(done_at=utcnow(), done_by_id=actor.user_id, outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        db.session.rollback()
        raise Conflict("This follow-up was marked done already; its first outcome is kept.")
    audit.record("success.follow_up_done", task, changes={"outcome": outcome})
    db.session.commit()
    return db.session.get(FollowUpTask, task.id, populate_existing=True)


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFilters:
    who: str = MINE
    kind: FollowUpKind | None = None
    state: str = OPEN


@dataclass(frozen=True)
class TaskRow:
    task: FollowUpTask
    customer: str
    assignee: str
    done_by: str


def tasks(actor: Actor, filters: TaskFilters) -> sa.Select[Any]:
    """The follow-ups the list shows: open ones by due date (overdue first), done ones
    newest first."""
    stmt = scoped(FollowUpTask)
    if filters.who == MINE:
        stmt = stmt.where(FollowUpTask.assignee_id == actor.id)
    elif filters.who == UNASSIGNED:
        stmt = stmt.where(FollowUpTask.assignee_id.is_(None))
    if filters.kind is not None:
        stmt = stmt.where(FollowUpTask.kind == filters.kind)
    if filters.state == DONE:
        return stmt.where(FollowUpTask.done_at.is_not(None)).order_by(
            FollowUpTask.done_at.desc(), FollowUpTask.id.desc()
        )
    return stmt.where(FollowUpTask.done_at.is_(None)).order_by(FollowUpTask.due_on, FollowUpTask.id)


def open_of_account(customer_id: int, limit: int) -> list[FollowUpTask]:
    return list(
        db.session.scalars(
            scoped(FollowUpTask)
            .where(FollowUpTask.customer_id == customer_id, FollowUpTask.done_at.is_(None))
            .order_by(FollowUpTask.due_on, FollowUpTask.id)
            .limit(limit)
        )
    )


def rows_of(page: list[FollowUpTask]) -> list[TaskRow]:
    """The customers and people of a page of tasks: two queries, whatever the page size."""
    customers = customer_names({task.customer_id for task in page})
    memberships = {t.assignee_id for t in page if t.assignee_id is not None}
    users = {t.done_by_id for t in page if t.done_by_id is not None}
    people: dict[tuple[str, int], str] = {}
    if memberships or users:
        rows = db.session.execute(
            select(Membership.id, User.id, User.name, User.email)
            .join(User, User.id == Membership.user_id)
            .where(sa.or_(Membership.id.in_(memberships), User.id.in_(users)))
        )
        for membership_id, user_id, name, email in rows:
            people[("m", membership_id)] = name or email
            people[("u", user_id)] = name or email
    return [
        TaskRow(
            task,
            customers.get(task.customer_id, ""),
            people.get(("m", task.assignee_id or 0), ""),
            people.get(("u", task.done_by_id or 0), ""),
        )
        for task in page
    ]


def customer_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(Organization.id, Organization.name).where(Organization.id.in_(ids))
    return dict(db.session.execute(stmt).all())


def is_overdue(task: FollowUpTask, today: date) -> bool:
    return task.done_at is None and task.due_on < today
