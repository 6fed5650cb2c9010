"""Carts, orders and their lines, the stored order form, and entitlement credits."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Organization, User
from catalog.models import Servlet, ServletKind, ServletVersion
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

MAX_QUANTITY = 20

# Vendor roles that see every order of their tenant; consultants see only their assignments.
ORDER_VIEWERS = (Role.ADMIN, Role.CSM, Role.DELIVERY_MANAGER, Role.FINANCE)


def new_checkout_token() -> str:
    return secrets.token_urlsafe(24)


class OrderState(LabelledEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentRoute(LabelledEnum):
    CARD = "card"
    INVOICE = "invoice"
    ENTITLEMENT = "entitlement"

    @property
    def label(self) -> str:
        return {
            "card": "Card (Stripe Checkout)",
            "invoice": "Invoice on account",
            "entitlement": "Entitlement credits",
        }[self.value]


class ApprovalDecision(LabelledEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


def _customer_reach(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Vendor staff who work with orders see the tenant's; a customer's people see their own
    organisation's; anyone else nothing (and so a 404)."""
    if actor is not None and actor.role in ORDER_VIEWERS:
        return stmt
    if actor is not None and actor.role in CUSTOMER_ROLES:
        return stmt.where(cls.customer_id == actor.organization_id)
    return stmt.where(sa.false())


