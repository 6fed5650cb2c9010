"""Account health: the vendor's weights per segment, each customer's current score with the
components behind it, and the history of its changes with their explanations.

The score is computed set-based for all of a vendor's customers at once (``success.health``);
history gets a row only on a day the score changed, so a year of nightly runs over ten
thousand accounts stays small while the chart still shows every move.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import IdMixin, LabelledEnum, TenantMixin, TimestampMixin, enum_column
from core.extensions import db
from success.models import _lazy_reach


class HealthComponent(LabelledEnum):
    """What a score is made of; each scores 0-100 on its own (``success.health``)."""

    HEALTH_CHECK = "health_check"  # latest health-check engagement's result
    CSAT = "csat"
    NPS = "nps"
    USAGE_TREND = "usage_trend"  # active users now against 30 days before
    LICENCE_UTILISATION = "licence_utilisation"  # licences used of bought, and its trend
    SUPPORT_LOAD = "support_load"  # tickets open and escalations
    LATE_ENGAGEMENTS = "late_engagements"
    OVERDUE_INVOICES = "overdue_invoices"
    ENTITLEMENTS = "entitlements"  # unused or expiring
    RECENCY = "recency"  # time since the last engagement
    CONTACT_CHANGE = "contact_change"  # a key contact changed lately


class Band(LabelledEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


class HealthModel(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """The vendor's weights (whole numbers adding up to 100) and band limits for one segment;
    the row with the empty segment applies to every segment without its own."""

    __tablename__ = "health_model"
    __table_args__ = (
        sa.UniqueConstraint("vendor_id", "segment"),
        sa.CheckConstraint("red_below < green_from", name="bands_ordered"),
    )

    segment: Mapped[str] = mapped_column(sa.String(60), default="")
    weights: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)  # component → weight
    red_below: Mapped[int] = mapped_column(default=40)
    green_from: Mapped[int] = mapped_column(default=70)
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    reach = _lazy_reach("account_reach")


class AccountHealth(IdMixin, TenantMixin, db.Model):
    """A customer's current score. ``components`` maps each component that had data to
    ``{"score": 0-100, "weight": int, "fact": "licences used 52 % of 400"}``."""

    __tablename__ = "account_health"
    __table_args__ = (
        sa.UniqueConstraint("customer_id"),
        sa.Index("ix_account_health_score", "vendor_id", "score"),
    )

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    score: Mapped[int]
    band: Mapped[Band] = mapped_column(enum_column(Band, 8))
    components: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    computed_at: Mapped[datetime]
    changed_at: Mapped[datetime]

    reach = _lazy_reach("account_reach")


class HealthHistory(IdMixin, TenantMixin, db.Model):
    """The score on a day it changed, with what moved it: ``changes`` is a list of
    ``{"component", "points", "text"}`` ("-12: licence utilisation fell from 81 % to 52 %
    in 30 days"), largest move first."""

    __tablename__ = "health_history"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "day"),
        # A run finds the day's rows of the vendor (a second change the same day) by this.
        sa.Index("ix_health_history_day", "vendor_id", "day"),
    )

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    day: Mapped[date]
    score: Mapped[int]
    band: Mapped[Band] = mapped_column(enum_column(Band, 8))
    components: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)

    reach = _lazy_reach("account_reach")
