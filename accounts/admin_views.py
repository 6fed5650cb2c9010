"""Vendor admin pages: people and roles, customer and partner organisations, settings, audit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from accounts import bp, services
from accounts.forms import (
    ActiveToggleForm,
    InviteForm,
    OrganizationEditForm,
    OrganizationForm,
    RoleForm,
    VendorSettingsForm,
)
from accounts.models import Membership, Organization, User
from accounts.queries import audit_events, organizations_of_vendor
from core import params
from core.audit import AuditEvent
from core.csv_export import csv_download
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import ROLES_BY_KIND, OrgKind, Role, current_actor, get_or_404, requires

nav_item("People", "accounts.people", Role.ADMIN, group="Admin", icon="people")
nav_item("Organisations", "accounts.organizations", Role.ADMIN, group="Admin", icon="buildings")
nav_item("Settings", "accounts.vendor_settings", Role.ADMIN, group="Admin", icon="gear")
nav_item("Audit log", "accounts.audit_log", Role.ADMIN, group="Admin", icon="journal-text")

PER_PAGE = 25


@bp.route("/admin/people", methods=["GET", "POST"])
@requires(Role.ADMIN)
def people() -> ResponseReturnValue:
    form = InviteForm()
    form.organization_id.choices = [
        SelectChoice(o.id, o.name) for o in organizations_of_vendor(active=True)
    ]
    if form.validate_on_submit():
        try:
            services.invite_user(
                current_actor(),
                form.email.data,
                form.name.data or "",
                Role(form.role.data),
                form.organization_id.data,
            )
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash(f"Invitation sent to {form.email.data}.", "success")
            return redirect(url_for("accounts.people"))
    organization_id = params.object_id("organization")
    stmt = (
        select(Membership)
        .join(Membership.user)
        .join(Membership.organization)
        .options(joinedload(Membership.user), joinedload(Membership.organization))
        .order_by(Organization.name, User.email)
    )
    if organization_id:
        stmt = stmt.where(Membership.organization_id == organization_id)
    page = paginate(stmt, PER_PAGE)
    return render_template(
        "accounts/admin/people.html",
        form=form,
        page=page,
        organizations=[(choice.value, choice.label) for choice in form.organization_id.choices],
        organization_id=organization_id,
        roles_by_kind=ROLES_BY_KIND,
        toggle=ActiveToggleForm(),
    )


@bp.post("/admin/memberships/<int:membership_id>/role")
@requires(Role.ADMIN)
def change_role(membership_id: int) -> ResponseReturnValue:
    membership = get_or_404(Membership, membership_id, joinedload(Membership.organization))
    form = RoleForm()
    form.role.choices = [SelectChoice(r.value) for r in ROLES_BY_KIND[membership.organization.kind]]
    if form.validate_on_submit():
        services.change_role(current_actor(), membership, Role(form.role.data))
        flash("Role changed.", "success")
    else:
        flash("Choose one of the roles offered.", "danger")
    return redirect(request.referrer or url_for("accounts.people"))


@bp.post("/admin/memberships/<int:membership_id>/active")
@requires(Role.ADMIN)
def set_membership_active(membership_id: int) -> ResponseReturnValue:
    membership = get_or_404(Membership, membership_id, joinedload(Membership.user))
    form = ActiveToggleForm()
    if form.validate_on_submit():
        services.set_membership_active(current_actor(), membership, form.active.data)
        state = "restored" if form.active.data else "removed"
        flash(f"Access for {membership.user.email} {state}.", "success")
    return redirect(request.referrer or url_for("accounts.people"))


@bp.route("/admin/organizations", methods=["GET", "POST"])
@requires(Role.ADMIN)
def organizations() -> ResponseReturnValue:
    form = OrganizationForm()
    if form.validate_on_submit():
        try:
            organization = services.create_organization(
                current_actor(), OrgKind(form.kind.data), form.name.data
            )
        except ServiceError as error:
            form.name.errors.append(error.message)
        else:
            flash(f"{organization.name} created. Invite its people next.", "success")
            return redirect(url_for("accounts.organizations"))
    kind = params.choice("kind", (OrgKind.CUSTOMER.value, OrgKind.PARTNER.value))
    stmt = select(Organization).where(Organization.vendor_id.is_not(None))
    if kind:
        stmt = stmt.where(Organization.kind == OrgKind(kind))
    page = paginate(stmt.order_by(Organization.kind, Organization.name), PER_PAGE)
    return render_template(
        "accounts/admin/organizations.html",
        form=form,
        page=page,
        kind=kind,
        toggle=ActiveToggleForm(),
    )


@bp.route("/admin/organizations/<int:organization_id>", methods=["GET", "POST"])
@requires(Role.ADMIN)
def edit_organization(organization_id: int) -> ResponseReturnValue:
    organization = get_or_404(Organization, organization_id)
    currency = db.session.get(Organization, current_actor().vendor_id).currency
    form = OrganizationEditForm(obj=organization)
    del form.kind
    if organization.kind is not OrgKind.CUSTOMER:
        del form.approval_threshold
    elif request.method == "GET" and organization.approval_threshold_minor is not None:
        form.approval_threshold.data = str(
            Money(organization.approval_threshold_minor, currency).to_decimal()
        )
    if form.validate_on_submit():
        try:
            threshold = _threshold(form, currency)
            services.update_organization(current_actor(), organization, form.name.data, threshold)
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash("Organisation saved.", "success")
            return redirect(url_for("accounts.organizations"))
    return render_template(
        "accounts/admin/organization.html",
        form=form,
        organization=organization,
        toggle=ActiveToggleForm(),
    )


def _threshold(form: OrganizationEditForm, currency: str) -> int | None:
    """The approval threshold typed in the vendor's currency, in minor units (None: empty)."""
    field = getattr(form, "approval_threshold", None)
    text = (field.data or "").strip() if field is not None else ""
    if not text:
        return None
    try:
        return Money.parse(text, currency).amount
    except ValueError as error:
        message = f"Approval threshold: enter an amount like 5000 ({currency})."
        raise ServiceError(message) from error


