"""Success plan pages: the account's plans by quarter (the vendor's admins and CSMs), one
plan with its goals and progress, read-only to the customer's own people, and the forms of
those who may change it. Every change goes through ``success.plans``."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from accounts.models import Organization
from catalog.queries import publishable_servlets
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.permissions import CUSTOMER_ROLES, Actor, current_actor, get_or_404, requires
from success import bp, plans, policies
from success.plan_forms import DeleteGoalForm, GoalForm, PlanSummaryForm, StartPlanForm
from success.plan_models import SuccessGoal, SuccessPlan
from success.sections import Section, account_section

READERS = policies.ACCOUNT_READERS
PLAN_READERS = (*READERS, *CUSTOMER_ROLES)

nav_item("Success plans", "success.customer_plans", *CUSTOMER_ROLES, group="Success", icon="flag")


@bp.app_template_filter("plan_number")
def plan_number(value: float | None) -> str:
    """A goal's figure as people write it: ``1,200``, ``4.5``, never ``1200.0``."""
    return "" if value is None else plans.plain_number(value)


# --- loading -----------------------------------------------------------------------------


def _plan(plan_id: int) -> SuccessPlan:
    """A plan within reach (the vendor's CSMs and admins, the customer's own people)."""
    return get_or_404(
        SuccessPlan, plan_id, selectinload(SuccessPlan.goals).selectinload(SuccessGoal.servlets)
    )


def _goal(goal_id: int) -> tuple[SuccessGoal, SuccessPlan]:
    goal = db.session.scalar(
        select(SuccessGoal)
        .where(SuccessGoal.id == goal_id)
        .options(selectinload(SuccessGoal.servlets))
    )
    if goal is None:
        abort(404)
    return goal, _plan(goal.plan_id)


def _editable(plan: SuccessPlan) -> Organization:
    """The plan's customer, for a change: 403 for a reader who may not change it."""
    customer = db.session.get(Organization, plan.customer_id)
    if not policies.edits_account(current_actor(), customer):
        raise NotAllowed(plans.REFUSED)
    return customer


def _servlet_choices() -> list[SelectChoice]:
    return [SelectChoice(servlet_id, title) for servlet_id, title in publishable_servlets()]


def _goal_form(**kwargs: Any) -> GoalForm:
    form = GoalForm(**kwargs)
    form.servlet_ids.choices = _servlet_choices()
    return form


def _quarter_choices(today: date) -> list[SelectChoice]:
    return [
        SelectChoice(plans.quarter_key(start), plans.quarter_label(start))
        for start in plans.plannable_quarters(today)
    ]


# --- the account's plans -----------------------------------------------------------------


def _plans_page(customer: Organization, status: int = 200, **forms: Any) -> ResponseReturnValue:
    actor = current_actor()
    today = utcnow().date()
    editable = policies.edits_account(actor, customer)
    if editable and "start_form" not in forms:
        form = forms["start_form"] = StartPlanForm(
            formdata=None, data={"quarter": plans.quarter_key(plans.quarter_start(today))}
        )
        form.quarter.choices = _quarter_choices(today)
    rows = _plan_rows(customer.id)
    return render_template(
        "success/plans.html",
        customer=customer,
        rows=rows,
        this_quarter=plans.quarter_start(today),
        editable=editable,
        for_customer=False,
        **forms,
    ), status


def _plan_rows(customer_id: int) -> list[dict[str, Any]]:
    """Every plan of the customer, newest quarter first, with its progress."""
    found = db.session.scalars(
        select(SuccessPlan)
        .where(SuccessPlan.customer_id == customer_id)
        .options(selectinload(SuccessPlan.goals))
        .order_by(SuccessPlan.quarter_start.desc())
    ).all()
    return [
        {
            "plan": plan,
            "label": plans.quarter_label(plan.quarter_start),
            "goals": len(plan.goals),
            "progress": plans.percent(plans.plan_progress(plan.goals)),
        }
        for plan in found
    ]


@bp.get("/accounts/<int:account_id>/success-plans", endpoint="account_plans")
@requires(*READERS)
def account_plans(account_id: int) -> ResponseReturnValue:
    return _plans_page(policies.account_or_404(account_id))


@bp.post("/accounts/<int:account_id>/success-plans", endpoint="start_plan")
@requires(*READERS)
def start_plan(account_id: int) -> ResponseReturnValue:
    customer = policies.account_or_404(account_id)
    if not policies.edits_account(current_actor(), customer):
        raise NotAllowed(plans.REFUSED)
    form = StartPlanForm()
    form.quarter.choices = _quarter_choices(utcnow().date())
    if not form.validate_on_submit():
        return _plans_page(customer, 400, start_form=form)
    try:
        plan = plans.start_plan(current_actor(), customer, plans.parse_quarter(form.quarter.data))
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _plans_page(db.session.get(Organization, customer.id), 400, start_form=form)
    flash(f"Success plan for {plans.quarter_label(plan.quarter_start)} ready.", "success")
    return redirect(url_for("success.plan", success_plan_id=plan.id))


@bp.get("/success-plans", endpoint="customer_plans")
@requires(*CUSTOMER_ROLES)
def customer_plans() -> ResponseReturnValue:
    """The customer's own plans, read-only."""
    actor = current_actor()
    customer = db.session.get(Organization, actor.organization_id)
    return render_template(
        "success/plans.html",
        customer=customer,
        rows=_plan_rows(customer.id),
        this_quarter=plans.quarter_start(utcnow().date()),
        editable=False,
        for_customer=True,
    )


# --- one plan ----------------------------------------------------------------------------


