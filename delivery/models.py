"""Engagements and what delivers them: tasks, resources and their assignments, time, updates,
deliverable files, change orders, the vendor's holidays and SLA breaches already told."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Membership, Organization
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
from core.money import Money
from core.permissions import CUSTOMER_ROLES, Actor, Role
from core.states import SYSTEM, StateMachine
from ordering.models import OrderLine

# Vendor roles that see every engagement of their tenant. Consultants, partner managers and
# partner consultants see the engagements they are assigned to (``Engagement.reach``).
ENGAGEMENT_VIEWERS = (Role.ADMIN, Role.CSM, Role.DELIVERY_MANAGER, Role.FINANCE)
ASSIGNEES = (Role.CONSULTANT, Role.PARTNER_MANAGER, Role.PARTNER_CONSULTANT)


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
# Not yet started / not yet delivered: past start_by or deliver_by in these, an engagement is
# late (home panels, the list's filter, the SLA watch).
YET_TO_START = (_E.REQUESTED, _E.SCHEDULED)
YET_TO_DELIVER = (_E.REQUESTED, _E.SCHEDULED, _E.IN_PROGRESS, _E.ON_HOLD)
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
    stamps={
        _E.REQUESTED: "requested_at",
        _E.SCHEDULED: "scheduled_at",
        _E.IN_PROGRESS: "started_at",
        _E.DELIVERED: "delivered_at",
        _E.ACCEPTED: "accepted_at",
        _E.CANCELLED: "cancelled_at",
    },
)


class Engagement(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One unit of an order line, delivered against the KPI dates of the version bought."""

    __tablename__ = "engagement"
    __table_args__ = (
        sa.UniqueConstraint("order_line_id", "unit"),
        sa.UniqueConstraint("vendor_id", "number"),
        # The dashboard's read of a period: every column it aggregates, so it never opens
        # the (wide) rows themselves (delivery.kpis).
        sa.Index(
            "ix_engagement_delivered",
            "vendor_id",
            "delivered_at",
            "state",
            "started_at",
            "deliver_by",
            "csat",
            "customer_id",
            "servlet_version_id",
            "order_line_id",
            "change_price_minor",
            "approved_cost_minor",
            "partner_fee_minor",
        ),
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
    # The vendor's person answerable for delivery (SLA alerts go to them); a delivery
    # manager or consultant membership.
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("membership.id"), index=True)

    # Each state's time, stamped by ENGAGEMENT_LIFE: every KPI is computed from these.
    # ``started_at`` is the first start (time to start); ``delivered_at`` the latest delivery
    # (after rework, the one accepted), so cycle time and on-time count rework against us.
    requested_at: Mapped[datetime]
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    start_by: Mapped[date]
    deliver_by: Mapped[date] = mapped_column(index=True)

    delivery_note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # Health checks: the score (0-100) and findings recorded at delivery.
    health_score: Mapped[int | None]
    findings: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    # The customer's answers after acceptance: CSAT 1-5 with a comment, NPS 0-10 (optional).
    csat: Mapped[int | None]
    csat_comment: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    nps: Mapped[int | None]
    rated_at: Mapped[datetime | None]
    rated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("membership.id"))
    csat_reminded_at: Mapped[datetime | None]

    # Sums of its approved time, partner fees and approved change orders, rewritten by the
    # services that change those rows in the same transaction (delivery.kpi_facts), so the
    # KPIs read one row per engagement.
    approved_hours: Mapped[Decimal] = mapped_column(
        sa.Numeric(9, 2), default=Decimal(0), server_default="0"
    )
    approved_cost_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    partner_fee_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    change_price_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    change_hours: Mapped[Decimal] = mapped_column(
        sa.Numeric(9, 2), default=Decimal(0), server_default="0"
    )

    order_line: Mapped[OrderLine] = relationship()
    customer: Mapped[Organization] = relationship(foreign_keys=[customer_id])
    servlet_version: Mapped[ServletVersion] = relationship()
    owner: Mapped[Membership | None] = relationship(foreign_keys=[owner_id])
    tasks: Mapped[list[Task]] = relationship(back_populates="engagement", order_by="Task.position")
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="engagement", order_by="Assignment.id"
    )
    change_orders: Mapped[list[ChangeOrder]] = relationship(
        back_populates="engagement", order_by="ChangeOrder.id"
    )

    @property
    def reference(self) -> str:
        return f"E-{self.number:06d}"

    @classmethod
    def reach(cls, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
        """Delivery staff see the tenant's engagements; a customer's people their own; those
        who deliver the engagements assigned to them (a partner manager: to the partner)."""
        if actor is None:
            return stmt.where(sa.false())
        if actor.role in ENGAGEMENT_VIEWERS:
            return stmt
        if actor.role in CUSTOMER_ROLES:
            return stmt.where(cls.customer_id == actor.organization_id)
        if actor.role is Role.PARTNER_MANAGER:
            return stmt.where(cls.id.in_(Assignment.engagements_of_partner(actor)))
        if actor.role in ASSIGNEES:
            return stmt.where(cls.id.in_(Assignment.engagements_of_member(actor)))
        return stmt.where(sa.false())

    @classmethod
    def late_to_start(cls, today: date) -> sa.ColumnElement[bool]:
        return cls.state.in_(YET_TO_START) & (cls.start_by < today)

    @classmethod
    def late_to_deliver(cls, today: date) -> sa.ColumnElement[bool]:
        return cls.state.in_(YET_TO_DELIVER) & (cls.deliver_by < today)

    @property
    def estimated_hours(self) -> Decimal:
        return Decimal(self.servlet_version.effort_hours) + sum(
            (c.extra_hours for c in self.change_orders if c.state is ChangeOrderState.APPROVED),
            Decimal(0),
        )


class Holiday(IdMixin, TenantMixin, db.Model):
    """A day the vendor does not work: due dates in business days skip it."""

    __tablename__ = "holiday"
    __table_args__ = (sa.UniqueConstraint("vendor_id", "day"),)

    day: Mapped[date]
    name: Mapped[str] = mapped_column(sa.String(80))


class Task(IdMixin, TenantMixin, db.Model):
    """One deliverable to produce: from the version bought, or added by a change order."""

    __tablename__ = "task"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "position"),)

    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    change_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("change_order.id"))
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("membership.id"))

    engagement: Mapped[Engagement] = relationship(back_populates="tasks")


