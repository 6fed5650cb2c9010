"""Customer accounts as the vendor's CSMs see them: the account record (segment, touch model,
life-cycle stage, renewal, ARR, licences), its key contacts by role and the CSM's notes.

The owning CSM is ``Organization.csm_id`` (accounts), not a column here: delivery already
alerts that person, and one owner has one home. A record is made when first edited; a
customer without one reads as an account with nothing filled in.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Organization, User
from catalog.models import LifecycleStage
from core.db import IdMixin, LabelledEnum, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from core.money import Money


class TouchModel(LabelledEnum):
    HIGH_TOUCH = "high_touch"
    LOW_TOUCH = "low_touch"
    TECH_TOUCH = "tech_touch"


class ContactRole(LabelledEnum):
    EXECUTIVE_SPONSOR = "executive_sponsor"
    ADMIN = "admin"
    CHAMPION = "champion"
    BILLING = "billing"


def _lazy_reach(name: str) -> Any:
    """``reach`` defined in ``success.policies`` (which imports this module)."""

    def reach(cls: Any, stmt: sa.Select[Any], actor: Any) -> sa.Select[Any]:
        from success import policies

        return getattr(policies, name)(cls, stmt, actor)

    return classmethod(reach)


class CustomerAccount(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One customer organisation's account record; one row per customer."""

    __tablename__ = "customer_account"
    __table_args__ = (
        sa.UniqueConstraint("organization_id"),
        sa.CheckConstraint("arr_minor >= 0", name="arr_not_negative"),
        sa.CheckConstraint("licences_bought >= 0", name="licences_not_negative"),
        sa.Index("ix_customer_account_renewal", "vendor_id", "renewal_date"),
    )

    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    # Free text ("Enterprise", "Mid-market"): the form suggests the segments already in use.
    segment: Mapped[str] = mapped_column(sa.String(60), default="", index=True)
    touch_model: Mapped[TouchModel] = mapped_column(
        enum_column(TouchModel, 16), default=TouchModel.LOW_TOUCH
    )
    stage: Mapped[LifecycleStage] = mapped_column(
        enum_column(LifecycleStage, 16), default=LifecycleStage.ONBOARDING, index=True
    )
    renewal_date: Mapped[date | None]
    arr_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    licences_bought: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])

    reach = _lazy_reach("account_reach")

    @property
    def arr(self) -> Money:
        return Money(self.arr_minor, self.currency)


class KeyContact(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A person of the customer in one role for a while. A change ends the current row and
    adds a new one, so who held each role, and when it changed, stays on record."""

    __tablename__ = "key_contact"
    __table_args__ = (
        # One current contact per role and account.
        sa.Index(
            "uq_key_contact_current",
            "account_id",
            "role",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
    )

    account_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_account.id"), index=True)
    role: Mapped[ContactRole] = mapped_column(enum_column(ContactRole, 24))
    name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    since: Mapped[date]
    ended_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class AccountNote(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A CSM's note on an account: plain text, shown escaped, on the account's timeline."""

    __tablename__ = "account_note"
    __table_args__ = (sa.Index("ix_account_note_account", "account_id", "created_at"),)

    account_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_account.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])


class SuccessSettings(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """The vendor's customer-success settings; a vendor without a row has the defaults."""

    __tablename__ = "success_settings"
    __table_args__ = (sa.UniqueConstraint("vendor_id"),)

    # A vendor with a large team keeps each CSM to the accounts they own (others answer 404).
    csms_see_own_accounts_only: Mapped[bool] = mapped_column(default=False)
    # Early warning: a score under this, or fallen by ``warning_drop`` points in 30 days.
    warning_below: Mapped[int] = mapped_column(default=50)
    warning_drop: Mapped[int] = mapped_column(default=15)
    updated_at: Mapped[datetime | None]

    reach = _lazy_reach("account_reach")