def _plan_page(plan: SuccessPlan, status: int = 200, **forms: Any) -> ResponseReturnValue:
    actor = current_actor()
    customer = db.session.get(Organization, plan.customer_id)
    editable = policies.edits_account(actor, customer)
    if editable:
        forms.setdefault("summary_form", PlanSummaryForm(formdata=None, obj=plan))
        if "goal_form" not in forms:
            forms["goal_form"] = _goal_form(formdata=None)
    goals = [(goal, plans.percent(plans.goal_progress(goal))) for goal in plan.goals]
    return render_template(
        "success/plan.html",
        plan=plan,
        customer=customer,
        label=plans.quarter_label(plan.quarter_start),
        quarter_end=plans.quarter_end(plan.quarter_start),
        goals=goals,
        progress=plans.percent(plans.plan_progress(plan.goals)),
        titles=plans.servlet_titles(s.id for goal in plan.goals for s in goal.servlets),
        editable=editable,
        for_customer=actor.role in CUSTOMER_ROLES,
        max_goals=plans.MAX_GOALS,
        **forms,
    ), status


@bp.get("/success-plans/<int:success_plan_id>", endpoint="plan")
@requires(*PLAN_READERS)
def plan_page(success_plan_id: int) -> ResponseReturnValue:
    return _plan_page(_plan(success_plan_id))


@bp.post("/success-plans/<int:success_plan_id>/summary", endpoint="update_plan")
@requires(*READERS)
def update_plan(success_plan_id: int) -> ResponseReturnValue:
    plan = _plan(success_plan_id)
    _editable(plan)
    form = PlanSummaryForm()
    if not form.validate_on_submit():
        return _plan_page(plan, 400, summary_form=form)
    try:
        plans.update_summary(current_actor(), plan, form.summary.data or "")
    except ServiceError as error:
        return _refused(plan.id, "summary_form", form, error)
    flash("Summary saved.", "success")
    return redirect(url_for("success.plan", success_plan_id=plan.id))


def _refused(plan_id: int, name: str, form: Any, error: ServiceError) -> ResponseReturnValue:
    db.session.rollback()
    form.form_errors.append(error.message)
    return _plan_page(_plan(plan_id), 400, **{name: form})


@bp.post("/success-plans/<int:success_plan_id>/goals", endpoint="add_goal")
@requires(*READERS)
def add_goal(success_plan_id: int) -> ResponseReturnValue:
    plan = _plan(success_plan_id)
    _editable(plan)
    form = _goal_form()
    if not form.validate_on_submit():
        return _plan_page(plan, 400, goal_form=form)
    try:
        goal = plans.add_goal(current_actor(), plan, form.values())
    except ServiceError as error:
        return _refused(plan.id, "goal_form", form, error)
    flash(f"Goal “{goal.title}” added.", "success")
    return redirect(url_for("success.plan", success_plan_id=plan.id))


# --- one goal ----------------------------------------------------------------------------


def _goal_page(
    goal: SuccessGoal, plan: SuccessPlan, form: GoalForm, status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "success/plan_goal.html",
        goal=goal,
        plan=plan,
        customer=db.session.get(Organization, plan.customer_id),
        label=plans.quarter_label(plan.quarter_start),
        form=form,
    ), status


@bp.route(
    "/success-goals/<int:success_goal_id>/edit", methods=["GET", "POST"], endpoint="edit_goal"
)
@requires(*READERS)
def edit_goal(success_goal_id: int) -> ResponseReturnValue:
    goal, plan = _goal(success_goal_id)
    _editable(plan)
    if not _is_post():
        form = _goal_form(formdata=None, obj=goal)
        form.servlet_ids.data = [servlet.id for servlet in goal.servlets]
        return _goal_page(goal, plan, form)
    form = _goal_form()
    if not form.validate_on_submit():
        return _goal_page(goal, plan, form, 400)
    try:
        plans.update_goal(current_actor(), goal, form.values())
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        goal, plan = _goal(success_goal_id)
        return _goal_page(goal, plan, form, 400)
    flash("Goal saved.", "success")
    return redirect(url_for("success.plan", success_plan_id=plan.id))


@bp.route(
    "/success-goals/<int:success_goal_id>/delete", methods=["GET", "POST"], endpoint="delete_goal"
)
@requires(*READERS)
def delete_goal(success_goal_id: int) -> ResponseReturnValue:
    """A page that says what deleting does, then the deletion itself."""
    goal, plan = _goal(success_goal_id)
    _editable(plan)
    form = DeleteGoalForm()
    if not _is_post() or not form.validate_on_submit():
        return render_template(
            "success/plan_goal_delete.html",
            goal=goal,
            plan=plan,
            label=plans.quarter_label(plan.quarter_start),
            form=form,
        ), (400 if _is_post() else 200)
    title = goal.title
    plans.delete_goal(current_actor(), goal)
    flash(f"Goal “{title}” deleted.", "success")
    return redirect(url_for("success.plan", success_plan_id=plan.id))


def _is_post() -> bool:
    return request.method == "POST"


# --- the account page's section ----------------------------------------------------------


@account_section(40)
def plan_section(customer: Organization, actor: Actor, today: date) -> Section:
    """This quarter's plan with its progress, and the way to the others."""
    start = plans.quarter_start(today)
    plan = plans.plan_of(customer.id, start, with_servlets=False)
    goals = [] if plan is None else [(g, plans.percent(plans.goal_progress(g))) for g in plan.goals]
    return Section(
        "success/_account_plan.html",
        {
            "plan": plan,
            "label": plans.quarter_label(start),
            "quarter": plans.quarter_key(start),
            "goals": goals,
            "progress": None if plan is None else plans.percent(plans.plan_progress(plan.goals)),
            "editable": policies.edits_account(actor, customer),
        },
        "main",
    )
