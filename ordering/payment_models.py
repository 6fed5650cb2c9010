"""Card payments of orders: one row per Stripe Checkout Session we opened."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import IdMixin, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from core.money import Money
from core.states import SYSTEM, StateMachine
from ordering.models import LabelledEnum, Order


class CardPaymentState(LabelledEnum):
    OPEN = "open"  # the session waits for the buyer
    PROCESSING = "processing"  # the buyer finished; a delayed method (a debit) is under way
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


_S = CardPaymentState

# Stripe is the truth and each event re-reads it, so a move that is not in the table (an
# ``expired`` arriving after the payment was seen paid) is old news and changes nothing.
# ``expired → paid`` is there because Stripe's word on payment wins over the order of arrival.
# Only Stripe's word moves a payment: every move is the system's.
CARD_PAYMENT_LIFE = StateMachine(
    "card_payment",
    CardPaymentState,
    initial=frozenset({_S.OPEN}),
    moves={
        (before, to): frozenset({SYSTEM})
        for before, to in [
            (_S.OPEN, _S.PROCESSING),
            (_S.OPEN, _S.PAID),
            (_S.OPEN, _S.FAILED),
            (_S.OPEN, _S.EXPIRED),
            (_S.PROCESSING, _S.PAID),
            (_S.PROCESSING, _S.FAILED),
            (_S.FAILED, _S.PAID),
            (_S.EXPIRED, _S.PAID),
        ]
    },
    stamps={_S.PAID: "paid_at"},
)


class CardPayment(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One attempt to pay an order by card: a Stripe Checkout Session and what became of it.

    ``attempt`` numbers an order's sessions (a new one after the last expired) and is part of
    the idempotency key, so a retried request reuses its session rather than opening another.
    Refunds are requested once per payment (``refund_requested_at``; ``refund_id`` once Stripe
    took the request) and ``refunded_minor`` follows
    Stripe's ``charge.amount_refunded``, whoever refunded (this app or the Stripe dashboard).
    """

    __tablename__ = "card_payment"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "attempt"),
        sa.UniqueConstraint("checkout_session_id"),
        sa.UniqueConstraint("payment_intent_id"),
        sa.UniqueConstraint("refund_id"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_within_amount"
        ),
    )

    order_id: Mapped[int] = mapped_column(sa.ForeignKey("order.id"), index=True)
    attempt: Mapped[int]
    state: Mapped[CardPaymentState] = mapped_column(enum_column(CardPaymentState, 16))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    checkout_session_id: Mapped[str] = mapped_column(sa.String(255))
    checkout_url: Mapped[str] = mapped_column(sa.String(2000), default="")
    expires_at: Mapped[datetime | None]
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255))
    paid_at: Mapped[datetime | None]

    refund_id: Mapped[str | None] = mapped_column(sa.String(255))
    refund_reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    refund_requested_at: Mapped[datetime | None]
    refund_requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_at: Mapped[datetime | None]
    # What finance must look at: Stripe reported this session paid, but not the amount owed.
    problem: Mapped[str] = mapped_column(sa.String(300), default="")

    order: Mapped[Order] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def refunded(self) -> Money:
        return Money(self.refunded_minor, self.currency)

    @property
    def refundable(self) -> bool:
        """Paid, and no refund asked for or made yet."""
        return (
            self.state == CardPaymentState.PAID
            and self.refund_requested_at is None
            and self.refunded_minor == 0
        )
