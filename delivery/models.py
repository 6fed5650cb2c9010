"""Engagements: the delivery of one purchased unit of a servlet."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Organization
from catalog.models import ServletVersion
from core.db import (
    IdMixin,
    LabelledEnum,
    TenantMixin,
    TimestampMixin,
    enum_column,
    relationship,
)
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, Actor, Role
from core.states import SYSTEM, StateMachine
from ordering.models import OrderLine

# Vendor roles that see every engagement of their tenant (consultants will see their own
# assignments once allocation exists).
ENGAGEMENT_VIEWERS = (Role.ADMIN, Role.CSM, Role.DELIVERY_MANAGER, Role.FINANCE)


class EngagementState(LabelledEnum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Open states an order may still be cancelled from without a vendor's say (delivery has not
# started). Everything else is work under way or finished.
NOT_STARTED = (EngagementState.REQUESTED,)
CLOSED = (EngagementState.ACCEPTED, EngagementState.CANCELLED)

_E = EngagementState
_WORKERS = frozenset({Role.DELIVERY_MANAGER, Role.CONSULTANT, Role.PARTNER_CONSULTANT})
_CUSTOMER = frozenset({Role.BUYER, Role.APPROVER})
_STOPPERS = frozenset({Role.DELIVERY_MANAGER, Role.ADMIN, SYSTEM})
_OPEN = (_E.REQUESTED, _E.SCHEDULED, _E.IN_PROGRESS, _E.DELIVERED, _E.ON_HOLD)

# The delivery manager schedules; whoever works on it starts and delivers; the customer
# accepts or asks for rework (or the auto-accept job, SYSTEM, accepts for it); the delivery
# manager or admin holds or cancels any open engagement, as does a cancelled order (SYSTEM).
ENGAGEMENT_LIFE = StateMachine(
    "engagement",
    EngagementState,
    initial=frozenset({_E.REQUESTED}),
    moves={
        (_E.REQUESTED, _E.SCHEDULED): frozenset({Role.DELIVERY_MANAGER}),
        (_E.SCHEDULED, _E.IN_PROGRESS): _WORKERS,
        (_E.IN_PROGRESS, _E.DELIVERED): _WORKERS,
        (_E.DELIVERED, _E.ACCEPTED): _CUSTOMER | {SYSTEM},
        (_E.DELIVERED, _E.IN_PROGRESS): _CUSTOMER,
        (_E.ON_HOLD, _E.SCHEDULED): frozenset({Role.DELIVERY_MANAGER}),
        (_E.ON_HOLD, _E.IN_PROGRESS): frozenset({Role.DELIVERY_MANAGER}),
        **{(state, _E.ON_HOLD): _STOPPERS - {SYSTEM} for state in _OPEN[:-1]},
        **{(state, _E.CANCELLED): _STOPPERS for state in _OPEN},
    },
    stamps={_E.REQUESTED: "requested_at", _E.CANCELLED: "cancelled_at"},
)


class Engagement(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One unit of an order line, delivered against the KPI dates of the version bought."""

    __tablename__ = "engagement"
    __table_args__ = (
        sa.UniqueConstraint("order_line_id", "unit"),
        sa.UniqueConstraint("vendor_id", "number"),
    )

    # Counts per vendor (core.sequences): E-000001, E-000002...
    number: Mapped[int]

    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), index=True)
    unit: Mapped[int] = mapped_column(default=1)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    servlet_version_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet_version.id"))
    state: Mapped[EngagementState] = mapped_column(
        enum_column(EngagementState, 16), default=EngagementState.REQUESTED, index=True
    )
    requested_at: Mapped[datetime]
    start_by: Mapped[date]
    deliver_by: Mapped[date]
    cancelled_at: Mapped[datetime | None]

    order_line: Mapped[OrderLine] = relationship()
    customer: Mapped[Organization] = relationship(foreign_keys=[customer_id])
    servlet_version: Mapped[ServletVersion] = relationship()

    @property
    def reference(self) -> str:
        return f"E-{self.number:06d}"

    @classmethod
    def reach(cls, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
        """Delivery staff see the tenant's engagements; a customer's people their own."""
        if actor is not None and actor.role in ENGAGEMENT_VIEWERS:
            return stmt
        if actor is not None and actor.role in CUSTOMER_ROLES:
            return stmt.where(cls.customer_id == actor.organization_id)
        return stmt.where(sa.false())
