"""Usage signals: dated figures the vendor feeds in per customer (active users, licences used,
support tickets open, escalations, product NPS answers, and types of its own), so trends show.

One row per customer, signal type and day: the natural key is the row key an import or the
API upserts by, and the index that every trend query reads (a million rows stay one range
scan per customer). Signals reference the customer organisation, as delivery and billing do,
so a customer has signals before anyone fills in its account record.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import User
from core.db import IdMixin, LabelledEnum, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from success.models import _lazy_reach


class BuiltInSignal(LabelledEnum):
    """The types every vendor has; health components and playbooks read them by key."""

    ACTIVE_USERS = "active_users"
    LICENCES_USED = "licences_used"
    TICKETS_OPEN = "tickets_open"
    ESCALATIONS = "escalations"
    NPS = "nps"  # product NPS answers: the day's mean answer, 0-10


class SignalType(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A kind of figure the vendor tracks; the built-in ones are made for each vendor on
    first use, and a vendor adds its own ("API calls", "Dashboards built")."""

    __tablename__ = "signal_type"
    __table_args__ = (sa.UniqueConstraint("vendor_id", "key"),)

    key: Mapped[str] = mapped_column(sa.String(40))  # lower_snake; the CSV's column value
    name: Mapped[str] = mapped_column(sa.String(80))
    built_in: Mapped[bool] = mapped_column(default=False)

    reach = _lazy_reach("account_reach")


class SignalSource(LabelledEnum):
    CSV = "csv"
    API = "api"
    SURVEY = "survey"  # NPS answers recorded by the survey


class SignalImport(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One accepted batch of signals (a CSV upload, an API call): who sent how many rows."""

    __tablename__ = "signal_import"

    source: Mapped[SignalSource] = mapped_column(enum_column(SignalSource, 8))
    filename: Mapped[str] = mapped_column(sa.String(200), default="")
    rows: Mapped[int] = mapped_column(default=0)
    new_rows: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_rows: Mapped[int] = mapped_column(default=0, server_default="0")  # values replaced
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    imported_by: Mapped[User | None] = relationship(foreign_keys=[imported_by_id])

    reach = _lazy_reach("account_reach")


class UsageSignal(IdMixin, TenantMixin, db.Model):
    """One figure of one customer on one day."""

    __tablename__ = "usage_signal"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "signal_type_id", "day", name="uq_usage_signal_key"),
        sa.CheckConstraint("value >= 0", name="value_not_negative"),
    )

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    signal_type_id: Mapped[int] = mapped_column(sa.ForeignKey("signal_type.id"))
    day: Mapped[date]
    value: Mapped[float] = mapped_column(sa.Float)
    import_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signal_import.id"))

    reach = _lazy_reach("account_reach")
