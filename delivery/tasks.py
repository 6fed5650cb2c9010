"""Ticking a task done, or back to open: whoever works on the engagement."""

from __future__ import annotations

from sqlalchemy import select

from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor
from delivery import moves, policies
from delivery.models import Engagement, Task


def tick(actor: Actor, engagement: Engagement, task_id: int, done: bool) -> Task:
    """Mark a task of ``engagement`` done (``done``) or open again; a second identical click
    changes nothing and says so. Only while the engagement is scheduled or in progress."""
    engagement = moves.lock(engagement)
    task = db.session.scalar(
        select(Task)
        .where(Task.id == task_id, Task.engagement_id == engagement.id)
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise ServiceError("That task is not part of this engagement.")
    if not policies.may_work(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    if not policies.may_tick(actor, engagement):
        raise ServiceError(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}: "
            "its tasks can change only while it is scheduled or in progress."
        )
    if (task.done_at is not None) == done:
        raise ServiceError(f"“{task.title}” is already {'done' if done else 'open'}.")
    task.done_at = utcnow() if done else None
    task.done_by_id = actor.id if done else None
    audit.record("task.done" if done else "task.reopened", task, changes={"title": task.title})
    db.session.commit()
    return task
