"""Success plans: per customer and quarter, the customer's goals, each with a measure, a
baseline, a target and where it stands, linked to the servlets that serve it. The CSM keeps
them; the customer's people read them."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import Servlet
from core.db import IdMixin, TenantMixin, TimestampMixin, relationship
from core.extensions import db
from success.models import _lazy_reach

goal_servlet = sa.Table(
    "success_goal_servlet",
    db.metadata,
    sa.Column("goal_id", sa.ForeignKey("success_goal.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("servlet_id", sa.ForeignKey("servlet.id"), primary_key=True),
)


class SuccessPlan(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "success_plan"
    __table_args__ = (sa.UniqueConstraint("customer_id", "quarter_start"),)

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    quarter_start: Mapped[date]  # the first day of the quarter
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime | None]

    goals: Mapped[list[SuccessGoal]] = relationship(
        back_populates="plan", order_by="SuccessGoal.position"
    )

    reach = _lazy_reach("customer_readable_reach")


class SuccessGoal(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "success_goal"

    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("success_plan.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(sa.String(200))
    measure: Mapped[str] = mapped_column(sa.String(200))  # "Weekly active users"
    unit: Mapped[str] = mapped_column(sa.String(20), default="")
    baseline: Mapped[float] = mapped_column(sa.Float, default=0)
    target: Mapped[float] = mapped_column(sa.Float)
    current: Mapped[float] = mapped_column(sa.Float, default=0)
    updated_at: Mapped[datetime | None]

    plan: Mapped[SuccessPlan] = relationship(back_populates="goals")
    servlets: Mapped[list[Servlet]] = relationship(secondary=goal_servlet)
    # No reach of its own: a goal is always reached through its plan.
