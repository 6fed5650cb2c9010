"""What the vendor bills and collects: charges, invoices and their lines, credit notes,
payments and refunds, customer credit, dunning reminders, partner payouts; and the legal
details printed on them.

Amounts are integers in minor units with their currency (``core.money``). An issued invoice
or credit note is frozen: its lines, totals and the legal details of both parties are copied
onto it at issue, so a later change of address, price or tax rate never rewrites it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Organization
from core.db import IdMixin, LabelledEnum, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from core.money import Money
from core.permissions import Role
from core.states import SYSTEM, StateMachine

# Vendor roles that work with money; the customer's own people see their organisation's.
BILLING_STAFF = (Role.FINANCE, Role.ADMIN)


def _lazy_reach(name: str) -> Any:
    """``reach`` of a model, defined in ``billing.policies`` (which imports this module, so
    the policy is looked up when called)."""

    def reach(cls: Any, stmt: sa.Select[Any], actor: Any) -> sa.Select[Any]:
        from billing import policies

        return getattr(policies, name)(cls, stmt, actor)

    return classmethod(reach)


class BillingProfile(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """An organisation's legal and billing details: the vendor's as the seller (and its bank
    details), a customer's as the buyer (its billing contacts, and a tax rate that overrides
    the vendor's default, e.g. 0 % under reverse charge). One row per organisation, made when
    first edited; an organisation without one bills under its plain name."""

    __tablename__ = "billing_profile"
    __table_args__ = (sa.UniqueConstraint("organization_id"),)

    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    legal_name: Mapped[str] = mapped_column(sa.String(200), default="")
    address: Mapped[str] = mapped_column(sa.String(1000), default="")
    tax_id: Mapped[str] = mapped_column(sa.String(64), default="")
    # Customer: comma-separated addresses that receive invoices and reminders.
    billing_emails: Mapped[str] = mapped_column(sa.String(1000), default="")
    # Customer: overrides the vendor's tax rate when set; ``tax_note`` is printed with it.
    tax_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    tax_note: Mapped[str] = mapped_column(sa.String(200), default="")
    # Vendor: how to pay by bank transfer, printed on every invoice.
    bank_details: Mapped[str] = mapped_column(sa.String(1000), default="")
    # Vendor: days a draft made by a billing policy waits for finance before it is issued.
    review_days: Mapped[int] = mapped_column(default=2)

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])

    @property
    def emails(self) -> list[str]:
        return [part.strip() for part in self.billing_emails.split(",") if part.strip()]


class Charge(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One billable net amount a billing policy made due: one unit of an order line (or half
    of one, under 50/50 milestones) or an approved change order. ``key`` names the event that
    made it due ("line:12:unit:1:start"), unique per vendor, so a signal or job that runs
    twice bills once. ``invoice_line_id`` is set while the charge sits on an invoice (draft
    or issued); a charge with none is an uninvoiced item finance can draft an invoice from."""

    __tablename__ = "charge"
    __table_args__ = (
        sa.UniqueConstraint("vendor_id", "key"),
        sa.CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        sa.Index("ix_charge_uninvoiced", "vendor_id", "customer_id", "invoice_line_id"),
    )

    key: Mapped[str] = mapped_column(sa.String(80))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("order.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), index=True)
    engagement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("engagement.id"), index=True)
    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"), index=True)
    description: Mapped[str] = mapped_column(sa.String(300))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # net
    currency: Mapped[str] = mapped_column(sa.String(3))
    invoice_line_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invoice_line.id", ondelete="SET NULL"), index=True
    )

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class InvoiceState(LabelledEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


_I = InvoiceState
_MONEY = frozenset({*BILLING_STAFF, SYSTEM})

# Payments and credit notes move an issued invoice between issued, partially paid and paid
# (a refund can move it back); an issued invoice fully credited with nothing paid is void.
# A discarded draft is void too, without a number.
INVOICE_LIFE = StateMachine(
    "invoice",
    InvoiceState,
    initial=frozenset({_I.DRAFT}),
    moves={
        (_I.DRAFT, _I.ISSUED): _MONEY,
        # The system discards the drafts of a cancelled order (billing.credit_notes).
        (_I.DRAFT, _I.VOID): _MONEY,
        (_I.ISSUED, _I.PARTIALLY_PAID): _MONEY,
        (_I.ISSUED, _I.PAID): _MONEY,
        (_I.ISSUED, _I.VOID): _MONEY,
        (_I.PARTIALLY_PAID, _I.PAID): _MONEY,
        (_I.PARTIALLY_PAID, _I.ISSUED): _MONEY,
        (_I.PAID, _I.PARTIALLY_PAID): _MONEY,
        (_I.PAID, _I.ISSUED): _MONEY,
        # Credited in full after payment: what was paid became customer credit.
        (_I.PARTIALLY_PAID, _I.VOID): _MONEY,
        (_I.PAID, _I.VOID): _MONEY,
    },
    stamps={_I.ISSUED: "issued_at", _I.PAID: "paid_at", _I.VOID: "voided_at"},
)

OPEN_STATES = (_I.ISSUED, _I.PARTIALLY_PAID)  # issued and money still owed


class Invoice(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A bill to one customer. A draft has no number and may change; issuing freezes it,
    numbers it from the vendor's sequence of the year and copies both parties' details.

    ``paid_minor`` (payments applied less refunds) and ``credited_minor`` (credit notes) are
    kept by the services that change them, under the invoice's row lock; what is owed is
    ``total - credited - paid``.
    """

    __tablename__ = "invoice"
    __table_args__ = (
        sa.UniqueConstraint("vendor_id", "number"),
        sa.CheckConstraint("total_minor >= 0", name="total_not_negative"),
        sa.CheckConstraint(
            "credited_minor >= 0 AND credited_minor <= total_minor", name="credit_within_total"
        ),
        sa.CheckConstraint("paid_minor >= 0", name="paid_not_negative"),
        # Numbered exactly when issued: a draft has no number, nor has a draft discarded (void).
        sa.CheckConstraint("(number IS NULL) = (issued_at IS NULL)", name="numbered_once_issued"),
        sa.Index("ix_invoice_open", "vendor_id", "state", "due_on"),
    )

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("order.id"), index=True)
    state: Mapped[InvoiceState] = mapped_column(enum_column(InvoiceState, 16), index=True)
    # "ACME-2026-000042", with the year and place in the vendor's sequence kept apart too.
    number: Mapped[str | None] = mapped_column(sa.String(40))
    sequence_year: Mapped[int | None]
    sequence_number: Mapped[int | None]
    currency: Mapped[str] = mapped_column(sa.String(3))
    po_number: Mapped[str] = mapped_column(sa.String(64), default="")
    terms_days: Mapped[int] = mapped_column(default=30)
    issued_on: Mapped[date | None]
    due_on: Mapped[date | None]
    notes: Mapped[str] = mapped_column(sa.String(1000), default="")
    # Why the invoice exists when a billing policy made it ("On acceptance of E-000012").
    origin: Mapped[str] = mapped_column(sa.String(200), default="")

    subtotal_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    paid_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    credited_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    # Frozen at issue: {"name", "legal_name", "address", "tax_id", ...} of seller and buyer,
    # and the payment instructions as printed.
    seller: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    buyer: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    payment_instructions: Mapped[str] = mapped_column(sa.String(1000), default="")

    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    issued_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]

    customer: Mapped[Organization] = relationship(foreign_keys=[customer_id])
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )

    reach = _lazy_reach("invoice_reach")

    @property
    def reference(self) -> str:
        return self.number or f"Draft {self.id}"

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)

    @property
    def subtotal(self) -> Money:
        return Money(self.subtotal_minor, self.currency)

    @property
    def tax(self) -> Money:
        return Money(self.tax_minor, self.currency)

    @property
    def paid(self) -> Money:
        return Money(self.paid_minor, self.currency)

    @property
    def credited(self) -> Money:
        return Money(self.credited_minor, self.currency)

    @property
    def balance(self) -> Money:
        """What is still owed (negative never: an overpayment is kept as customer credit)."""
        return Money(self.total_minor - self.credited_minor - self.paid_minor, self.currency)

    @property
    def is_draft(self) -> bool:
        return self.state is InvoiceState.DRAFT

    def overdue_on(self, day: date) -> bool:
        return self.state in OPEN_STATES and self.due_on is not None and self.due_on < day

    def days_overdue(self, day: date) -> int:
        return (day - self.due_on).days if self.overdue_on(day) else 0


class TaxedLineMixin:
    """What an invoice line and a credit note line both print: a net amount and its tax at
    the line's rate."""

    description: Mapped[str] = mapped_column(sa.String(300))
    net_minor: Mapped[int] = mapped_column(sa.BigInteger)
    tax_rate: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))
    tax_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))

    @property
    def net(self) -> Money:
        return Money(self.net_minor, self.currency)

    @property
    def tax(self) -> Money:
        return Money(self.tax_minor, self.currency)

    @property
    def gross(self) -> Money:
        return Money(self.net_minor + self.tax_minor, self.currency)