class Resource(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A person who delivers: a vendor consultant (costed per hour) or a partner's consultant
    (paid a fee per servlet). ``partner_id`` is the partner organisation, for a partner's."""

    __tablename__ = "resource"
    __table_args__ = (
        sa.UniqueConstraint("membership_id"),
        sa.CheckConstraint("weekly_capacity_hours BETWEEN 0 AND 80", name="capacity_range"),
        sa.CheckConstraint("cost_rate_minor >= 0", name="cost_rate_not_negative"),
        sa.CheckConstraint("fee_minor >= 0", name="fee_not_negative"),
    )

    membership_id: Mapped[int] = mapped_column(sa.ForeignKey("membership.id"))
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    skills: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    weekly_capacity_hours: Mapped[int] = mapped_column(default=40)
    cost_rate_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    fee_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # sha256 of the secret in the consultant's calendar feed URL; ``None``: no feed.
    calendar_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    membership: Mapped[Membership] = relationship(foreign_keys=[membership_id])
    partner: Mapped[Organization | None] = relationship(foreign_keys=[partner_id])
    time_off: Mapped[list[TimeOff]] = relationship(
        back_populates="resource", order_by="TimeOff.starts_on"
    )


class TimeOff(IdMixin, TenantMixin, db.Model):
    """Days a resource is away (inclusive): no capacity then."""

    __tablename__ = "time_off"
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="time_off_order"),)

    resource_id: Mapped[int] = mapped_column(sa.ForeignKey("resource.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    note: Mapped[str] = mapped_column(sa.String(200), default="")

    resource: Mapped[Resource] = relationship(back_populates="time_off")


class Assignment(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A resource, or a partner organisation whose manager then names one of its consultants,
    put on an engagement for a window with planned hours.

    ``partner_fee_minor`` is the partner's fee for this engagement, fixed when the partner's
    consultant is named (from their resource); it is what margin and payouts count.
    """

    __tablename__ = "assignment"
    __table_args__ = (
        # An engagement's assignments under a tenant's scope (with the vendor and the
        # engagement both compared, SQLite would otherwise read the vendor's index), and the
        # dashboard's consultant and partner groups, from the index alone.
        sa.Index(
            "ix_assignment_vendor_engagement",
            "vendor_id",
            "engagement_id",
            "resource_id",
            "partner_id",
            "partner_fee_minor",
        ),
        sa.CheckConstraint(
            "resource_id IS NOT NULL OR partner_id IS NOT NULL", name="assigned_to_someone"
        ),
        sa.CheckConstraint("ends_on >= starts_on", name="assignment_window_order"),
        sa.CheckConstraint("planned_hours > 0", name="planned_hours_positive"),
    )

    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    resource_id: Mapped[int | None] = mapped_column(sa.ForeignKey("resource.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    planned_hours: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    partner_fee_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    assigned_by_id: Mapped[int] = mapped_column(sa.ForeignKey("membership.id"))

    engagement: Mapped[Engagement] = relationship(back_populates="assignments")
    resource: Mapped[Resource | None] = relationship()
    partner: Mapped[Organization | None] = relationship(foreign_keys=[partner_id])

    @classmethod
    def engagements_of_member(cls, actor: Actor) -> sa.Select[Any]:
        """Ids of the engagements ``actor`` is assigned to as a resource."""
        return (
            sa.select(cls.engagement_id)
            .join(Resource, Resource.id == cls.resource_id)
            .where(Resource.membership_id == actor.id)
        )

    @classmethod
    def engagements_of_partner(cls, actor: Actor) -> sa.Select[Any]:
        """Ids of the engagements allocated to ``actor``'s partner organisation."""
        return sa.select(cls.engagement_id).where(cls.partner_id == actor.organization_id)


class TimeEntryState(LabelledEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class TimeEntry(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """Hours on a day against an engagement. Approved time is costed at the resource's rate
    then (``cost_minor``, fixed at approval) and counts for effort, utilisation and margin."""

    __tablename__ = "time_entry"
    __table_args__ = (
        sa.CheckConstraint("hours > 0 AND hours <= 24", name="hours_in_a_day"),
        sa.Index("ix_time_entry_resource_day", "resource_id", "day"),
        # Utilisation: approved hours of a period per resource, read from the index alone.
        sa.Index("ix_time_entry_approved_day", "vendor_id", "state", "day", "resource_id", "hours"),
        # An engagement's approved time under a tenant's scope (delivery.kpi_facts): without
        # it SQLite prefers the index above (vendor and state) and reads every approved entry.
        sa.Index(
            "ix_time_entry_engagement_state",
            "vendor_id",
            "engagement_id",
            "state",
            "hours",
            "cost_minor",
        ),
    )

    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    resource_id: Mapped[int] = mapped_column(sa.ForeignKey("resource.id"))
    day: Mapped[date]
    hours: Mapped[Decimal] = mapped_column(sa.Numeric(4, 2))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    state: Mapped[TimeEntryState] = mapped_column(
        enum_column(TimeEntryState, 16), default=TimeEntryState.SUBMITTED, index=True
    )
    cost_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("membership.id"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str] = mapped_column(sa.String(500), default="")

    engagement: Mapped[Engagement] = relationship()
    resource: Mapped[Resource] = relationship()


class UpdateVisibility(LabelledEnum):
    CUSTOMER = "customer"
    INTERNAL = "internal"


class EngagementUpdate(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A progress note; the customer's people see only those marked for the customer."""

    __tablename__ = "engagement_update"

    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("membership.id"))
    visibility: Mapped[UpdateVisibility] = mapped_column(enum_column(UpdateVisibility, 16))
    body: Mapped[str] = mapped_column(sa.Text)

    author: Mapped[Membership] = relationship()


class DeliverableFile(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A file delivered on an engagement, stored in the instance folder under ``stored_name``
    (random); ``filename`` is the uploader's name, cleaned, used only for the download."""

    __tablename__ = "deliverable_file"

    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("membership.id"))
    filename: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))

    uploaded_by: Mapped[Membership] = relationship()


class ChangeOrderState(LabelledEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class ChangeOrder(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A change of scope during delivery: more tasks, more days, a price difference.

    Approved by the customer like an order (above its approval threshold, by an approver);
    on approval ``deliver_by`` moves by ``extra_days`` business days, its tasks are added,
    and it becomes ``order_line_id``, a line of the engagement's order for billing. A price
    difference is never negative: giving money back is a credit note, billing's business.
    """

    __tablename__ = "change_order"
    __table_args__ = (
        sa.Index("ix_change_order_vendor_engagement", "vendor_id", "engagement_id", "state"),
        sa.UniqueConstraint("vendor_id", "number"),
        sa.CheckConstraint("extra_days >= 0", name="extra_days_not_negative"),
        sa.CheckConstraint("extra_hours >= 0", name="extra_hours_not_negative"),
        sa.CheckConstraint("price_minor >= 0", name="change_price_not_negative"),
    )

    number: Mapped[int]
    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    # New tasks, in order: ["Integrate the second SSO provider", ...]
    tasks: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    extra_days: Mapped[int] = mapped_column(default=0)
    extra_hours: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2), default=Decimal(0))
    price_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    state: Mapped[ChangeOrderState] = mapped_column(
        enum_column(ChangeOrderState, 16), default=ChangeOrderState.PROPOSED, index=True
    )
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("membership.id"))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("membership.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    order_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("order_line.id"))

    engagement: Mapped[Engagement] = relationship(back_populates="change_orders")

    @property
    def reference(self) -> str:
        return f"CO-{self.number:06d}"

    @property
    def price(self) -> Money:
        return Money(self.price_minor, self.currency)


class SlaBreach(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A start_by or deliver_by passed, told once: the SLA watch inserts a row per breach
    (engagement, kind, due date) and alerts only when the insert is new. A moved due date is
    a new breach."""

    __tablename__ = "sla_breach"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "kind", "due_on"),)

    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # "start" or "deliver"
    due_on: Mapped[date]
