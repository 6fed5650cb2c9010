"""Notifications about orders, in the app and by email (``core.notifications``). Each is
written in the caller's transaction, so it exists exactly when the change it reports commits."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from accounts.models import Membership, User
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Role
from ordering.models import Order

APPROVAL_REQUESTED = notification_kind("order.approval_requested", "An order waits for my approval")
APPROVAL_DECIDED = notification_kind("order.approval_decided", "My order is approved or rejected")
CONFIRMED = notification_kind("order.confirmed", "My order is confirmed")
CANCELLED = notification_kind("order.cancelled", "My order is cancelled")
REFUNDED = notification_kind("order.refunded", "A card payment of mine is refunded")


def order_link(order: Order) -> str:
    """The order page, absolute when a host is known (a request or SERVER_NAME), else empty:
    the seed and jobs run without one."""
    try:
        return url_for("ordering.order_page", order_id=order.id, _external=True)
    except RuntimeError:
        return ""


def _members(organization_id: int, role: Role) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organization_id == organization_id,
                Membership.role == role,
                Membership.active.is_(True),
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )


def _placer(order: Order) -> User:
    return db.session.get(User, order.placed_by_id)


def _send(user: User, order: Order, subject: str, body: str, kind: str) -> None:
    notify(user, subject, body, order_link(order), kind, vendor_id=order.vendor_id)


def approval_requested(order: Order, customer_name: str) -> int:
    """Tell every approver of the customer; returns how many were told."""
    approvers = _members(order.customer_id, Role.APPROVER)
    placer = _placer(order)
    for approver in approvers:
        _send(
            approver,
            order,
            f"Approval needed: order {order.reference} ({order.total})",
            f"{placer.display_name} placed order {order.reference} for {customer_name} "
            f"totalling {order.total}, above your approval threshold. Review its intake "
            "answers and approve or reject it.",
            APPROVAL_REQUESTED,
        )
    return len(approvers)


def approval_decided(order: Order, approved: bool, reason: str) -> None:
    verdict = "approved" if approved else "rejected"
    body = f"Your order {order.reference} was {verdict}."
    if reason:
        body += f"\n\nReason: {reason}"
    _send(_placer(order), order, f"Order {order.reference} {verdict}", body, APPROVAL_DECIDED)


def order_confirmed(order: Order, vendor_name: str) -> None:
    _send(
        _placer(order),
        order,
        f"Order {order.reference} confirmed",
        f"{vendor_name} confirmed your order {order.reference} ({order.total}). "
        "Its order form is attached to the order page, and delivery will be in touch.",
        CONFIRMED,
    )


def order_cancelled(order: Order, reason: str) -> None:
    body = f"Order {order.reference} was cancelled."
    if reason:
        body += f"\n\nReason: {reason}"
    _send(_placer(order), order, f"Order {order.reference} cancelled", body, CANCELLED)