class InvoiceLine(TaxedLineMixin, IdMixin, TenantMixin, db.Model):
    """A line: quantity times unit price, its tax at ``tax_rate`` rounded half-up on the line."""

    __tablename__ = "invoice_line"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("tax_rate >= 0 AND tax_rate <= 100", name="tax_rate_range"),
    )

    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    position: Mapped[int] = mapped_column(default=1)
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    servlet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("servlet.id"))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    @property
    def unit_price(self) -> Money:
        return Money(self.unit_price_minor, self.currency)


class InvoiceDocument(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """The PDF of an issued invoice or credit note, rendered once after issue and then always
    served as stored. Kept in the database, as the order form is: web processes are
    stateless and a legal document must never change after the fact."""

    __tablename__ = "invoice_document"
    __table_args__ = (sa.UniqueConstraint("kind", "object_id"),)

    kind: Mapped[str] = mapped_column(sa.String(20))  # "invoice", "credit_note", "payout"
    object_id: Mapped[int]
    filename: Mapped[str] = mapped_column(sa.String(120))
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)


class CreditNote(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A correction of an issued invoice, numbered from its own sequence ("ACME-CN-2026-000003")
    and frozen like the invoice. Its lines credit parts of the invoice's lines."""

    __tablename__ = "credit_note"
    __table_args__ = (
        sa.UniqueConstraint("vendor_id", "number"),
        sa.CheckConstraint("total_minor > 0", name="total_positive"),
    )

    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(40))
    sequence_year: Mapped[int]
    sequence_number: Mapped[int]
    issued_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.String(1000))
    currency: Mapped[str] = mapped_column(sa.String(3))
    subtotal_minor: Mapped[int] = mapped_column(sa.BigInteger)
    tax_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    invoice: Mapped[Invoice] = relationship()
    lines: Mapped[list[CreditNoteLine]] = relationship(
        back_populates="credit_note", order_by="CreditNoteLine.id", cascade="all, delete-orphan"
    )

    reach = _lazy_reach("customer_document_reach")

    @property
    def reference(self) -> str:
        return self.number

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)

    @property
    def subtotal(self) -> Money:
        return Money(self.subtotal_minor, self.currency)

    @property
    def tax(self) -> Money:
        return Money(self.tax_minor, self.currency)


