"""Delivery test data. Builders run inside ``unscoped()`` and return ids, like
tests.factories. Engagements come from real confirmed orders; resources and assignments
are written directly (their services are the allocation area's)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from delivery.models import (
    Assignment,
    DeliverableFile,
    Engagement,
    EngagementState,
    EngagementUpdate,
    Resource,
    Task,
    TimeEntry,
    UpdateVisibility,
)
from ordering.models import OrderLine
from tests.factories import Tenant
from tests.ordering import factories as ordering_factories


def engagement(tenant: Tenant, **servlet: Any) -> int:
    """The first engagement of a new confirmed order of the tenant's customer."""
    order_id = ordering_factories.order(tenant, **servlet)
    return db.session.scalar(
        select(Engagement.id)
        .join(OrderLine, OrderLine.id == Engagement.order_line_id)
        .where(OrderLine.order_id == order_id)
        .order_by(Engagement.id)
    )


def resource(tenant: Tenant, role: Role = Role.CONSULTANT, cost_rate_minor: int = 10_000) -> int:
    """The resource of the tenant's person in ``role`` (a partner consultant's is the
    partner's), made once."""
    person = tenant.people[role]
    found = db.session.scalar(
        select(Resource.id).where(Resource.membership_id == person.membership_id)
    )
    if found is not None:
        return found
    made = Resource(
        vendor_id=tenant.vendor_id,
        membership_id=person.membership_id,
        partner_id=tenant.partner_id if role is Role.PARTNER_CONSULTANT else None,
        skills=["Administration"],
        cost_rate_minor=0 if role is Role.PARTNER_CONSULTANT else cost_rate_minor,
        fee_minor=150_000 if role is Role.PARTNER_CONSULTANT else 0,
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def assign(tenant: Tenant, engagement_id: int, role: Role = Role.CONSULTANT) -> int:
    """Put the tenant's ``role`` person on the engagement (a partner consultant through the
    partner) for the next two weeks."""
    today = utcnow().date()
    made = Assignment(
        vendor_id=tenant.vendor_id,
        engagement_id=engagement_id,
        resource_id=resource(tenant, role),
        partner_id=tenant.partner_id if role is Role.PARTNER_CONSULTANT else None,
        starts_on=today,
        ends_on=today + timedelta(days=14),
        planned_hours=Decimal(16),
        assigned_by_id=tenant.people[Role.DELIVERY_MANAGER].membership_id,
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def put_in_state(engagement_id: int, state: EngagementState, started: bool = False) -> None:
    """Set the state directly (the moves under test are not the way there)."""
    engagement = db.session.get(Engagement, engagement_id)
    engagement.state = state
    if started or state in (EngagementState.IN_PROGRESS, EngagementState.DELIVERED):
        engagement.started_at = engagement.started_at or utcnow()
    db.session.commit()


def working(
    tenant: Tenant,
    state: EngagementState = EngagementState.IN_PROGRESS,
    roles: tuple[Role, ...] = (Role.CONSULTANT,),
    **servlet: Any,
) -> int:
    """An engagement in ``state`` with the tenant's ``roles`` people assigned."""
    engagement_id = engagement(tenant, **servlet)
    for role in roles:
        assign(tenant, engagement_id, role)
    put_in_state(engagement_id, state)
    return engagement_id


def yesterday() -> date:
    return utcnow().date() - timedelta(days=1)


def fill(tenant: Tenant, engagement_id: int, n: int) -> None:
    """``n`` more tasks, updates (both visibilities), file rows and time entries of the
    consultant, written directly: for counting what the page costs, not for their rules."""
    author = tenant.people[Role.CONSULTANT].membership_id
    start = db.session.scalar(
        select(func.count()).select_from(Task).where(Task.engagement_id == engagement_id)
    )
    resource_id = resource(tenant)
    for i in range(n):
        db.session.add_all(
            [
                Task(
                    vendor_id=tenant.vendor_id,
                    engagement_id=engagement_id,
                    position=start + i + 1,
                    title=f"Task {start + i + 1}",
                    done_at=utcnow() if i % 2 else None,
                ),
                EngagementUpdate(
                    vendor_id=tenant.vendor_id,
                    engagement_id=engagement_id,
                    author_id=author,
                    visibility=UpdateVisibility.INTERNAL if i % 2 else UpdateVisibility.CUSTOMER,
                    body=f"Update {i}",
                ),
                DeliverableFile(
                    vendor_id=tenant.vendor_id,
                    engagement_id=engagement_id,
                    uploaded_by_id=author,
                    filename=f"file-{i}.pdf",
                    stored_name=secrets.token_hex(16),
                    content_type="application/pdf",
                    size=1024,
                    sha256="0" * 64,
                ),
                TimeEntry(
                    vendor_id=tenant.vendor_id,
                    engagement_id=engagement_id,
                    resource_id=resource_id,
                    day=yesterday(),
                    hours=Decimal("0.25"),
                ),
            ]
        )
    db.session.commit()


def deliverable_file(tenant: Tenant) -> int:
    """A deliverable's row on an engagement in progress (no file on disk)."""
    engagement_id = working(tenant)
    fill(tenant, engagement_id, 1)
    return db.session.scalar(
        select(DeliverableFile.id).where(DeliverableFile.engagement_id == engagement_id)
    )


def time_entry(tenant: Tenant) -> int:
    """A submitted time entry of the tenant's consultant."""
    engagement_id = working(tenant)
    fill(tenant, engagement_id, 1)
    return db.session.scalar(select(TimeEntry.id).where(TimeEntry.engagement_id == engagement_id))
