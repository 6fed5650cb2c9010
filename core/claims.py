"""Claiming background work so that each piece runs once, whatever runs beside it.

Rows of a ``Claimable`` table (queued email, queued jobs, Stripe events) are taken by a
conditional ``UPDATE`` that both databases honour: it sets a fresh claim token on rows that
are due and not claimed by someone else, commits, and the caller then reads back exactly the
rows carrying its token. ``SKIP LOCKED`` would not do on SQLite, which has no row locks; there
the update runs in a ``BEGIN IMMEDIATE`` transaction (``core.db``), so two claimers queue and
the second sees the first one's token. On PostgreSQL the candidates are picked with ``SKIP
LOCKED`` so claimers do not wait on each other, and the condition is re-checked on the locked
row. The candidates are read by a statement of their own: as an ``IN (SELECT ... LIMIT)``
inside the ``UPDATE``, PostgreSQL may run the subquery once per row and claim past the limit.
The work itself then runs outside any transaction (SMTP, WeasyPrint, Stripe), and its outcome
is written by ``finished`` or ``failed`` in a short transaction of its own (a row whose lease
has passed to another claimer meanwhile is left to that claimer).

A claim is a lease: a process that dies mid-work leaves rows whose ``claimed_until`` passes,
and the next claimer takes them again. Failures back off exponentially, up to
``MAX_ATTEMPTS``; a row that keeps failing stays in the table with its last error.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import utcnow
from core.extensions import db

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=2)


class Claimable:
    """Columns of a table whose rows are work to be done once."""

    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    claimed_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


C = TypeVar("C", bound=Claimable)


def claim(model: type[C], *criteria: Any, limit: int = 50) -> list[C]:
    """Claim up to ``limit`` due rows of ``model`` matching ``criteria``, oldest first, and
    return them, detached and loaded, with no transaction left open; each row claimed here
    is claimed by no one else until its lease ends."""
    now = utcnow()
    token = uuid.uuid4().hex
    claimable = sa.and_(
        model.done_at.is_(None),
        model.attempts < MAX_ATTEMPTS,
        model.due_at <= now,
        sa.or_(model.claimed_until.is_(None), model.claimed_until < now),
        *criteria,
    )
    candidates = list(
        db.session.scalars(
            sa.select(model.id)
            .where(claimable)
            .order_by(model.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if candidates:
        db.session.execute(
            sa.update(model)
            .where(model.id.in_(candidates), claimable)
            .values(claim_token=token, claimed_until=now + LEASE, attempts=model.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    rows = list(
        db.session.scalars(sa.select(model).where(model.claim_token == token).order_by(model.id))
    )
    for row in rows:
        db.session.expunge(row)
    db.session.commit()  # the work runs with no transaction open (on SQLite: no write lock)
    return rows


def finished(row: Claimable, **outcome: Any) -> None:
    """Mark a claimed row done, with ``outcome`` columns. No commit: the caller's."""
    _release(row, done_at=utcnow(), last_error=None, **outcome)


def failed(row: Claimable, error: str) -> None:
    """Give a claimed row back, to be tried again after a back-off that doubles each time."""
    delay = min(FIRST_RETRY * 2 ** max(row.attempts - 1, 0), LONGEST_RETRY)
    _release(row, last_error=error[:2000], due_at=utcnow() + delay)


def _release(row: Claimable, **values: Any) -> None:
    """Write the outcome of a claimed row, unless its lease passed to another claimer."""
    model = type(row)
    db.session.execute(
        sa.update(model)
        .where(model.id == row.id, model.claim_token == row.claim_token)
        .values(claim_token=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
