"""What the ordering area puts on role homes: approvals waiting, a customer's open orders
and credits, and the card payments finance watches."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import func, select

from core.db import utcnow
from core.extensions import db
from core.home import Figure, Panel, Row, ago, count, home_panel
from core.money import Money
from core.permissions import CUSTOMER_ROLES, Actor, Role
from ordering import entitlements, queries
from ordering.models import Order, OrderState
from ordering.payment_models import CardPayment

SHOWN = 5
OPEN = (OrderState.AWAITING_APPROVAL, OrderState.AWAITING_PAYMENT, OrderState.CONFIRMED)


def _order_row(order: Order, detail: str) -> Row:
    return Row(
        label=f"{order.reference} · "
        + ", ".join(sorted({line.servlet_version.title for line in order.lines})),
        detail=detail,
        link=url_for("ordering.order_page", order_id=order.id),
        action="Review" if order.state == OrderState.AWAITING_APPROVAL else "Open",
    )


@home_panel(Role.APPROVER)
def approvals(actor: Actor) -> Panel:
    waiting = queries.awaiting_approval(actor)
    listed = count(waiting)
    orders = db.session.scalars(waiting.limit(SHOWN)).all()
    currency = orders[0].currency if orders else None
    amounts = waiting.order_by(None).subquery()
    total = int(db.session.scalar(select(func.coalesce(func.sum(amounts.c.total_minor), 0))))
    figures = (Figure("Waiting for you", str(listed), url_for("ordering.approvals")),)
    if currency:
        figures += (
            Figure("Their total", str(Money(total, currency)), url_for("ordering.approvals")),
        )
    return Panel(
        key="approvals",
        title="Orders waiting for your approval",
        figures=figures,
        rows=tuple(
            _order_row(o, f"{o.total} · placed {ago(o.created_at)} by {o.placed_by.display_name}")
            for o in orders
        ),
        more=max(listed - SHOWN, 0),
        empty="No order waits for your approval.",
        action=("All approvals", url_for("ordering.approvals")),
    )


@home_panel(*CUSTOMER_ROLES)
def open_orders(actor: Actor) -> Panel:
    open_ = queries.orders(actor).where(Order.state.in_(OPEN))
    listed = count(open_)
    orders = db.session.scalars(open_.limit(SHOWN)).all()
    left = sum(e.remaining for e in entitlements.usable(actor.organization_id, utcnow().date()))
    can_order = actor.role != Role.VIEWER
    return Panel(
        key="orders",
        title="Your open orders",
        figures=(
            Figure("Open orders", str(listed), url_for("ordering.orders")),
            Figure("Credits left", str(left), url_for("ordering.credits")),
        ),
        rows=tuple(
            _order_row(o, f"{o.state.label} · {o.total} · placed {ago(o.created_at)}")
            for o in orders
        ),
        more=max(listed - SHOWN, 0),
        empty="No open orders." + (" Browse the catalog to order a servlet." if can_order else ""),
        action=("Open the catalog", url_for("catalog.browse"))
        if can_order and not listed
        else ("All orders", url_for("ordering.orders")),
    )


@home_panel(Role.FINANCE)
def card_payments(actor: Actor) -> Panel:
    awaiting = queries.orders(actor).where(Order.state == OrderState.AWAITING_PAYMENT)
    listed = count(awaiting)
    orders = db.session.scalars(awaiting.limit(SHOWN)).all()
    refunds = db.session.scalar(
        select(func.count()).where(
            CardPayment.refund_requested_at.is_not(None), CardPayment.refunded_at.is_(None)
        )
    )
    flagged = db.session.scalar(select(func.count()).where(CardPayment.problem != ""))
    state_list = url_for("ordering.orders", state=OrderState.AWAITING_PAYMENT.value)
    return Panel(
        key="payments",
        title="Card payments",
        figures=(
            Figure("Orders awaiting payment", str(listed), state_list),
            Figure("Refunds not yet received", str(refunds), url_for("ordering.orders")),
            Figure("Payments flagged", str(flagged), url_for("ordering.orders")),
        ),
        rows=tuple(_order_row(o, f"{o.total} · placed {ago(o.created_at)}") for o in orders),
        more=max(listed - SHOWN, 0),
        empty="No order waits for a card payment.",
        action=("All orders", url_for("ordering.orders")),
    )
