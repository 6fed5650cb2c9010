"""Demo delivery: the first demo order of each vendor (PO-1001) delivered and accepted, so the
order it belongs to is completed, as a real completed order would be. Runs after the
ordering seeder; skips a vendor whose order is completed already."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Membership
from core import states
from core.demo import Login, seeder
from core.extensions import db
from core.permissions import Role
from delivery.models import ENGAGEMENT_LIFE, Engagement
from delivery.models import EngagementState as E
from ordering import orders
from ordering.models import Order, OrderLine, OrderState

DELIVERED_PO = "PO-1001"


def _member(organization_id: int, role: Role) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(
            Membership.organization_id == organization_id, Membership.role == role
        )
    )


@seeder
def seed_delivery(logins: list[Login]) -> None:
    delivered = db.session.scalars(
        select(Order).where(Order.po_number == DELIVERED_PO, Order.state == OrderState.CONFIRMED)
    )
    for order in list(delivered):
        manager = _member(order.vendor_id, Role.DELIVERY_MANAGER)
        consultant = _member(order.vendor_id, Role.CONSULTANT)
        buyer = _member(order.customer_id, Role.BUYER)
        if manager is None or consultant is None or buyer is None:
            continue
        engagements = db.session.scalars(
            select(Engagement)
            .join(OrderLine, OrderLine.id == Engagement.order_line_id)
            .where(OrderLine.order_id == order.id)
        )
        for engagement in engagements:
            for to, actor in (
                (E.SCHEDULED, manager),
                (E.IN_PROGRESS, consultant),
                (E.DELIVERED, consultant),
                (E.ACCEPTED, buyer),
            ):
                states.transition(ENGAGEMENT_LIFE, engagement, to, actor)
        db.session.commit()
        orders.complete_order(order)
