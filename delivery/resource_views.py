"""Resource pages (delivery managers and admins): the list with its CSV, a resource's form
and time off, the vendor's holidays, and the capacity of the coming weeks."""

from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from accounts.models import Organization
from core.csv_export import csv_download
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import current_actor, get_or_404, requires
from delivery import bp, capacity, holidays, resources
from delivery.forms_resources import HolidayForm, ResourceForm, TimeOffForm
from delivery.models import Holiday, Resource, TimeOff
from delivery.policies import RESOURCE_MANAGERS

nav_item("Resources", "delivery.resources_page", *RESOURCE_MANAGERS, group="Deliver", icon="people")
nav_item("Capacity", "delivery.capacity_page", *RESOURCE_MANAGERS, group="Deliver", icon="grid-3x3")

PER_PAGE = 25
CAPACITY_PER_PAGE = 50
CSV_LIMIT = 10_000
CSV_HEADER = [
    "name",
    "email",
    "organisation",
    "skills",
    "weekly_capacity_hours",
    "cost_rate_per_hour",
    "fee_per_servlet",
    "currency",
    "active",
]


def _currency() -> str:
    return db.session.get(Organization, current_actor().vendor_id).currency


@bp.get("/resources")
@requires(*RESOURCE_MANAGERS)
def resources_page() -> ResponseReturnValue:
    currency = _currency()
    return render_template(
        "delivery/resources.html",
        page=paginate(resources.resources(), PER_PAGE),
        money=lambda minor: Money(minor, currency),
    )


@bp.get("/resources/export.csv")
@requires(*RESOURCE_MANAGERS)
def export_resources() -> ResponseReturnValue:
    currency = _currency()
    rows = db.session.scalars(resources.resources().limit(CSV_LIMIT))
    return csv_download(
        "resources.csv",
        CSV_HEADER,
        (
            [
                r.membership.user.display_name,
                r.membership.user.email,
                r.partner.name if r.partner else "",
                ", ".join(r.skills or []),
                r.weekly_capacity_hours,
                Money(r.cost_rate_minor, currency).to_decimal(),
                Money(r.fee_minor, currency).to_decimal(),
                currency,
                "yes" if r.active else "no",
            ]
            for r in rows
        ),
    )


def _values(form: ResourceForm) -> resources.ResourceValues:
    return resources.ResourceValues(
        skills=form.skills.data or "",
        weekly_capacity_hours=int(form.weekly_capacity_hours.data),
        cost_rate=form.cost_rate.money,
        fee=form.fee.money,
        active=bool(form.active.data),
    )


def _membership_choices() -> list[tuple[int, str]]:
    return [
        (m.id, f"{m.user.display_name} — {m.organization.name} ({m.role.label.lower()})")
        for m in resources.eligible_memberships(current_actor().vendor_id)
    ]


@bp.route("/resources/new", methods=["GET", "POST"])
@requires(*RESOURCE_MANAGERS)
def new_resource() -> ResponseReturnValue:
    form = ResourceForm()
    form.set_currency(_currency())
    form.membership_id.choices = _membership_choices()
    if form.validate_on_submit():
        try:
            made = resources.create_resource(
                current_actor(), form.membership_id.data, _values(form)
            )
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            form.membership_id.choices = _membership_choices()
        else:
            flash("Resource added.", "success")
            return redirect(url_for("delivery.resource", resource_id=made.id))
    return render_template("delivery/resources_form.html", form=form, resource=None)


def _money_text(minor: int, currency: str) -> str:
    return "" if not minor else str(Money(minor, currency).to_decimal())


@bp.route("/resources/<int:resource_id>", methods=["GET", "POST"])
@requires(*RESOURCE_MANAGERS)
def resource(resource_id: int) -> ResponseReturnValue:
    found = get_or_404(Resource, resource_id, *resources.with_time_off())
    currency = _currency()
    form = ResourceForm(
        data=None
        if request.method == "POST"
        else {
            "skills": ", ".join(found.skills or []),
            "weekly_capacity_hours": Decimal(found.weekly_capacity_hours),
            "cost_rate": _money_text(found.cost_rate_minor, currency),
            "fee": _money_text(found.fee_minor, currency),
            "active": found.active,
        },
    )
    del form.membership_id
    form.set_currency(currency)
    if form.validate_on_submit():
        try:
            resources.update_resource(current_actor(), found, _values(form))
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            found = get_or_404(Resource, resource_id, *resources.with_time_off())
        else:
            flash("Resource saved.", "success")
            return redirect(url_for("delivery.resource", resource_id=resource_id))
    return render_template(
        "delivery/resources_form.html",
        form=form,
        resource=found,
        time_off_form=TimeOffForm(formdata=None),
    )


@bp.post("/resources/<int:resource_id>/time-off")
@requires(*RESOURCE_MANAGERS)
def add_time_off(resource_id: int) -> ResponseReturnValue:
    found = get_or_404(Resource, resource_id, *resources.with_time_off())
    form = TimeOffForm()
    if form.validate_on_submit():
        try:
            resources.add_time_off(
                current_actor(), found, form.starts_on.data, form.ends_on.data, form.note.data
            )
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            found = get_or_404(Resource, resource_id, *resources.with_time_off())
        else:
            flash("Time off added.", "success")
            return redirect(url_for("delivery.resource", resource_id=resource_id))
    resource_form = ResourceForm(formdata=None)
    del resource_form.membership_id
    resource_form.set_currency(_currency())
    return render_template(
        "delivery/resources_form.html",
        form=resource_form,
        resource=found,
        time_off_form=form,
    ), 400


@bp.post("/time-off/<int:time_off_id>/remove")
@requires(*RESOURCE_MANAGERS)
def remove_time_off(time_off_id: int) -> ResponseReturnValue:
    resource_id = resources.remove_time_off(current_actor(), get_or_404(TimeOff, time_off_id))
    flash("Time off removed.", "info")
    return redirect(url_for("delivery.resource", resource_id=resource_id))


# --- holidays ----------------------------------------------------------------------------


@bp.route("/holidays", methods=["GET", "POST"])
@requires(*RESOURCE_MANAGERS)
def holidays_page() -> ResponseReturnValue:
    form = HolidayForm()
    if form.validate_on_submit():
        try:
            holidays.add_holiday(current_actor(), form.day.data, form.name.data)
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            flash("Holiday added.", "success")
            return redirect(url_for("delivery.holidays_page"))
    return render_template(
        "delivery/resources_holidays.html",
        form=form,
        page=paginate(holidays.holidays(), PER_PAGE),
        today=utcnow().date(),
    )


@bp.post("/holidays/<int:holiday_id>/remove")
@requires(*RESOURCE_MANAGERS)
def remove_holiday(holiday_id: int) -> ResponseReturnValue:
    removed = holidays.remove_holiday(current_actor(), get_or_404(Holiday, holiday_id))
    flash(f"{removed.name} is no longer a holiday.", "info")
    return redirect(url_for("delivery.holidays_page"))


# --- capacity ----------------------------------------------------------------------------


@bp.get("/capacity")
@requires(*RESOURCE_MANAGERS)
def capacity_page() -> ResponseReturnValue:
    page = paginate(resources.resources().where(Resource.active.is_(True)), CAPACITY_PER_PAGE)
    weeks = capacity.weeks_from(utcnow().date())
    return render_template(
        "delivery/capacity.html",
        page=page,
        weeks=weeks,
        rows=capacity.grid(page.items, weeks, current_actor().vendor_id),
        levels=list(capacity.LoadLevel),
    )
