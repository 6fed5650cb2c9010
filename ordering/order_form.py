"""The order form: a one-page mini-SOW rendered to PDF (WeasyPrint) when an order is confirmed.

It says what a procurement department would otherwise negotiate for weeks: the parties, the PO
number, each servlet's outcome, scope, deliverables, prerequisites and KPI promises, the price
and billing policy, and which terms were accepted by whom and when.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from weasyprint import HTML

from accounts.models import Organization, User
from core.extensions import db
from ordering.models import Order, OrderLine


def render_order_form(order: Order) -> bytes:
    """The PDF bytes of ``order``'s form, read afresh with everything it shows."""
    order = db.session.scalar(
        select(Order)
        .where(Order.id == order.id)
        .options(
            selectinload(Order.lines).joinedload(OrderLine.servlet_version),
            joinedload(Order.customer),
        )
        .execution_options(populate_existing=True)
    )
    # The Jinja environment directly, not render_template: a webhook or the CLI confirms
    # orders with no signed-in user, and the form needs none of the page context.
    html = current_app.jinja_env.get_template("ordering/order_form.html").render(
        order=order,
        vendor=db.session.get(Organization, order.vendor_id),
        accepted_by=db.session.get(User, order.terms_accepted_by_id),
        placed_by=db.session.get(User, order.placed_by_id),
    )
    return HTML(string=html).write_pdf()
