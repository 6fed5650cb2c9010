"""Allocation pages: the delivery manager allocates an engagement with suggestions; a partner
manager names the consultant for an assignment of their partner."""

from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import joinedload

from core import params
from core.bounds import plain_decimal
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Role, current_actor, get_or_404, requires
from delivery import allocation, bp
from delivery.capacity import Window
from delivery.forms_resources import AllocateForm, NameConsultantForm
from delivery.models import Assignment, Engagement
from delivery.policies import ALLOCATABLE, ALLOCATORS

RESOURCE, PARTNER = "resource", "partner"


@bp.app_template_filter("partner_fee")
def partner_fee(assignment: Assignment, engagement: Engagement) -> Money:
    """The partner's fee for an assignment, in the currency the engagement was sold in."""
    return Money(assignment.partner_fee_minor, engagement.order_line.currency)


def _engagement(engagement_id: int) -> Engagement:
    return get_or_404(
        Engagement,
        engagement_id,
        joinedload(Engagement.servlet_version),
        joinedload(Engagement.customer),
        *allocation.with_assignments(),
    )


def _window(form: AllocateForm, engagement: Engagement) -> Window:
    """The window the suggestions are for: the one typed, if it makes sense, else the
    engagement's start-by (or today, once passed) to deliver-by."""
    first, last = form.starts_on.data, form.ends_on.data
    if first and last and first <= last and (last - first).days < allocation.MAX_WINDOW_DAYS:
        return Window(first, last)
    return allocation.default_window(engagement, utcnow().date())


def _target_choices(suggestions: list[allocation.Suggestion]) -> list[tuple[str, str]]:
    people = [
        (
            f"{RESOURCE}:{s.resource.id}",
            f"{s.resource.membership.user.display_name}"
            f"{' (' + s.resource.partner.name + ')' if s.resource.partner else ''}"
            f" — {len(s.covered)} skill(s) covered, {plain_decimal(s.load.free)} h free",
        )
        for s in suggestions
    ]
    partners = [
        (f"{PARTNER}:{p.id}", f"{p.name} (partner: its manager names a consultant)")
        for p in allocation.partners()
    ]
    return [("", "Choose…"), *people, *partners]


def _target(value: str) -> tuple[int | None, int | None]:
    kind, _, key = (value or "").partition(":")
    return (int(key), None) if kind == RESOURCE else (None, int(key))


def _defaults(form: AllocateForm, engagement: Engagement) -> None:
    window = allocation.default_window(engagement, utcnow().date())
    form.starts_on.data = params.day("from") or window.first
    form.ends_on.data = params.day("to") or window.last
    form.planned_hours.data = Decimal(engagement.servlet_version.effort_hours)
    chosen = params.object_id("resource")
    form.target.data = f"{RESOURCE}:{chosen}" if chosen else ""
    form.seen_assignments.data = str(len(engagement.assignments))


def _seen(form: AllocateForm) -> int | None:
    raw = form.seen_assignments.data or ""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else None


@bp.route("/engagements/<int:engagement_id>/allocate", methods=["GET", "POST"])
@requires(*ALLOCATORS)
def allocate(engagement_id: int) -> ResponseReturnValue:
    engagement = _engagement(engagement_id)
    form = AllocateForm()
    if request.method == "GET":
        _defaults(form, engagement)
    window = _window(form, engagement)
    suggestions = allocation.suggestions(engagement, window)
    form.target.choices = _target_choices(suggestions)
    status, over_capacity = 200, None
    if form.validate_on_submit():
        resource_id, partner_id = _target(form.target.data)
        try:
            allocation.allocate(
                current_actor(),
                engagement,
                allocation.Allocation(
                    starts_on=form.starts_on.data,
                    ends_on=form.ends_on.data,
                    planned_hours=form.planned_hours.data,
                    resource_id=resource_id,
                    partner_id=partner_id,
                    seen_assignments=_seen(form),
                    over_capacity_confirmed=bool(form.confirm_over_capacity.data),
                ),
            )
        except allocation.OverCapacity as error:
            db.session.rollback()
            over_capacity = error.message
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            status = error.status_code
        else:
            flash(f"Engagement {engagement.reference} allocated.", "success")
            return redirect(_engagement_url(engagement))
        engagement = _engagement(engagement_id)
    elif request.method == "POST":
        status = 400
    return render_template(
        "delivery/allocate.html",
        engagement=engagement,
        form=form,
        suggestions=suggestions,
        window=window,
        required=engagement.servlet_version.required_skills or [],
        over_capacity=over_capacity,
        open_for_allocation=engagement.state in ALLOCATABLE,
    ), status


def _engagement_url(engagement: Engagement) -> str:
    return url_for("delivery.engagement", engagement_id=engagement.id)


@bp.route(
    "/engagements/<int:engagement_id>/assignments/<int:assignment_id>/consultant",
    methods=["GET", "POST"],
)
@requires(Role.PARTNER_MANAGER)
def name_consultant(engagement_id: int, assignment_id: int) -> ResponseReturnValue:
    actor = current_actor()
    engagement = _engagement(engagement_id)
    assignment = allocation.partner_assignment(actor, engagement, assignment_id)
    form = NameConsultantForm()
    consultants = allocation.consultants_of(actor)
    form.resource_id.choices = [
        (
            r.id,
            f"{r.membership.user.display_name} ({', '.join(r.skills or []) or 'no skills listed'})",
        )
        for r in consultants
    ]
    status = 200
    if form.validate_on_submit():
        try:
            allocation.name_consultant(actor, engagement, assignment.id, form.resource_id.data)
        except ServiceError as error:
            db.session.rollback()
            if error.status_code == 404:
                raise
            form.form_errors.append(error.message)
            status = error.status_code
        else:
            flash("Consultant named.", "success")
            return redirect(_engagement_url(engagement))
    elif request.method == "POST":
        status = 400
    return render_template(
        "delivery/allocate_consultant.html",
        engagement=engagement,
        assignment=assignment,
        form=form,
        has_consultants=bool(consultants),
    ), status
