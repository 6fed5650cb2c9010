"""The customer's answer to a delivery (accept, rework) and its rating page, which the
rating email links to. The forms also sit on the engagement page (``_customer_decision``)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from core.errors import ServiceError
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, current_actor, get_or_404, requires
from delivery import acceptance, bp, policies
from delivery.forms_customer import RatingForm, ReworkForm
from delivery.models import ENGAGEMENT_VIEWERS, Engagement


def _back(engagement_id: int) -> ResponseReturnValue:
    return redirect(url_for("delivery.engagement", engagement_id=engagement_id))


@bp.post("/engagements/<int:engagement_id>/accept")
@requires(*policies.CUSTOMER_DECIDERS)
def accept(engagement_id: int) -> ResponseReturnValue:
    engagement = get_or_404(Engagement, engagement_id)
    try:
        engagement = acceptance.accept(current_actor(), engagement)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(f"Engagement {engagement.reference} accepted. Thank you; please rate it.", "success")
    return _back(engagement_id)


@bp.post("/engagements/<int:engagement_id>/rework")
@requires(*policies.CUSTOMER_DECIDERS)
def rework(engagement_id: int) -> ResponseReturnValue:
    engagement = get_or_404(Engagement, engagement_id)
    form = ReworkForm()
    if not form.validate_on_submit():
        flash(
            f"To request rework, say what to rework (at most {acceptance.MAX_REASON:,} "
            "characters).",
            "danger",
        )
        return _back(engagement_id)
    try:
        engagement = acceptance.request_rework(current_actor(), engagement, form.reason.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(
            f"Rework requested on {engagement.reference}; the delivery team was told why.", "info"
        )
    return _back(engagement_id)


@bp.get("/engagements/<int:engagement_id>/rate")
@requires(*ENGAGEMENT_VIEWERS, *CUSTOMER_ROLES)
def rate(engagement_id: int) -> ResponseReturnValue:
    return _rating_page(engagement_id, RatingForm())


@bp.post("/engagements/<int:engagement_id>/rate")
@requires(*policies.CUSTOMER_DECIDERS)
def send_rating(engagement_id: int) -> ResponseReturnValue:
    form = RatingForm()
    engagement = get_or_404(Engagement, engagement_id)
    if not form.validate_on_submit():
        return _rating_page(engagement_id, form, status=400)
    rating = acceptance.Rating(form.csat.data, form.comment.data or "", form.nps_value)
    try:
        acceptance.rate(current_actor(), engagement, rating)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _rating_page(engagement_id, form, status=error.status_code)
    flash("Thank you for your rating.", "success")
    return _back(engagement_id)


def _rating_page(engagement_id: int, form: RatingForm, status: int = 200) -> ResponseReturnValue:
    engagement = get_or_404(Engagement, engagement_id, *acceptance.rating_page_options())
    return render_template(
        "delivery/rate.html",
        engagement=engagement,
        actor=current_actor(),
        policies=policies,
        form=form,
    ), status
