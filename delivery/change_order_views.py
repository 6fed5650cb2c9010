"""Change-order pages: the list of those within one's reach (waiting ones first), one change
order with its decision, and the delivery manager's proposal form."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from core import params
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import CUSTOMER_ROLES, Actor, current_actor, get_or_404, requires
from delivery import bp, change_orders, policies
from delivery.forms_customer import (
    ApproveChangeForm,
    ChangeOrderForm,
    DeclineChangeForm,
    WithdrawChangeForm,
)
from delivery.models import ENGAGEMENT_VIEWERS, ChangeOrder, ChangeOrderState, Engagement

READERS = (*ENGAGEMENT_VIEWERS, *CUSTOMER_ROLES)
PER_PAGE = 25

nav_item(
    "Change orders",
    "delivery.change_order_list",
    *READERS,
    group="Deliver",
    icon="plus-slash-minus",
)


@bp.get("/change-orders", endpoint="change_order_list")
@requires(*READERS)
def change_order_list() -> ResponseReturnValue:
    state = params.member("state", ChangeOrderState)
    page = paginate(change_orders.visible(current_actor(), state), PER_PAGE)
    return render_template(
        "delivery/change_orders.html",
        page=page,
        state=state,
        states=list(ChangeOrderState),
        vendor_view=policies.sees_vendor_side(current_actor()),
    )


def _engagement(engagement_id: int) -> Engagement:
    return get_or_404(Engagement, engagement_id, *change_orders.page_options())


def _both(engagement_id: int, change_order_id: int) -> tuple[Engagement, ChangeOrder]:
    """The engagement within the caller's reach and one of its change orders, else 404."""
    engagement = _engagement(engagement_id)
    change_order = change_orders.of_engagement(engagement, change_order_id)
    if change_order is None:
        abort(404)
    return engagement, change_order


@bp.get("/engagements/<int:engagement_id>/change-orders/<int:change_order_id>")
@requires(*READERS)
def change_order(engagement_id: int, change_order_id: int) -> ResponseReturnValue:
    return _change_order_page(*_both(engagement_id, change_order_id))


def _change_order_page(
    engagement: Engagement,
    change_order: ChangeOrder,
    decline_form: DeclineChangeForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "delivery/change_order.html",
        engagement=engagement,
        change_order=change_order,
        actor=current_actor(),
        policies=policies,
        approve_form=ApproveChangeForm(),
        decline_form=decline_form or DeclineChangeForm(formdata=None),
        withdraw_form=WithdrawChangeForm(formdata=None),
    ), status


@bp.route(
    "/engagements/<int:engagement_id>/change-orders/new",
    methods=["GET", "POST"],
    endpoint="propose_change_order",
)
@requires(*policies.CHANGE_PROPOSERS)
def propose(engagement_id: int) -> ResponseReturnValue:
    engagement = _engagement(engagement_id)
    form = ChangeOrderForm()
    status = 200
    if form.validate_on_submit():
        try:
            proposed = change_orders.propose(current_actor(), engagement, form.proposal())
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "danger")
            status = error.status_code
            engagement = _engagement(engagement_id)
        else:
            flash(f"{proposed.reference} proposed; the customer was asked to decide.", "success")
            return _to(engagement_id, proposed.id)
    elif form.is_submitted():
        status = 400
    return render_template(
        "delivery/change_order_new.html",
        engagement=engagement,
        form=form,
        actor=current_actor(),
        policies=policies,
        currency=change_orders.currency_of(engagement),
    ), status


def _to(engagement_id: int, change_order_id: int) -> ResponseReturnValue:
    return redirect(
        url_for(
            "delivery.change_order", engagement_id=engagement_id, change_order_id=change_order_id
        )
    )


Decision = Callable[[Actor, Engagement, ChangeOrder], ChangeOrder]


def _decided(
    engagement_id: int, change_order_id: int, form: FlaskForm, decide: Decision
) -> ResponseReturnValue:
    """Run ``decide`` on a valid form; a refusal is flashed on the change order's page."""
    engagement, change_order = _both(engagement_id, change_order_id)
    if not form.validate_on_submit():
        return _change_order_page(engagement, change_order, status=400)
    try:
        decided = decide(current_actor(), engagement, change_order)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(f"{decided.reference} {decided.state.label.lower()}.", "success")
    return _to(engagement_id, change_order_id)


@bp.post("/engagements/<int:engagement_id>/change-orders/<int:change_order_id>/approve")
@requires(*policies.CUSTOMER_DECIDERS)
def approve_change_order(engagement_id: int, change_order_id: int) -> ResponseReturnValue:
    return _decided(engagement_id, change_order_id, ApproveChangeForm(), change_orders.approve)


@bp.post("/engagements/<int:engagement_id>/change-orders/<int:change_order_id>/decline")
@requires(*policies.CUSTOMER_DECIDERS)
def decline_change_order(engagement_id: int, change_order_id: int) -> ResponseReturnValue:
    form = DeclineChangeForm()
    if not form.validate_on_submit():
        engagement, change_order = _both(engagement_id, change_order_id)
        flash("To decline, tell the delivery manager why.", "danger")
        return _change_order_page(engagement, change_order, decline_form=form, status=400)
    return _decided(
        engagement_id,
        change_order_id,
        form,
        lambda actor, e, c: change_orders.decline(actor, e, c, form.reason.data),
    )


@bp.post("/engagements/<int:engagement_id>/change-orders/<int:change_order_id>/withdraw")
@requires(*policies.CHANGE_PROPOSERS)
def withdraw_change_order(engagement_id: int, change_order_id: int) -> ResponseReturnValue:
    form = WithdrawChangeForm()
    return _decided(
        engagement_id,
        change_order_id,
        form,
        lambda actor, e, c: change_orders.withdraw(actor, e, c, form.reason.data or ""),
    )