class CreditNoteLine(TaxedLineMixin, IdMixin, TenantMixin, db.Model):
    __tablename__ = "credit_note_line"
    __table_args__ = (sa.CheckConstraint("net_minor > 0", name="net_positive"),)

    credit_note_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_note.id"), index=True)
    invoice_line_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice_line.id"), index=True)

    credit_note: Mapped[CreditNote] = relationship(back_populates="lines")


class PaymentMethod(LabelledEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    CREDIT = "credit"  # the customer's credit from an earlier overpayment


class Payment(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """Money received against an invoice, whatever the route (as pretix keeps it: payments and
    refunds are rows of their own, never an edited amount).

    ``amount_minor`` is what arrived; ``applied_minor`` the part that paid the invoice; the
    rest became customer credit (``CreditEntry``). A card payment names its Stripe source
    (the order's ``CardPayment`` or the invoice's Checkout Session), unique, so the same
    Stripe payment is recorded once however often its event arrives.
    """

    __tablename__ = "payment"
    __table_args__ = (
        sa.UniqueConstraint("card_payment_id"),
        sa.UniqueConstraint("checkout_session_id"),
        sa.UniqueConstraint("vendor_id", "idempotency_key"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint(
            "applied_minor >= 0 AND applied_minor <= amount_minor", name="applied_within_amount"
        ),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_within_amount"
        ),
    )

    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod, 16))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    applied_minor: Mapped[int] = mapped_column(sa.BigInteger)
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    received_on: Mapped[date]
    reference: Mapped[str] = mapped_column(sa.String(200), default="")
    card_payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("card_payment.id"))
    checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255))
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # The one-time key of the form (or API request) that recorded it: a double submit
    # records one payment.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(64))

    invoice: Mapped[Invoice] = relationship()

    reach = _lazy_reach("customer_document_reach")

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def applied(self) -> Money:
        return Money(self.applied_minor, self.currency)

    @property
    def refundable(self) -> Money:
        return Money(self.amount_minor - self.refunded_minor, self.currency)


