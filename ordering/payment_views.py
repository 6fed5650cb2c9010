"""Card payment pages: off to Stripe Checkout, back from it, and refunds from the order page.

Coming back from Stripe confirms nothing: the order is confirmed when Stripe's webhook says
the payment went through (``ordering.payments``), so the return pages only say what happens.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue

from core.errors import ServiceError
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, Actor, current_actor, get_or_404, requires
from ordering import bp, payments, policies
from ordering.forms import PayForm, RefundForm
from ordering.models import Order, OrderState, PaymentRoute


def order_page_context(order: Order, actor: Actor) -> dict[str, Any]:
    """What the order page shows about card payment: attempts, and the pay and refund forms."""
    attempts = payments.payments_of(order) if order.payment_route == PaymentRoute.CARD else []
    return {
        "card_payments": attempts,
        "can_pay": policies.may_pay_by_card(actor, order),
        "can_refund": policies.may_refund(actor, attempts),
        "pay_form": PayForm(),
        "refund_form": RefundForm(),
    }


def _back(order: Order) -> ResponseReturnValue:
    return redirect(url_for("ordering.order_page", order_id=order.id))


def to_card_payment(order: Order) -> ResponseReturnValue:
    """Send the customer to Stripe Checkout for ``order``; on a refusal (Stripe unreachable,
    say), back to the order page, which offers to try again."""
    try:
        address = payments.start_card_payment(current_actor(), order)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _back(order)
    return redirect(address, code=303)


@bp.post("/orders/<int:order_id>/pay")
@requires(*policies.CARD_PAYERS)
def pay_by_card(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    if not PayForm().validate_on_submit():
        flash("Your form expired. Try again.", "danger")
        return _back(order)
    return to_card_payment(order)


@bp.get("/orders/<int:order_id>/payment/done")
@requires(*CUSTOMER_ROLES)
def card_payment_returned(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    if order.state == OrderState.AWAITING_PAYMENT:
        flash(
            "Thank you. Your order is confirmed as soon as Stripe reports the payment, "
            "usually within a minute; you will get an email.",
            "info",
        )
    return _back(order)


@bp.get("/orders/<int:order_id>/payment/cancelled")
@requires(*CUSTOMER_ROLES)
def card_payment_abandoned(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    if order.state == OrderState.AWAITING_PAYMENT:
        flash("The card payment was not completed. You can pay from this page.", "warning")
    return _back(order)


@bp.post("/orders/<int:order_id>/refund")
@requires(*policies.REFUNDERS)
def refund_card_payment(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    form = RefundForm()
    if not form.validate_on_submit():
        flash(f"To refund, give a reason of at most {payments.MAX_REASON:,} characters.", "danger")
        return _back(order)
    try:
        payment = payments.refund_card_payment(current_actor(), order, form.reason.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(
            f"Refund of {payment.amount} requested from Stripe; it shows here once Stripe "
            "confirms it.",
            "info",
        )
    return _back(order)
