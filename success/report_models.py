"""Value reports (QBR): the PDF of one customer's period, rendered once by the scheduler
after a CSM asks for it and then served as stored, like an invoice's."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import IdMixin, TenantMixin, TimestampMixin
from core.extensions import db
from success.models import _lazy_reach


class ValueReport(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "value_report"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "period_start", "period_end"),
        sa.CheckConstraint("period_start <= period_end", name="period_ordered"),
    )

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    filename: Mapped[str] = mapped_column(sa.String(120))
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    rendered_at: Mapped[datetime | None]

    reach = _lazy_reach("customer_readable_reach")