class Refund(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """Money given back from a payment. ``from_invoice_minor`` is the part that un-pays the
    invoice; the rest came out of the customer's credit."""

    __tablename__ = "refund"
    __table_args__ = (
        sa.UniqueConstraint("stripe_refund_key"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    from_invoice_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    refunded_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    # For a refund Stripe reported: "card-payment:<id>:<refunded so far>", once each.
    stripe_refund_key: Mapped[str | None] = mapped_column(sa.String(120))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    payment: Mapped[Payment] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def from_invoice(self) -> Money:
        return Money(self.from_invoice_minor, self.currency)


class InvoiceCheckout(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A Stripe Checkout Session opened for a customer to pay an invoice by card: what was
    asked (the balance at that moment), the session and until when it can be paid.

    ``attempt`` numbers an invoice's sessions and is part of the idempotency key, so a second
    click reuses a session rather than opening another. The payment itself is a ``Payment``
    naming the session (unique); ``problem`` is set when Stripe reports a paid amount or
    currency other than what was asked, which then pays nothing and waits for finance.
    """

    __tablename__ = "invoice_checkout"
    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "attempt"),
        sa.UniqueConstraint("checkout_session_id"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    attempt: Mapped[int]
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    checkout_session_id: Mapped[str] = mapped_column(sa.String(255))
    checkout_url: Mapped[str] = mapped_column(sa.String(2000), default="")
    expires_at: Mapped[datetime | None]
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    problem: Mapped[str] = mapped_column(sa.String(300), default="")

    reach = _lazy_reach("customer_document_reach")

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class CreditEntry(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """The customer's credit ledger: plus an overpayment kept, minus credit spent on an invoice or
    refunded. The balance is the sum, per currency, and the database never lets it spend more
    than there is (services check under the customer's lock)."""

    __tablename__ = "credit_entry"
    __table_args__ = (sa.CheckConstraint("amount_minor <> 0", name="amount_not_zero"),)

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refund.id"))
    note: Mapped[str] = mapped_column(sa.String(300), default="")


class DunningReminder(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One overdue reminder of an invoice at one step (1, 7 or 14 days overdue), sent once:
    the unique pair is the claim."""

    __tablename__ = "dunning_reminder"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "days_overdue"),)

    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    days_overdue: Mapped[int]
    balance_minor: Mapped[int] = mapped_column(sa.BigInteger)
    recipients: Mapped[str] = mapped_column(sa.String(1000), default="")


class PayoutState(LabelledEnum):
    DRAFT = "draft"  # finance's working copy: lines may still be added or removed
    APPROVED = "approved"  # the statement the partner sees; its lines no longer change
    PAID = "paid"


class Payout(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """What the vendor owes one partner for one period: the accepted engagements the partner
    delivered in it, at the fee agreed on each assignment."""

    __tablename__ = "payout"
    __table_args__ = (
        sa.UniqueConstraint("vendor_id", "partner_id", "period_start"),
        sa.CheckConstraint("period_start <= period_end", name="period_ordered"),
    )

    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    state: Mapped[PayoutState] = mapped_column(enum_column(PayoutState, 16))
    currency: Mapped[str] = mapped_column(sa.String(3))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    approved_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    paid_reference: Mapped[str] = mapped_column(sa.String(200), default="")
    # The day the money left, as finance records it (``paid_at`` is when it was recorded).
    paid_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    reach = _lazy_reach("payout_reach")

    partner: Mapped[Organization] = relationship(foreign_keys=[partner_id])
    lines: Mapped[list[PayoutLine]] = relationship(
        back_populates="payout", order_by="PayoutLine.id", cascade="all, delete-orphan"
    )

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)


class PayoutLine(IdMixin, TenantMixin, db.Model):
    """One assignment paid, once: the unique assignment keeps it off every other statement."""

    __tablename__ = "payout_line"
    __table_args__ = (sa.UniqueConstraint("assignment_id"),)

    payout_id: Mapped[int] = mapped_column(sa.ForeignKey("payout.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignment.id"))
    engagement_id: Mapped[int] = mapped_column(sa.ForeignKey("engagement.id"))
    description: Mapped[str] = mapped_column(sa.String(300))
    accepted_on: Mapped[date]
    fee_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))

    payout: Mapped[Payout] = relationship(back_populates="lines")

    @property
    def fee(self) -> Money:
        return Money(self.fee_minor, self.currency)
