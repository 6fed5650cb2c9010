"""CSM pages for recommendations (propose, follow, conversion) and the customer's decline."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from accounts.queries import organizations_of_vendor
from catalog import bp, policies, queries, recommendations
from catalog.authoring_views import PER_PAGE
from catalog.forms import DeclineForm, RecommendForm, options
from catalog.models import Recommendation, RecommendationState
from core import params
from core.charts import horizontal_bars
from core.errors import ServiceError
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import OrgKind, Role, current_actor, get_or_404, requires

nav_item(
    "Recommendations",
    "catalog.recommendations",
    Role.ADMIN,
    Role.CSM,
    group="Sell",
    icon="lightbulb",
)


@bp.get("/recommendations", endpoint="recommendations")
@requires(Role.ADMIN, Role.CSM)
def recommendation_list() -> ResponseReturnValue:
    actor = current_actor()
    default = "mine" if policies.lists_own_recommendations_first(actor) else "all"
    mine = params.choice("who", ("mine", "all"), default)
    by = actor.user_id if mine == "mine" else None
    state = params.choice("state", [s.value for s in RecommendationState])
    page = paginate(queries.vendor_recommendations(state, by), PER_PAGE)
    conversion = recommendations.conversion(by)
    funnel = horizontal_bars(
        [(s.label, conversion.counts[s], s.value) for s in RecommendationState]
    )
    return render_template(
        "catalog/recommendations/index.html",
        page=page,
        mine=mine == "mine",
        state=state,
        states=list(RecommendationState),
        conversion=conversion,
        funnel=funnel,
    )


@bp.route("/recommendations/new", methods=["GET", "POST"])
@requires(Role.ADMIN, Role.CSM)
def new_recommendation() -> ResponseReturnValue:
    form = RecommendForm()
    if request.method == "GET":
        form.servlet_id.data = params.object_id("servlet")
        form.customer_id.data = params.object_id("customer")
    form.customer_id.choices = options(
        [(o.id, o.name) for o in organizations_of_vendor(active=True) if o.kind == OrgKind.CUSTOMER]
    )
    form.servlet_id.choices = options(queries.publishable_servlets())
    if form.validate_on_submit():
        expires_at = (
            datetime.combine(form.expires_on.data, time.max, tzinfo=UTC)
            if form.expires_on.data
            else None
        )
        try:
            recommendations.recommend(
                current_actor(),
                form.servlet_id.data,
                form.customer_id.data,
                form.reason.data,
                expires_at,
            )
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash(
                "Recommendation sent: the customer's buyers see it on their home page.", "success"
            )
            return redirect(url_for("catalog.recommendations"))
    return render_template("catalog/recommendations/new.html", form=form)


@bp.post("/recommendations/<int:recommendation_id>/decline")
@requires(Role.BUYER, Role.APPROVER)
def decline_recommendation(recommendation_id: int) -> ResponseReturnValue:
    recommendation = get_or_404(Recommendation, recommendation_id)
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            recommendations.decline(current_actor(), recommendation, form.reason.data)
        except ServiceError as error:
            flash(error.message, "danger")
        else:
            flash("Thanks, your CSM will see why.", "info")
    else:
        flash("Tell your CSM why you decline (up to 1,000 characters).", "danger")
    return redirect(url_for("catalog.servlet_page", servlet_id=recommendation.servlet_id))
