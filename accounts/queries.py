"""Read paths of the admin pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.extensions import db


def organizations_of_vendor(active: bool | None = None) -> list[Organization]:
    """The current tenant's organisations (the tenant filter is added by ``core.tenancy``)."""
    stmt = select(Organization).order_by(Organization.vendor_id.is_not(None), Organization.name)
    if active is not None:
        stmt = stmt.where(Organization.active.is_(active))
    return list(db.session.scalars(stmt))


def audit_events(
    vendor_id: int,
    *,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[tuple[AuditEvent]]:
    """The vendor's audit trail, newest first. It includes failed sign-ins as its people and
    refused attempts on its objects by anyone; failed sign-ins as unknown addresses carry no
    vendor and so appear to no tenant."""
    stmt = select(AuditEvent).where(AuditEvent.vendor_id == vendor_id)
    if action:
        stmt = stmt.where(AuditEvent.action.contains(action, autoescape=True))
    if actor:
        stmt = stmt.where(AuditEvent.actor_email.contains(actor.lower(), autoescape=True))
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at <= until)
    return stmt.order_by(AuditEvent.id.desc())
