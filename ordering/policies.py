"""Who may do what to an order: one answer for services (before they act), pages (before they
offer an action) and, later, the API.

``ORDER_LIFE`` is the order's state table with the movers of each move. The ``*_for``
functions answer for a person and an order whatever its state (services check the state
themselves, under the order's lock, so a lost race reads "no longer awaiting approval"
rather than "not allowed"); the ``may_*`` functions add the state, for pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from core import stripe_gateway
from core.permissions import Actor, Role
from core.states import SYSTEM, StateMachine
from ordering.models import ORDER_VIEWERS, Order, OrderState, PaymentRoute
from ordering.payment_models import CardPayment

State = OrderState
CUSTOMER_CANCELLERS = (Role.BUYER, Role.APPROVER)
VENDOR_CANCELLERS = (Role.ADMIN, Role.FINANCE)
CARD_PAYERS = (Role.BUYER, Role.APPROVER)
REFUNDERS = (Role.ADMIN, Role.FINANCE)
_CANCELLERS = frozenset({*CUSTOMER_CANCELLERS, *VENDOR_CANCELLERS, SYSTEM})

# An approver decides an order that waits for approval (on to card payment, or confirmed at
# once); only Stripe's word (SYSTEM) confirms a card payment; only delivery (SYSTEM) completes
# an order. Whether a customer may still cancel once delivery started is ``cancel_order``'s.
ORDER_LIFE = StateMachine(
    "order",
    OrderState,
    initial=frozenset({State.AWAITING_APPROVAL, State.AWAITING_PAYMENT, State.CONFIRMED}),
    moves={
        (State.AWAITING_APPROVAL, State.AWAITING_PAYMENT): frozenset({Role.APPROVER}),
        (State.AWAITING_APPROVAL, State.CONFIRMED): frozenset({Role.APPROVER}),
        (State.AWAITING_APPROVAL, State.CANCELLED): _CANCELLERS,
        (State.AWAITING_PAYMENT, State.CONFIRMED): frozenset({SYSTEM}),
        (State.AWAITING_PAYMENT, State.CANCELLED): _CANCELLERS,
        (State.CONFIRMED, State.COMPLETED): frozenset({SYSTEM}),
        (State.CONFIRMED, State.CANCELLED): _CANCELLERS,
    },
    stamps={
        State.CONFIRMED: "confirmed_at",
        State.COMPLETED: "completed_at",
        State.CANCELLED: "cancelled_at",
    },
)


def _own(actor: Actor, order: Order) -> bool:
    return order.customer_id == actor.organization_id


def sees_vendor_side(actor: Actor) -> bool:
    """Vendor staff see an order's customer, the IP its terms were accepted from, and so on."""
    return actor.role in ORDER_VIEWERS


def decides_for(actor: Actor, order: Order) -> bool:
    """An approver of the order's own customer."""
    return actor.role == Role.APPROVER and _own(actor, order)


def may_decide(actor: Actor, order: Order) -> bool:
    return decides_for(actor, order) and order.state == State.AWAITING_APPROVAL


def cancels_for(actor: Actor, order: Order) -> bool:
    """The customer's buyers and approvers (their own orders), the vendor's admin and finance."""
    if actor.role in CUSTOMER_CANCELLERS:
        return _own(actor, order)
    return actor.role in VENDOR_CANCELLERS


def cancels_as_vendor(actor: Actor | None) -> bool:
    """The vendor (or the system) cancels with a reason, and also once delivery started."""
    return actor is None or actor.role in VENDOR_CANCELLERS


def may_cancel(actor: Actor, order: Order) -> bool:
    return cancels_for(actor, order) and ORDER_LIFE.can(actor, order.state, State.CANCELLED)


def pays_for(actor: Actor, order: Order) -> bool:
    """A buyer or approver of the order's own customer pays it by card."""
    return actor.role in CARD_PAYERS and _own(actor, order)


def may_pay_by_card(actor: Actor, order: Order) -> bool:
    return (
        pays_for(actor, order)
        and order.payment_route == PaymentRoute.CARD
        and order.state == State.AWAITING_PAYMENT
        and stripe_gateway.configured()
    )


def refunds(actor: Actor) -> bool:
    return actor.role in REFUNDERS


def may_refund(actor: Actor, payments: Iterable[CardPayment]) -> bool:
    return refunds(actor) and any(payment.refundable for payment in payments)
