"""The audit trail: who did what to which object, when and from where.

Services call ``record`` before they commit, so the event lands in the same transaction as
the change it describes; a change that rolls back leaves no event behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy.orm import Mapped, mapped_column

from core.db import IdMixin, utcnow
from core.extensions import db
from core.tenancy import owning_vendor


class AuditEvent(IdMixin, db.Model):
    __tablename__ = "audit_event"

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    actor_email: Mapped[str | None] = mapped_column(sa.String(254))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(sa.String(45))


def _request_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def _current_identity() -> tuple[int | None, str | None, Any]:
    if has_request_context() and current_user.is_authenticated:
        return current_user.id, current_user.email, current_user.membership
    return None, None, None


def record(
    action: str,
    obj: Any = None,
    *,
    changes: dict[str, Any] | None = None,
    vendor_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    actor_id: int | None = None,
    actor_email: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit writes it with the change."""
    user_id, email, membership = _current_identity()
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
        vendor_id = vendor_id or getattr(obj, "vendor_id", None)
    if vendor_id is None and membership is not None:
        vendor_id = membership.vendor_id
    event = AuditEvent(
        action=action,
        object_type=object_type or "-",
        object_id=object_id,
        changes=changes or {},
        vendor_id=vendor_id,
        organization_id=membership.organization_id if membership is not None else None,
        actor_id=actor_id if actor_id is not None else user_id,
        actor_email=actor_email or email,
        ip=_request_ip(),
    )
    db.session.add(event)
    return event


def record_denied(
    object_type: str, object_id: int | None, details: dict[str, Any] | None = None
) -> None:
    """Record a refused access in its own transaction (the request itself changes nothing).

    The event goes to the actor's own tenant, whose admin sees what its people try, and when
    the object belongs to another tenant, to that tenant as well, whose admin sees the probe.
    The actor's own event reads the same whether the object exists or not.
    """
    db.session.rollback()
    changes = {"path": request.path} if has_request_context() else {}
    changes.update(details or {})
    own = record("access.denied", object_type=object_type, object_id=object_id, changes=changes)
    owner = owning_vendor(object_type, object_id) if object_id is not None else None
    if owner is not None and owner != own.vendor_id:
        record(
            "access.denied",
            vendor_id=owner,
            object_type=object_type,
            object_id=object_id,
            changes=dict(changes),
        )
    db.session.commit()


def diff(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Apply ``values`` to ``obj`` and return ``{field: [before, after]}`` for what changed."""
    changed: dict[str, list[Any]] = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            changed[field] = [_plain(old), _plain(new)]
            setattr(obj, field, new)
    return changed


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
