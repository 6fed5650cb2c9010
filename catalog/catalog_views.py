"""Vendor admin pages for catalogs: items in order, catalog prices, customers, publishing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms.fields.choices import SelectChoice

from accounts.queries import organizations_of_vendor
from catalog import bp, catalogs, queries
from catalog.forms import AddItemForm, AssignForm, CatalogForm, PriceForm, options
from catalog.models import Catalog, CatalogItem
from core.errors import ServiceError
from core.money import Money
from core.navigation import nav_item
from core.permissions import OrgKind, Role, current_actor, get_or_404, requires

nav_item("Catalogs", "catalog.catalogs", Role.ADMIN, group="Sell", icon="journals")


@bp.route("/admin/catalogs", methods=["GET", "POST"], endpoint="catalogs")
@requires(Role.ADMIN)
def catalog_list() -> ResponseReturnValue:
    form = CatalogForm()
    if form.validate_on_submit():
        try:
            catalog = catalogs.create_catalog(
                current_actor(), form.name.data, form.description.data or ""
            )
        except ServiceError as error:
            form.name.errors.append(error.message)
        else:
            flash(f"Catalog “{catalog.name}” created. Add servlets to it next.", "success")
            return redirect(url_for("catalog.catalog", catalog_id=catalog.id))
    return render_template(
        "catalog/admin/catalogs.html", form=form, rows=queries.catalogs_with_counts()
    )


def _catalog(catalog_id: int) -> Catalog:
    return get_or_404(Catalog, catalog_id, *queries.catalog_page_options())


def _customers() -> list[SelectChoice]:
    return options(
        [(o.id, o.name) for o in organizations_of_vendor(active=True) if o.kind == OrgKind.CUSTOMER]
    )


@bp.route("/admin/catalogs/<int:catalog_id>", methods=["GET", "POST"])
@requires(Role.ADMIN)
def catalog(catalog_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    form = CatalogForm(obj=catalog)
    if form.validate_on_submit():
        try:
            catalogs.update_catalog(
                current_actor(), catalog, form.name.data, form.description.data or ""
            )
        except ServiceError as error:
            form.name.errors.append(error.message)
        else:
            flash("Catalog saved.", "success")
            return redirect(url_for("catalog.catalog", catalog_id=catalog_id))
    in_catalog = {item.servlet_id for item in catalog.items}
    add_form = AddItemForm()
    add_form.servlet_id.choices = options(
        [(sid, title) for sid, title in queries.publishable_servlets() if sid not in in_catalog]
    )
    assign_form = AssignForm(customers=[a.customer_id for a in catalog.assignments])
    assign_form.customers.choices = _customers()
    return render_template(
        "catalog/admin/catalog.html",
        catalog=catalog,
        form=form,
        add_form=add_form,
        assign_form=assign_form,
        price_form=PriceForm(),
    )


def _attempt(catalog_id: int, change: Callable[[], object], done: str, anchor: str = "") -> Any:
    """Run a service call, flash its outcome and go back to the catalog page."""
    try:
        change()
    except ServiceError as error:
        flash(error.message, "danger")
    else:
        flash(done, "success")
    return redirect(url_for("catalog.catalog", catalog_id=catalog_id) + anchor)


@bp.post("/admin/catalogs/<int:catalog_id>/items")
@requires(Role.ADMIN)
def add_catalog_item(catalog_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    form = AddItemForm()
    form.servlet_id.choices = options(queries.publishable_servlets())
    if not form.validate_on_submit():
        flash("Choose a published servlet to add.", "danger")
        return redirect(url_for("catalog.catalog", catalog_id=catalog_id))
    return _attempt(
        catalog_id,
        lambda: catalogs.add_item(current_actor(), catalog, form.servlet_id.data),
        "Servlet added.",
    )


@bp.post("/admin/catalogs/<int:catalog_id>/items/<int:item_id>/remove")
@requires(Role.ADMIN)
def remove_catalog_item(catalog_id: int, item_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    return _attempt(
        catalog_id,
        lambda: catalogs.remove_item(current_actor(), catalog, item_id),
        "Servlet removed from the catalog.",
    )


@bp.post("/admin/catalogs/<int:catalog_id>/items/<int:item_id>/move")
@requires(Role.ADMIN)
def move_catalog_item(catalog_id: int, item_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    step = -1 if request.form.get("direction") == "up" else 1
    return _attempt(
        catalog_id,
        lambda: catalogs.move_item(current_actor(), catalog, item_id, step),
        "Order changed.",
        f"#item-{item_id}",
    )


@bp.post("/admin/catalogs/<int:catalog_id>/items/<int:item_id>/price")
@requires(Role.ADMIN)
def price_catalog_item(catalog_id: int, item_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    item = next((i for i in catalog.items if i.id == item_id), None)
    form = PriceForm()
    if item is None or not form.validate_on_submit():
        flash("Enter a price like 1250 or 1250.50, or leave it empty.", "danger")
        return redirect(url_for("catalog.catalog", catalog_id=catalog_id))
    try:
        price = _override(item, form.price.data or "")
    except ValueError as error:
        flash(str(error), "danger")
        return redirect(url_for("catalog.catalog", catalog_id=catalog_id) + f"#item-{item_id}")
    return _attempt(
        catalog_id,
        lambda: catalogs.set_price_override(current_actor(), catalog, item_id, price),
        "Catalog price saved.",
        f"#item-{item_id}",
    )


def _override(item: CatalogItem, text: str) -> Money | None:
    """The override typed in the item's currency; ``None`` (empty) means the list price."""
    if not text.strip():
        return None
    currency = item.servlet.latest.currency
    try:
        return Money.parse(text, currency)
    except ValueError as error:
        if "decimals" in str(error):
            raise
        raise ValueError("Enter a price like 1250 or 1250.50.") from error


@bp.post("/admin/catalogs/<int:catalog_id>/assignments")
@requires(Role.ADMIN)
def assign_catalog(catalog_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    form = AssignForm()
    form.customers.choices = _customers()
    if not form.validate_on_submit():
        flash("Choose customers from the list.", "danger")
        return redirect(url_for("catalog.catalog", catalog_id=catalog_id))
    customer_ids = set(form.customers.data or [])
    return _attempt(
        catalog_id,
        lambda: catalogs.assign_customers(current_actor(), catalog, customer_ids),
        "Assignments saved.",
    )


@bp.post("/admin/catalogs/<int:catalog_id>/publish")
@requires(Role.ADMIN)
def publish_catalog(catalog_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    return _attempt(
        catalog_id,
        lambda: catalogs.publish_catalog(current_actor(), catalog),
        "Published: its customers see it now.",
    )


@bp.post("/admin/catalogs/<int:catalog_id>/unpublish")
@requires(Role.ADMIN)
def unpublish_catalog(catalog_id: int) -> ResponseReturnValue:
    catalog = _catalog(catalog_id)
    return _attempt(
        catalog_id,
        lambda: catalogs.unpublish_catalog(current_actor(), catalog),
        "Back to draft: customers no longer see it.",
    )