@bp.post("/admin/organizations/<int:organization_id>/active")
@requires(Role.ADMIN)
def set_organization_active(organization_id: int) -> ResponseReturnValue:
    organization = get_or_404(Organization, organization_id)
    form = ActiveToggleForm()
    if form.validate_on_submit():
        services.set_organization_active(current_actor(), organization, form.active.data)
        state = "reactivated" if form.active.data else "deactivated"
        flash(f"{organization.name} {state}.", "success")
    return redirect(url_for("accounts.organizations"))


@bp.route("/admin/settings", methods=["GET", "POST"])
@requires(Role.ADMIN)
def vendor_settings() -> ResponseReturnValue:
    vendor = db.session.get(Organization, current_actor().vendor_id)
    form = VendorSettingsForm(obj=vendor)
    if form.validate_on_submit():
        values = services.VendorSettings(
            name=form.name.data.strip(),
            currency=form.currency.data,
            payment_terms_days=form.payment_terms_days.data,
            tax_rate=form.tax_rate.data,
            invoice_prefix=form.invoice_prefix.data,
            terms_text=form.terms_text.data or "",
            terms_version=form.terms_version.data.strip(),
        )
        services.update_vendor_settings(current_actor(), values)
        flash("Settings saved.", "success")
        return redirect(url_for("accounts.vendor_settings"))
    return render_template("accounts/admin/settings.html", form=form)


def _moment(day: date | None, end: bool = False) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


@bp.get("/admin/audit")
@requires(Role.ADMIN)
def audit_log() -> ResponseReturnValue:
    texts = {
        "action": params.text("action", 64),
        "actor": params.text("actor", 254),
        "object_type": params.text("object_type", 64),
    }
    since, until = params.day("since"), params.day("until")
    stmt = audit_events(
        current_actor().vendor_id, since=_moment(since), until=_moment(until, end=True), **texts
    )
    if params.choice("format", ("html", "csv"), "html") == "csv":
        return _audit_csv(db.session.scalars(stmt.limit(50_000)))
    page = paginate(stmt, 50)
    filters = params.query_args({**texts, "since": since, "until": until})
    return render_template("accounts/admin/audit.html", page=page, filters=filters)


def _audit_csv(events: Iterable[AuditEvent]) -> Response:
    return csv_download(
        "audit-log.csv",
        ["time_utc", "actor", "action", "object_type", "object_id", "ip", "changes"],
        (
            [
                e.occurred_at.isoformat(),
                e.actor_email or "",
                e.action,
                e.object_type,
                e.object_id or "",
                e.ip or "",
                e.changes,
            ]
            for e in events
        ),
    )
