"""Slow work that a change asks for, done after it commits: rendering a PDF, calling Stripe.

A service calls ``enqueue(kind, key, ...)`` inside its own transaction, so the work exists
exactly when the change that asked for it commits, and returns at once. ``run_queued``, a
scheduler job, claims due jobs (``core.claims``: once, however many schedulers run) and hands
each to the performer its area registered for the kind (``performs``). A performer runs with
no transaction open and in the job's tenant scope; it opens its own short transactions, and
must be idempotent: a job whose process died is run again when its lease ends. A performer
that raises is retried with back-off (``core.claims``); one that meets a refusal for good
(Stripe declining a refund) records it and returns.

``key`` names the piece of work ("order-form:42"): asking twice for the same work while the
first request is still queued or done is one job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from core import claims
from core.claims import Claimable
from core.db import IdMixin, insert_for, utcnow
from core.extensions import db
from core.tenancy import all_tenants, tenant_scope

Performer = Callable[[dict[str, Any]], None]

_performers: dict[str, Performer] = {}


class QueuedJob(IdMixin, Claimable, db.Model):
    __tablename__ = "queued_job"
    __table_args__ = (sa.UniqueConstraint("key"),)

    kind: Mapped[str] = mapped_column(sa.String(60))
    key: Mapped[str] = mapped_column(sa.String(200))
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def performs(kind: str) -> Callable[[Performer], Performer]:
    """Register ``performer`` as the one that does jobs of ``kind``."""

    def register(performer: Performer) -> Performer:
        existing = _performers.get(kind)
        if existing is not None and existing is not performer:
            raise RuntimeError(f"two performers for queued jobs of kind {kind}")
        _performers[kind] = performer
        return performer

    return register


def kinds() -> set[str]:
    return set(_performers)


def enqueue(
    kind: str,
    key: str,
    *,
    vendor_id: int | None,
    payload: dict[str, Any] | None = None,
    delay: timedelta = timedelta(0),
) -> bool:
    """Ask for ``kind`` work in the caller's transaction; nothing when ``key`` is asked for
    already, by an earlier ask or a concurrent one (``ON CONFLICT DO NOTHING`` on the unique
    key). Returns whether this call asked for it."""
    if kind not in _performers:
        raise RuntimeError(f"no performer for queued jobs of kind {kind}")
    table = QueuedJob.__table__
    stmt = (
        insert_for(db.session, table)
        .values(
            kind=kind,
            key=key,
            vendor_id=vendor_id,
            payload=payload or {},
            due_at=utcnow() + delay,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.id)
    )
    with all_tenants():
        return db.session.execute(stmt).first() is not None


def run_queued(limit: int = 20) -> int:
    """Do the due jobs, each once; returns how many were done."""
    done = 0
    for job in claims.claim(QueuedJob, QueuedJob.kind.in_(kinds()), limit=limit):
        try:
            with tenant_scope(job.vendor_id) if job.vendor_id is not None else all_tenants():
                _performers[job.kind](dict(job.payload))
        except Exception as error:  # any failure: kept with its error, retried with back-off
            db.session.rollback()
            current_app.logger.exception("queued job %s failed", job.key)
            claims.failed(job, f"{type(error).__name__}: {error}")
        else:
            claims.finished(job)
            done += 1
        db.session.commit()
    return done
