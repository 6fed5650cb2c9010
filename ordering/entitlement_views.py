"""Entitlement pages: the vendor grants credits; the customer sees what it has left."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from catalog.models import ServletKind
from catalog.queries import publishable_servlets
from core import params
from core.db import utcnow
from core.errors import ServiceError
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import CUSTOMER_ROLES, current_actor, requires
from ordering import bp, entitlements
from ordering.forms import GrantForm, choice
from ordering.order_views import customer_choices

nav_item(
    "Entitlements",
    "ordering.entitlements_page",
    *entitlements.GRANTERS,
    group="Order",
    icon="ticket-perforated",
)
nav_item("Credits", "ordering.credits", *CUSTOMER_ROLES, group="Order", icon="coin")

PER_PAGE = 25


def _target_choices() -> list:
    kinds = [choice(f"kind:{kind.value}", f"Any {kind.label.lower()}") for kind in ServletKind]
    servlets = [choice(f"servlet:{sid}", title) for sid, title in publishable_servlets()]
    return kinds + servlets


def _target(value: str) -> tuple[int | None, ServletKind | None]:
    what, _, key = value.partition(":")
    if what == "kind":
        return None, ServletKind(key)
    return int(key), None


@bp.route("/entitlements", methods=["GET", "POST"])
@requires(*entitlements.GRANTERS)
def entitlements_page() -> ResponseReturnValue:
    customer_id = params.object_id("customer")
    form = GrantForm()
    form.customer_id.choices = customer_choices()
    form.target.choices = _target_choices()
    if request.method == "GET":
        form.valid_from.data, form.valid_until.data = entitlements.default_validity(utcnow().date())
        form.customer_id.data = customer_id
    if form.validate_on_submit():
        servlet_id, kind = _target(form.target.data)
        try:
            entitlements.grant_entitlement(
                current_actor(),
                entitlements.Grant(
                    customer_id=form.customer_id.data,
                    servlet_id=servlet_id,
                    kind=kind,
                    quantity=form.quantity.data,
                    valid_from=form.valid_from.data,
                    valid_until=form.valid_until.data,
                    note=form.note.data or "",
                ),
            )
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash("Credits granted.", "success")
            return redirect(url_for("ordering.entitlements_page"))
    page = paginate(entitlements.entitlements_of(customer_id), PER_PAGE)
    return render_template(
        "ordering/entitlements.html", form=form, page=page, today=utcnow().date()
    )


@bp.get("/credits")
@requires(*CUSTOMER_ROLES)
def credits() -> ResponseReturnValue:
    page = paginate(entitlements.entitlements_of(current_actor().organization_id), PER_PAGE)
    return render_template("ordering/credits.html", page=page, today=utcnow().date())
