"""Users, organisations (vendor, customer, partner) and the memberships that join them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import IdMixin, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from core.permissions import OrgKind, Role
from core.tenancy import register_tenant_root


def new_stamp() -> str:
    return secrets.token_hex(16)


class User(IdMixin, TimestampMixin, db.Model):
    """A person. Global (not tenant data): what they may see comes from their memberships."""

    __tablename__ = "user"

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Rotated whenever credentials change: it invalidates every outstanding token and session.
    security_stamp: Mapped[str] = mapped_column(sa.String(32), default=new_stamp)
    last_sign_in_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    # A user who has just signed in acts through no membership until the next request, where
    # ``accounts.identity.SignedInUser`` stands for them.
    membership = None
    # Set for the request that signs the user in (``accounts.views.sign_in``).
    session_key = None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.security_stamp = new_stamp()

    def check_password(self, password: str) -> bool:
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookie: the key of the server-side session that
        ``accounts.services.start_session`` opened, never the user's id."""
        if self.session_key is None:
            raise RuntimeError("sign users in through accounts.services.start_session")
        return self.session_key

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Organization(IdMixin, TimestampMixin, db.Model):
    """A vendor (the tenant), or a customer or partner that belongs to one vendor."""

    __tablename__ = "organization"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'vendor') = (vendor_id IS NULL)", name="vendor_owns_customers_and_partners"
        ),
    )

    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind, 16))
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    active: Mapped[bool] = mapped_column(default=True)

    # Vendor settings (unused on customers and partners).
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    # A delivered engagement the customer has not answered is accepted after this many days.
    auto_accept_days: Mapped[int] = mapped_column(default=10, server_default="10")
    tax_rate: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("0"))
    invoice_prefix: Mapped[str] = mapped_column(sa.String(12), default="INV")
    terms_text: Mapped[str] = mapped_column(sa.Text, default="")
    terms_version: Mapped[str] = mapped_column(sa.String(20), default="1")

    # Customer setting: orders above this amount (vendor currency, minor units) wait for one
    # of the customer's approvers; ``None`` means no approval is needed.
    approval_threshold_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Customer: the CSM who owns the account (the customer-success area manages it); SLA
    # alerts on its engagements go to them. ``use_alter``: memberships point back here.
    csm_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("membership.id", use_alter=True, ondelete="SET NULL")
    )

    # Vendor: bumped (by the catalog area) in the same transaction as any change to what the
    # vendor's customers browse. Rendered catalog pages are cached under it, and it arrives
    # with the signed-in user's memberships, so a cached page costs no query of its own.
    catalog_revision: Mapped[int] = mapped_column(default=0, server_default="0")

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", foreign_keys="Membership.organization_id"
    )

    @property
    def tenant_id(self) -> int:
        return self.vendor_id if self.vendor_id is not None else self.id


register_tenant_root(Organization)


class Membership(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A user's role in one organisation; ``vendor_id`` is the organisation's tenant."""

    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organization_id"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(
        back_populates="memberships", foreign_keys=[organization_id]
    )


class UserSession(IdMixin, TimestampMixin, db.Model):
    """One signed-in browser. The cookie carries a random key; this row holds only its hash,
    so signing out (deleting the row) ends that browser's session on the server, and a copy of
    the cookie made before is worth nothing. The user's security stamp at sign-in is kept too:
    a password change rotates the stamp and so ends every session of the user at once."""

    __tablename__ = "user_session"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    security_stamp: Mapped[str] = mapped_column(sa.String(32))
    expires_at: Mapped[datetime] = mapped_column(index=True)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
