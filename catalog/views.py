"""Customer pages: the catalog with filters and search, and the servlet page (a one-page
mini-SOW whose "Add to cart" posts to the ordering area). Importing this module wires the
whole catalog area."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup

from catalog import bp, policies, queries, recommendations
from catalog.content import MAX_PRICE_UNITS
from catalog.forms import BrowseForm, DeclineForm
from catalog.markdown import render_markdown
from catalog.models import (
    DeliveryMode,
    LifecycleStage,
    Recommendation,
    Servlet,
    ServletKind,
)
from catalog.page_cache import page_cache
from core import params
from core.money import Money, minor_digits
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import CUSTOMER_ROLES, current_actor, get_or_404, requires
from core.tenancy import all_tenants

nav_item("Catalog", "catalog.browse", *CUSTOMER_ROLES, group="Sell", icon="grid")

CARDS_PER_PAGE = 12


@bp.app_template_filter("markdown")
def markdown_filter(source: str | None) -> Markup:
    return render_markdown(source or "")


@bp.app_template_global()
def recommended_for_you() -> list[Recommendation]:
    """The open recommendations a buyer's home page lists."""
    actor = current_actor()
    if not policies.buys(actor):
        return []
    return queries.recommended_for(actor)


def _filters(form: BrowseForm) -> queries.BrowseFilters:
    """The filters of the query string; a box with a bad value is ignored (and flagged)."""

    def ok(field: object) -> bool:
        return not field.errors  # type: ignore[attr-defined]

    filters = queries.BrowseFilters(
        q=form.q.data if ok(form.q) and form.q.data else "",
        kinds=[ServletKind(k) for k in form.kind.data or []] if ok(form.kind) else [],
        stages=[LifecycleStage(s) for s in form.stage.data or []] if ok(form.stage) else [],
        modes=[DeliveryMode(m) for m in form.mode.data or []] if ok(form.mode) else [],
        max_days=form.max_days.data if ok(form.max_days) else None,
        sort=form.sort.data if ok(form.sort) else "catalog",
    )
    if form.min_price.data or form.max_price.data:
        currency = current_user.membership.vendor.currency
        filters.min_price_minor = _amount(form.min_price, currency)
        filters.max_price_minor = _amount(form.max_price, currency)
    return filters


def _amount(field: object, currency: str) -> int | None:
    text = (field.data or "").strip()  # type: ignore[attr-defined]
    if not text or field.errors:  # type: ignore[attr-defined]
        return None
    try:
        amount = Money.parse(text, currency).amount
    except ValueError:
        amount = -1
    if not 0 <= amount <= MAX_PRICE_UNITS * 10 ** minor_digits(currency):
        field.errors.append("Enter an amount like 500 or 2500.")  # type: ignore[attr-defined]
        return None
    return amount


@dataclass(frozen=True)
class CatalogPage:
    """A rendered catalog page body and its title, as the page cache keeps them."""

    title: str
    body: Markup


@bp.get("/catalog")
@requires(*CUSTOMER_ROLES)
def browse() -> ResponseReturnValue:
    membership = current_user.membership
    key = (membership.organization_id, membership.vendor.catalog_revision, request.query_string)
    page = page_cache().get_or_render(key, _render_catalog_page)
    return render_template("catalog/browse.html", page=page)


def _render_catalog_page() -> CatalogPage:
    catalogs = queries.assigned_catalogs(current_actor())
    if not catalogs:
        return _catalog_page("Catalog", catalog=None)
    wanted = params.object_id("catalog")
    catalog = next((c for c in catalogs if c.id == wanted), catalogs[0])
    form = BrowseForm(formdata=request.args)
    form.validate()
    filters = _filters(form)
    cards = queries.catalog_cards(catalog, filters)
    return _catalog_page(
        catalog.name,
        catalogs=catalogs,
        catalog=catalog,
        form=form,
        page=paginate(cards.items, CARDS_PER_PAGE, count_select=cards.count),
        filtered=filters.narrowed,
    )


def _catalog_page(title: str, **context: Any) -> CatalogPage:
    html = render_template("catalog/_page.html", **context)
    return CatalogPage(title, Markup(html))  # noqa: S704  (an autoescaped template's output)


@bp.get("/catalog/servlets/<int:servlet_id>")
@requires(*CUSTOMER_ROLES)
def servlet_page(servlet_id: int) -> ResponseReturnValue:
    actor = current_actor()
    get_or_404(Servlet, servlet_id)
    if policies.buys(actor):
        recommendation = queries.open_recommendation(actor, servlet_id)
        if recommendation is not None:
            recommendations.mark_viewed(actor, recommendation)
    page = queries.servlet_page(actor, servlet_id, params.object_id("catalog"))
    if page is None:
        abort(404)
    return render_template(
        "catalog/servlet.html",
        page=page,
        version=page.version,
        price=page.item.price_of(page.version),
        can_order=policies.buys(actor),
        decline_form=DeclineForm(),
    )


@bp.cli.command("expire-recommendations")
def expire_recommendations_command() -> None:
    """Expire open recommendations past their expiry date (safe to run again)."""
    with all_tenants():
        count = recommendations.expire_due()
    click.echo(f"Expired {count} recommendations.")
