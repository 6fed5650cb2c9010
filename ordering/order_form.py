"""The order form: a one-page mini-SOW rendered to PDF (WeasyPrint) after an order is confirmed.

It says what a procurement department would otherwise negotiate for weeks: the parties, the PO
number, each servlet's outcome, scope, deliverables, prerequisites and KPI promises, the price
and billing policy, and which terms were accepted by whom and when.

Rendering can take seconds (a long answer in Chinese or Japanese lays out many glyphs), so
the confirming transaction only queues it (``queue_order_form``); a scheduler job renders it
with no transaction open and stores it once.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from weasyprint import HTML

from accounts.models import Organization, User
from core import queue
from core.extensions import db
from ordering.models import Order, OrderForm, OrderLine


def queue_order_form(order: Order) -> None:
    """Ask for ``order``'s form to be rendered once the caller's transaction commits."""
    queue.enqueue(
        "order_form",
        f"order-form-{order.id}",
        vendor_id=order.vendor_id,
        payload={"order_id": order.id},
    )


@queue.performs("order_form")
def store_order_form(payload: dict[str, Any]) -> None:
    """Render and keep the form; the HTML is built in a short read, the PDF outside it."""
    order_id = payload["order_id"]
    if db.session.scalar(select(OrderForm.id).where(OrderForm.order_id == order_id)):
        db.session.commit()
        return
    order = db.session.get(Order, order_id)
    vendor_id = order.vendor_id
    html = order_form_html(order)
    db.session.commit()
    pdf = HTML(string=html).write_pdf()
    db.session.add(OrderForm(vendor_id=vendor_id, order_id=order_id, pdf=pdf))
    db.session.commit()


def order_form_html(order: Order) -> str:
    """The HTML of ``order``'s form, read afresh with everything it shows."""
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
    return current_app.jinja_env.get_template("ordering/order_form.html").render(
        order=order,
        vendor=db.session.get(Organization, order.vendor_id),
        accepted_by=db.session.get(User, order.terms_accepted_by_id),
        placed_by=db.session.get(User, order.placed_by_id),
    )