class Cart(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A person's cart in one customer organisation. The customer belongs to one vendor, so a
    cart holds one vendor's servlets by construction.

    ``checkout_token`` is the one-time key of the next order: every tab rendering this cart's
    checkout carries it, and ``Order.checkout_token`` is unique, so a double submit or two tabs
    place one order. Placing an order rotates it.
    """

    __tablename__ = "cart"
    __table_args__ = (sa.UniqueConstraint("user_id", "customer_id"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    checkout_token: Mapped[str] = mapped_column(sa.String(64), default=new_checkout_token)

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", order_by="CartLine.id", cascade="all, delete-orphan"
    )


class CartLine(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A servlet and a quantity; never a price (prices are read from the catalog each time)."""

    __tablename__ = "cart_line"
    __table_args__ = (
        sa.UniqueConstraint("cart_id", "servlet_id"),
        sa.CheckConstraint(f"quantity BETWEEN 1 AND {MAX_QUANTITY}", name="quantity_range"),
    )

    cart_id: Mapped[int] = mapped_column(sa.ForeignKey("cart.id"), index=True)
    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"), index=True)
    catalog_id: Mapped[int | None] = mapped_column(sa.ForeignKey("catalog.id"))
    recommendation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recommendation.id"))
    quantity: Mapped[int] = mapped_column(default=1)

    cart: Mapped[Cart] = relationship(back_populates="lines")
    servlet: Mapped[Servlet] = relationship()


class Order(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """What a customer bought, with the record of how it agreed to buy it."""

    __tablename__ = "order"
    __table_args__ = (
        sa.UniqueConstraint("checkout_token"),
        sa.UniqueConstraint("vendor_id", "number"),
        sa.CheckConstraint("total_minor >= 0", name="total_not_negative"),
    )

    # Counts per vendor (core.sequences): a vendor's orders read O-000001, O-000002...
    number: Mapped[int]

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    placed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    checkout_token: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[OrderState] = mapped_column(enum_column(OrderState, 24), index=True)
    payment_route: Mapped[PaymentRoute] = mapped_column(enum_column(PaymentRoute, 16))
    currency: Mapped[str] = mapped_column(sa.String(3))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    po_number: Mapped[str] = mapped_column(sa.String(64), default="")
    # Net terms of the invoice route, as they stood when the order was placed.
    payment_terms_days: Mapped[int] = mapped_column(default=30)

    terms_version: Mapped[str] = mapped_column(sa.String(20))
    terms_accepted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    terms_accepted_at: Mapped[datetime]
    terms_accepted_ip: Mapped[str | None] = mapped_column(sa.String(45))

    approval_decision: Mapped[ApprovalDecision | None] = mapped_column(
        enum_column(ApprovalDecision, 16)
    )
    approval_decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    approval_decided_at: Mapped[datetime | None]
    approval_reason: Mapped[str] = mapped_column(sa.String(1000), default="")

    confirmed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    cancel_reason: Mapped[str] = mapped_column(sa.String(1000), default="")

    customer: Mapped[Organization] = relationship(foreign_keys=[customer_id])
    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id])
    terms_accepted_by: Mapped[User] = relationship(foreign_keys=[terms_accepted_by_id])
    approval_decided_by: Mapped[User | None] = relationship(foreign_keys=[approval_decided_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    form: Mapped[OrderForm | None] = relationship(back_populates="order", uselist=False)

    reach = classmethod(_customer_reach)

    @property
    def reference(self) -> str:
        return f"O-{self.number:06d}"

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)

    @property
    def is_open(self) -> bool:
        return self.state not in (OrderState.COMPLETED, OrderState.CANCELLED)


class OrderLine(IdMixin, TenantMixin, db.Model):
    """One servlet of an order: the frozen version bought, its price then, and the answers."""

    __tablename__ = "order_line"
    __table_args__ = (
        sa.CheckConstraint(f"quantity BETWEEN 1 AND {MAX_QUANTITY}", name="quantity_range"),
        sa.CheckConstraint("unit_price_minor >= 0", name="price_not_negative"),
    )

    order_id: Mapped[int] = mapped_column(sa.ForeignKey("order.id"), index=True)
    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"), index=True)
    servlet_version_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet_version.id"))
    recommendation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recommendation.id"))
    quantity: Mapped[int]
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    # [{"label": ..., "type": ..., "answer": "text as the customer meant it"}]
    intake_answers: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # What the line is for beyond the servlet: a change order's line says which and why.
    note: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")

    order: Mapped[Order] = relationship(back_populates="lines")
    servlet_version: Mapped[ServletVersion] = relationship()
    entitlement_uses: Mapped[list[EntitlementUse]] = relationship(back_populates="order_line")

    @property
    def unit_price(self) -> Money:
        return Money(self.unit_price_minor, self.currency)

    @property
    def amount(self) -> Money:
        return self.unit_price * self.quantity


class OrderForm(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """The order form PDF rendered at confirmation.

    Kept in the database rather than the instance folder: web processes are stateless and
    several hosts may serve one database, and the form must never change after the fact.
    """

    __tablename__ = "order_form"
    __table_args__ = (sa.UniqueConstraint("order_id"),)

    order_id: Mapped[int] = mapped_column(sa.ForeignKey("order.id"))
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)

    order: Mapped[Order] = relationship(back_populates="form")


class Entitlement(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """Credits a customer's subscription includes, spent at checkout instead of money: one
    credit buys one unit of the servlet (or of any servlet of the kind) it names.

    ``used`` moves only under a row lock and the database refuses it past ``quantity``; the
    history of spends and returns is in ``EntitlementUse``.
    """

    __tablename__ = "entitlement"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("used >= 0 AND used <= quantity", name="used_within_quantity"),
        sa.CheckConstraint("(servlet_id IS NULL) <> (kind IS NULL)", name="servlet_or_kind"),
        sa.CheckConstraint("valid_from <= valid_until", name="window_ordered"),
    )

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    servlet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("servlet.id"))
    kind: Mapped[ServletKind | None] = mapped_column(enum_column(ServletKind, 24))
    quantity: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[date]
    valid_until: Mapped[date]
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    granted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))

    customer: Mapped[Organization] = relationship(foreign_keys=[customer_id])
    servlet: Mapped[Servlet | None] = relationship()
    uses: Mapped[list[EntitlementUse]] = relationship(
        back_populates="entitlement", order_by="EntitlementUse.id"
    )

    reach = classmethod(_customer_reach)

    @property
    def remaining(self) -> int:
        return self.quantity - self.used

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until


class EntitlementUse(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """Credits one order line spent; ``returned_at`` is set when its order is cancelled."""

    __tablename__ = "entitlement_use"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)

    entitlement_id: Mapped[int] = mapped_column(sa.ForeignKey("entitlement.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), index=True)
    quantity: Mapped[int]
    returned_at: Mapped[datetime | None]

    entitlement: Mapped[Entitlement] = relationship(back_populates="uses")
    order_line: Mapped[OrderLine] = relationship(back_populates="entitlement_uses")
