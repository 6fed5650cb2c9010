"""``/api/v1/catalogs``: the catalogs the caller reaches and what each offers.

Vendor staff read every catalog of their vendor; a customer's people the published catalogs
assigned to their organisation (``Catalog.reach``); partners none. A catalog's items are what
its customers are offered, in catalog order, priced as they see them: the published,
unretired servlets (``catalog.queries.catalog_cards``, the catalog page's own query).
"""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue
from marshmallow import fields

from api.fields import ApiSchema, MoneyField, Timestamp
from api.pagination import ListArgs, keyset_page, page_of
from api.rest import ApiBlueprint
from catalog.models import Catalog, CatalogItem, CatalogState
from catalog.queries import BrowseFilters, catalog_cards
from core.permissions import get_or_404, scoped

blp = ApiBlueprint(
    "catalogs",
    __name__,
    area="catalog",
    url_prefix="/catalogs",
    description="Catalogs: named selections of servlets with their own prices.",
)


class CatalogSchema(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": [s.value for s in CatalogState]})
    created_at = Timestamp(required=True)


class CatalogItemSchema(ApiSchema):
    servlet_id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    title = fields.String(required=True)
    price = MoneyField(required=True, metadata={"description": "The catalog's price."})


def _catalog(catalog: Catalog) -> dict[str, Any]:
    return {
        "id": catalog.id,
        "name": catalog.name,
        "description": catalog.description,
        "state": catalog.state.value,
        "created_at": catalog.created_at,
    }


@blp.route("", endpoint="list")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_of(CatalogSchema))
def list_catalogs(args: dict[str, Any]) -> ResponseReturnValue:
    """Catalogs the token's member reaches, by id, a cursor page at a time."""
    page = keyset_page(scoped(Catalog), args, keys=(Catalog.id,))
    body, headers = page.answer(args)
    body["data"] = [_catalog(catalog) for catalog in page.items]
    return body, headers


@blp.route("/<int:catalog_id>", endpoint="show")
@blp.etag
@blp.response(200, CatalogSchema)
def show_catalog(catalog_id: int) -> ResponseReturnValue:
    """One catalog, if the token's member reaches it (else 404)."""
    return _catalog(get_or_404(Catalog, catalog_id))


@blp.route("/<int:catalog_id>/items", endpoint="items")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_of(CatalogItemSchema))
def list_items(args: dict[str, Any], catalog_id: int) -> ResponseReturnValue:
    """What the catalog offers, in its order, a cursor page at a time."""
    catalog = get_or_404(Catalog, catalog_id)
    cards = catalog_cards(catalog, BrowseFilters()).items.order_by(None)
    page = keyset_page(cards, args, keys=(CatalogItem.position, CatalogItem.id))
    body, headers = page.answer(args)
    body["data"] = [
        {
            "servlet_id": item.servlet_id,
            "position": item.position,
            "title": item.servlet.published.title,
            "price": item.price_of(item.servlet.published),
        }
        for item in page.items
    ]
    return body, headers
