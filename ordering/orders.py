"""The life of an order after checkout: approval, confirmation, cancellation, completion.

The states are data (``policies.ORDER_LIFE``: which moves exist and whose they are) and every
move goes through ``core.states.transition``, which checks, stamps, audits and signals.
Placing orders is in ``ordering.checkout``.

Entry points for other code (no signed-in actor needed):

- ``confirm_order(order, via=...)``: payment arrived (the card webhook) — locks the order row,
  re-checks its state and confirms once, however often it is called.
- ``cancel_order(None, order, reason)``: a system cancellation (a refund, an expired payment).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.models import Organization
from catalog.models import Recommendation
from catalog.recommendations import close_as_ordered
from core import audit, states
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor
from ordering import entitlements, notifications, policies, signals
from ordering.models import (
    ApprovalDecision,
    Order,
    OrderState,
    PaymentRoute,
)
from ordering.order_form import queue_order_form

State = OrderState

MAX_REASON = 1000


def transition(order: Order, to: OrderState, actor: Actor | None, **changes: object) -> None:
    """Move ``order`` through ``ORDER_LIFE``; a cancellation remembers who cancelled."""
    states.transition(policies.ORDER_LIFE, order, to, actor, **changes)
    if to == State.CANCELLED:
        order.cancelled_by_id = actor.user_id if actor is not None else None


def lock(order: Order) -> Order:
    """Re-read ``order`` under a row lock with its lines, so a decision is made on the state
    as it is now (a webhook and a person may act at the same moment)."""
    return db.session.scalar(
        select(Order)
        .where(Order.id == order.id)
        .options(selectinload(Order.lines))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _reason(reason: str, *, required: bool, what: str = "Reason") -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ServiceError(f"{what}: tell the customer why.")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"{what}: at most {MAX_REASON:,} characters.")
    return reason


# --- confirmation ------------------------------------------------------------------------


def on_confirmed(order: Order, via: str) -> None:
    """Everything a confirmation causes, in the caller's transaction: engagements (through
    ``signals.order_confirmed``), the order form (queued), recommendations closed as ordered,
    and the customer's email. ``order`` is already in state confirmed, lines loaded."""
    db.session.flush()
    signals.order_confirmed.send(order, via=via)
    queue_order_form(order)
    recommendation_ids = {line.recommendation_id for line in order.lines} - {None}
    if recommendation_ids:
        for recommendation in db.session.scalars(
            select(Recommendation).where(Recommendation.id.in_(recommendation_ids))
        ):
            close_as_ordered(recommendation, order.reference)
    vendor = db.session.get(Organization, order.vendor_id)
    notifications.order_confirmed(order, vendor.name)


def confirm_order(order: Order, *, via: str, actor: Actor | None = None) -> bool:
    """Confirm an order whose payment arrived. Returns ``False`` when it already was
    confirmed (a webhook delivered twice), ``True`` when this call confirmed it; raises
    ``InvalidTransition`` for an order that can no longer be confirmed (cancelled)."""
    order = lock(order)
    if order.state in (State.CONFIRMED, State.COMPLETED):
        return False
    if order.state == State.AWAITING_APPROVAL:
        raise InvalidTransition(f"Order {order.reference} still waits for approval.")
    transition(order, State.CONFIRMED, actor, via=via)
    on_confirmed(order, via)
    db.session.commit()
    return True


# --- approval ----------------------------------------------------------------------------


def _awaiting_my_approval(actor: Actor, order: Order) -> Order:
    if not policies.decides_for(actor, order):
        raise NotAllowed("You do not have permission to do that.")
    order = lock(order)
    if order.state != State.AWAITING_APPROVAL:
        raise InvalidTransition(
            f"Order {order.reference} is {order.state.label.lower()}; nothing to approve."
        )
    return order


def _record_decision(actor: Actor, order: Order, decision: ApprovalDecision, reason: str) -> None:
    order.approval_decision = decision
    order.approval_decided_by_id = actor.user_id
    order.approval_decided_at = utcnow()
    order.approval_reason = reason


def approve_order(actor: Actor, order: Order, reason: str = "") -> Order:
    """An approver of the customer lets the order go ahead: on to card payment, or confirmed
    at once for invoice and credit orders."""
    order = _awaiting_my_approval(actor, order)
    reason = _reason(reason, required=False)
    _record_decision(actor, order, ApprovalDecision.APPROVED, reason)
    audit.record("order.approved", order, changes={"reason": reason})
    if order.payment_route == PaymentRoute.CARD:
        transition(order, State.AWAITING_PAYMENT, actor)
    else:
        transition(order, State.CONFIRMED, actor, via="approval")
        on_confirmed(order, "approval")
    notifications.approval_decided(order, True, reason)
    db.session.commit()
    return order


def reject_order(actor: Actor, order: Order, reason: str) -> Order:
    """An approver turns the order down, with a reason the buyer reads; credits go back."""
    order = _awaiting_my_approval(actor, order)
    reason = _reason(reason, required=True)
    _record_decision(actor, order, ApprovalDecision.REJECTED, reason)
    order.cancel_reason = reason
    transition(order, State.CANCELLED, actor, rejected=True, reason=reason)
    entitlements.give_back(order)
    signals.order_cancelled.send(order, reason=reason)
    notifications.approval_decided(order, False, reason)
    db.session.commit()
    return order


# --- cancellation and completion ---------------------------------------------------------


def delivery_started(order: Order) -> bool:
    """Whether delivery of any unit has started (asked of the delivery area by signal)."""
    return any(answer for _, answer in signals.delivery_started.send(order))


def cancel_order(actor: Actor | None, order: Order, reason: str = "") -> Order:
    """Cancel an open order and give its credits back.

    A customer's buyer or approver may cancel until delivery starts; the vendor's admin or
    finance at any time before completion, with a reason; ``actor=None`` is the system (a
    refund or an expired card payment reported by the payment provider).
    """
    if actor is not None and not policies.cancels_for(actor, order):
        raise NotAllowed("You do not have permission to do that.")
    order = lock(order)
    if order.state == State.CANCELLED:
        return order
    by_vendor = policies.cancels_as_vendor(actor)
    reason = _reason(reason, required=actor is not None and by_vendor)
    if not by_vendor and delivery_started(order):
        raise InvalidTransition(
            "Delivery has started, so only the vendor can cancel now. Contact your CSM."
        )
    order.cancel_reason = reason
    transition(order, State.CANCELLED, actor, reason=reason)
    entitlements.give_back(order)
    signals.order_cancelled.send(order, reason=reason)
    notifications.order_cancelled(order, reason)
    db.session.commit()
    return order


def complete_order(order: Order) -> bool:
    """Every engagement of a confirmed order was accepted (called by the delivery area)."""
    order = lock(order)
    if order.state == State.COMPLETED:
        return False
    transition(order, State.COMPLETED, None)
    db.session.commit()
    return True
