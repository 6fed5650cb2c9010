"""Playbooks: the vendor's rules that turn what an account shows into a suggested servlet,
and the suggestions they made, which a CSM turns into a recommendation or declines.

A playbook's condition is one of a few kinds (``PlaybookCondition``) with typed parameters
rather than an expression language: every condition is evaluated set-based for all of a
vendor's customers, and each one's form says exactly what it asks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from accounts.models import User
from catalog.models import LifecycleStage, Recommendation, Servlet, ServletKind
from core.db import IdMixin, LabelledEnum, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from success.health_models import HealthComponent
from success.models import ContactRole, _lazy_reach
from success.signal_models import SignalType


class PlaybookCondition(LabelledEnum):
    SIGNAL_DROP = "signal_drop"  # a signal fell by ``threshold`` % or more over ``window_days``
    LICENCE_CAP = "licence_cap"  # a signal (licences used) reached ``threshold`` % of bought
    COMPONENT_BELOW = "component_below"  # a health component scores under ``threshold``
    CONTACT_CHANGED = "contact_changed"  # a key contact in ``contact_role`` changed lately
    NO_SERVLET_KIND = "no_servlet_kind"  # no engagement of ``servlet_kind`` in the window
    LOW_CSAT = "low_csat"  # an engagement rated ``threshold`` or less in the window


class Playbook(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "playbook"

    name: Mapped[str] = mapped_column(sa.String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    condition: Mapped[PlaybookCondition] = mapped_column(enum_column(PlaybookCondition, 24))
    signal_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signal_type.id"))
    component: Mapped[HealthComponent | None] = mapped_column(enum_column(HealthComponent, 24))
    contact_role: Mapped[ContactRole | None] = mapped_column(enum_column(ContactRole, 24))
    servlet_kind: Mapped[ServletKind | None] = mapped_column(enum_column(ServletKind, 16))
    threshold: Mapped[float | None] = mapped_column(sa.Float)
    window_days: Mapped[int] = mapped_column(default=30)
    # Only accounts at this stage (none: every stage).
    stage: Mapped[LifecycleStage | None] = mapped_column(enum_column(LifecycleStage, 16))
    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"))
    # "{account} uses {value} of {bought} licences": placeholders filled from the data.
    reason_template: Mapped[str] = mapped_column(sa.String(1000))
    cooling_off_days: Mapped[int] = mapped_column(default=90)
    updated_at: Mapped[datetime | None]

    signal_type: Mapped[SignalType | None] = relationship()
    servlet: Mapped[Servlet] = relationship()
    # As on ``Suggestion``: the servlet's published title where a query loads it.
    servlet_title: Mapped[str | None] = query_expression()

    reach = _lazy_reach("account_reach")


class SuggestionState(LabelledEnum):
    OPEN = "open"
    RECOMMENDED = "recommended"  # turned into a recommendation
    DECLINED = "declined"  # by the CSM; the playbook is quiet for its cooling-off period
    RESOLVED = "resolved"  # the condition no longer holds


class Suggestion(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A playbook fired for a customer: the servlet to offer and why, in words and figures."""

    __tablename__ = "suggestion"
    __table_args__ = (
        # One open suggestion per playbook and customer.
        sa.Index(
            "uq_suggestion_open",
            "playbook_id",
            "customer_id",
            unique=True,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        ),
        sa.Index("ix_suggestion_customer", "customer_id", "state"),
    )

    playbook_id: Mapped[int] = mapped_column(sa.ForeignKey("playbook.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"))
    reason: Mapped[str] = mapped_column(sa.String(2000))
    facts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    state: Mapped[SuggestionState] = mapped_column(
        enum_column(SuggestionState, 12), default=SuggestionState.OPEN
    )
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decline_reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    recommendation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recommendation.id"))

    playbook: Mapped[Playbook] = relationship()
    servlet: Mapped[Servlet] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    recommendation: Mapped[Recommendation | None] = relationship()
    # The suggested servlet's published title, loaded by the queries that show it
    # (``with_expression``); no column.
    servlet_title: Mapped[str | None] = query_expression()

    reach = _lazy_reach("account_reach")
