"""Order pages: lists (customer history; vendor list with filters and CSV), the order page,
its PDF form, approvals and cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import undefer
from wtforms.fields.choices import SelectChoice

from accounts.models import Organization
from accounts.queries import organizations_of_vendor
from core import params
from core.csv_export import csv_download
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import CUSTOMER_ROLES, OrgKind, Role, current_actor, get_or_404, requires
from ordering import bp, orders, payment_views, policies, queries
from ordering.forms import ApproveForm, CancelForm, RejectForm
from ordering.models import ORDER_VIEWERS, Order, OrderForm, OrderState

nav_item(
    "Orders", "ordering.orders", *ORDER_VIEWERS, *CUSTOMER_ROLES, group="Order", icon="receipt"
)
nav_item("Approvals", "ordering.approvals", Role.APPROVER, group="Order", icon="check2-square")

PER_PAGE = 25
CSV_LIMIT = 10_000


def _filters() -> queries.OrderFilters:
    """The vendor list's filters from the query string; a value that does not parse is
    ignored rather than refused, as a search box would (``core.params``)."""
    start, end = params.day("from"), params.day("to")
    return queries.OrderFilters(
        state=params.member("state", OrderState),
        customer_id=params.object_id("customer"),
        servlet_id=params.object_id("servlet"),
        placed_from=datetime.combine(start, time.min, UTC) if start else None,
        placed_until=datetime.combine(end + timedelta(days=1), time.min, UTC) if end else None,
    )


def _filter_args(filters: queries.OrderFilters) -> dict[str, str]:
    """The filters in effect as query-string text again, for the page's links (the export):
    only what was understood, never the query string as it came."""
    until = filters.placed_until - timedelta(days=1) if filters.placed_until else None
    return params.query_args(
        {
            "state": filters.state,
            "customer": filters.customer_id,
            "servlet": filters.servlet_id,
            "from": filters.placed_from.date() if filters.placed_from else None,
            "to": until.date() if until else None,
        }
    )


@bp.get("/orders", endpoint="orders")
@requires(*ORDER_VIEWERS, *CUSTOMER_ROLES)
def order_list() -> ResponseReturnValue:
    actor = current_actor()
    vendor_view = policies.sees_vendor_side(actor)
    filters = _filters() if vendor_view else queries.OrderFilters()
    page = paginate(queries.orders(actor, filters), PER_PAGE)
    context = {
        "page": page,
        "filters": filters,
        "filter_args": _filter_args(filters),
        "vendor_view": vendor_view,
    }
    if vendor_view:
        context |= {
            "states": list(OrderState),
            "customers": [
                o for o in organizations_of_vendor(active=None) if o.kind == OrgKind.CUSTOMER
            ],
            "servlets": queries.ordered_servlets(),
        }
    return render_template("ordering/orders.html", **context)


@bp.get("/orders/export.csv")
@requires(*ORDER_VIEWERS, *CUSTOMER_ROLES)
def export_orders() -> ResponseReturnValue:
    """The rows the list shows: the vendor's filtered orders, or the customer's own."""
    actor = current_actor()
    filters = _filters() if policies.sees_vendor_side(actor) else queries.OrderFilters()
    rows = db.session.scalars(queries.orders(actor, filters).limit(CSV_LIMIT))
    return csv_download("orders.csv", queries.CSV_HEADER, queries.csv_rows(rows))


@bp.get("/approvals")
@requires(Role.APPROVER)
def approvals() -> ResponseReturnValue:
    page = paginate(queries.awaiting_approval(current_actor()), PER_PAGE)
    return render_template("ordering/approvals.html", page=page)


@bp.get("/orders/<int:order_id>")
@requires(*ORDER_VIEWERS, *CUSTOMER_ROLES)
def order_page(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id, *queries.page_options())
    actor = current_actor()
    return render_template(
        "ordering/order.html",
        order=order,
        vendor=db.session.get(Organization, order.vendor_id),
        can_decide=policies.may_decide(actor, order),
        can_cancel=policies.may_cancel(actor, order),
        vendor_view=policies.sees_vendor_side(actor),
        approve_form=ApproveForm(),
        reject_form=RejectForm(),
        cancel_form=CancelForm(),
        **payment_views.order_page_context(order, actor),
    )


@bp.get("/orders/<int:order_id>/form.pdf")
@requires(*ORDER_VIEWERS, *CUSTOMER_ROLES)
def order_form_pdf(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    form = db.session.scalar(
        select(OrderForm).where(OrderForm.order_id == order.id).options(undefer(OrderForm.pdf))
    )
    if form is None:
        abort(404)
    return Response(
        form.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename={order.reference}.pdf"},
    )


def _back(order: Order) -> ResponseReturnValue:
    return redirect(url_for("ordering.order_page", order_id=order.id))


@bp.post("/orders/<int:order_id>/approve")
@requires(Role.APPROVER)
def approve(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    form = ApproveForm()
    if form.validate_on_submit():
        orders.approve_order(current_actor(), order, form.reason.data or "")
        flash(f"Order {order.reference} approved.", "success")
    else:
        flash("Note: at most 1,000 characters.", "danger")
    return _back(order)


@bp.post("/orders/<int:order_id>/reject")
@requires(Role.APPROVER)
def reject(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    form = RejectForm()
    if form.validate_on_submit():
        orders.reject_order(current_actor(), order, form.reason.data)
        flash(f"Order {order.reference} rejected.", "info")
    else:
        flash("To reject, give a reason of at most 1,000 characters.", "danger")
    return _back(order)


@bp.post("/orders/<int:order_id>/cancel")
@requires(*policies.CUSTOMER_CANCELLERS, *policies.VENDOR_CANCELLERS)
def cancel(order_id: int) -> ResponseReturnValue:
    order = get_or_404(Order, order_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash("Reason: at most 1,000 characters.", "danger")
        return _back(order)
    try:
        orders.cancel_order(current_actor(), order, form.reason.data or "")
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(f"Order {order.reference} cancelled.", "info")
    return _back(order)


def customer_choices() -> list[SelectChoice]:
    return [
        SelectChoice(o.id, o.name)
        for o in organizations_of_vendor(active=True)
        if o.kind == OrgKind.CUSTOMER
    ]
