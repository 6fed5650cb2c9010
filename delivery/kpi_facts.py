"""An engagement's money and effort facts, kept on its row for the KPIs to read.

``Engagement.approved_hours``/``approved_cost_minor`` (approved time, costed at approval),
``partner_fee_minor`` (its assignments' partner fees) and ``change_price_minor``/
``change_hours`` (its approved change orders) are sums of other rows. The dashboard reads
100,000 engagements in a period; summing 300,000 time entries, the assignments and the change
orders for each on every view took seconds. So each service that changes one of those rows
(approving or rejecting time, allocating, naming a partner's consultant, approving a change
order) calls ``refresh`` in its own transaction, under the engagement's lock, and the KPIs
aggregate one row per engagement. ``refresh`` recounts from the rows themselves rather than
adding a difference, so calling it twice, or after a change that moved nothing, is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from core.extensions import db
from delivery.models import (
    Assignment,
    ChangeOrder,
    ChangeOrderState,
    Engagement,
    TimeEntry,
    TimeEntryState,
)


def _sum(column: sa.ColumnElement, *where: sa.ColumnElement) -> sa.ScalarSelect:
    return sa.select(sa.func.coalesce(sa.func.sum(column), 0)).where(*where).scalar_subquery()


def recounted() -> dict[str, sa.ScalarSelect]:
    """Each fact column as the sum of the rows it stands for (correlated to ``Engagement``)."""
    approved = (
        TimeEntry.engagement_id == Engagement.id,
        TimeEntry.state == TimeEntryState.APPROVED,
    )
    changes = (
        ChangeOrder.engagement_id == Engagement.id,
        ChangeOrder.state == ChangeOrderState.APPROVED,
    )
    return {
        "approved_hours": _sum(TimeEntry.hours, *approved),
        "approved_cost_minor": _sum(TimeEntry.cost_minor, *approved),
        "partner_fee_minor": _sum(
            Assignment.partner_fee_minor, Assignment.engagement_id == Engagement.id
        ),
        "change_price_minor": _sum(ChangeOrder.price_minor, *changes),
        "change_hours": _sum(ChangeOrder.extra_hours, *changes),
    }


def refresh(engagement_ids: Iterable[int]) -> None:
    """Recount the facts of these engagements from their time, assignments and change
    orders; the caller commits (one statement, whatever the number of engagements)."""
    ids = sorted(set(engagement_ids))
    if not ids:
        return
    db.session.flush()
    db.session.execute(
        sa.update(Engagement)
        .where(Engagement.id.in_(ids))
        .values(recounted())
        .execution_options(synchronize_session="fetch")
    )
