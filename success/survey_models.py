"""NPS surveys and the follow-ups they (and low CSAT) open for the owning CSM.

An invitation is the claim: one row per customer, contact e-mail and period, so the survey
job asks each contact once per period however often it runs. The contact answers through
the invitation's token, without an account here.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Membership, User
from core.db import IdMixin, LabelledEnum, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from success.models import _lazy_reach


class NpsInvite(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "nps_invite"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "email", "period"),
        sa.CheckConstraint("score IS NULL OR (score >= 0 AND score <= 10)", name="score_0_10"),
    )

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("key_contact.id"))
    name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str] = mapped_column(sa.String(254))
    period: Mapped[str] = mapped_column(sa.String(7))  # "2026-H2"
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    answered_at: Mapped[datetime | None]
    score: Mapped[int | None]
    comment: Mapped[str] = mapped_column(sa.Text, default="")

    reach = _lazy_reach("account_reach")


class FollowUpKind(LabelledEnum):
    DETRACTOR = "detractor"  # NPS 0-6: call them
    PASSIVE = "passive"  # NPS 7-8: a lighter touch
    LOW_CSAT = "low_csat"  # an engagement rated 1 or 2


class FollowUpTask(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """Work for the owning CSM; ``source`` ("nps:12", "csat:E-000031") makes it once."""

    __tablename__ = "follow_up_task"
    __table_args__ = (sa.UniqueConstraint("vendor_id", "source"),)

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("membership.id"), index=True)
    kind: Mapped[FollowUpKind] = mapped_column(enum_column(FollowUpKind, 12))
    source: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    due_on: Mapped[date]
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    outcome: Mapped[str] = mapped_column(sa.String(1000), default="")

    assignee: Mapped[Membership | None] = relationship(foreign_keys=[assignee_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])

    reach = _lazy_reach("account_reach")
