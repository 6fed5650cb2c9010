"""Every state change of catalogs: items, their order and prices, which
customers see them, and publishing. Each checks the role, validates, audits and commits."""

from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import Organization
from catalog.content import MAX_PRICE_UNITS
from catalog.models import Catalog, CatalogAssignment, CatalogItem, CatalogState, Servlet
from core import audit
from core.errors import Conflict, InvalidTransition, NotFound, ServiceError
from core.extensions import db
from core.money import Money, minor_digits
from core.permissions import Actor, OrgKind, Role, require

EDITORS = (Role.ADMIN,)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 80:
        raise ServiceError("Name: between 1 and 80 characters.")
    return name


def _name_taken(vendor_id: int, name: str, except_id: int | None = None) -> bool:
    stmt = select(Catalog.id).where(
        Catalog.vendor_id == vendor_id, func.lower(Catalog.name) == name.lower()
    )
    if except_id is not None:
        stmt = stmt.where(Catalog.id != except_id)
    return db.session.scalar(stmt) is not None


def create_catalog(actor: Actor, name: str, description: str = "") -> Catalog:
    require(actor, *EDITORS)
    name = _check_name(name)
    if _name_taken(actor.vendor_id, name):
        raise Conflict(f"A catalog named “{name}” already exists.")
    catalog = Catalog(vendor_id=actor.vendor_id, name=name, description=description.strip()[:500])
    db.session.add(catalog)
    db.session.flush()
    audit.record("catalog.created", catalog, changes={"name": name})
    db.session.commit()
    return catalog


def update_catalog(actor: Actor, catalog: Catalog, name: str, description: str) -> None:
    require(actor, *EDITORS)
    name = _check_name(name)
    if _name_taken(catalog.vendor_id, name, except_id=catalog.id):
        raise Conflict(f"A catalog named “{name}” already exists.")
    changes = audit.diff(catalog, {"name": name, "description": description.strip()[:500]})
    audit.record("catalog.updated", catalog, changes=changes)
    db.session.commit()


def _servlet_of_vendor(vendor_id: int, servlet_id: int) -> Servlet:
    servlet = db.session.scalar(
        select(Servlet).where(Servlet.id == servlet_id, Servlet.vendor_id == vendor_id)
    )
    if servlet is None:
        raise NotFound("That servlet does not exist.")
    return servlet


def add_item(actor: Actor, catalog: Catalog, servlet_id: int) -> CatalogItem:
    """Append a servlet to the catalog (customers see it once it is published)."""
    require(actor, *EDITORS)
    servlet = _servlet_of_vendor(catalog.vendor_id, servlet_id)
    if servlet.retired_at is not None:
        raise InvalidTransition("A retired servlet cannot be added to a catalog.")
    exists = db.session.scalar(
        select(CatalogItem.id).where(
            CatalogItem.catalog_id == catalog.id, CatalogItem.servlet_id == servlet.id
        )
    )
    if exists is not None:
        raise Conflict("That servlet is already in this catalog.")
    last = db.session.scalar(
        select(func.max(CatalogItem.position)).where(CatalogItem.catalog_id == catalog.id)
    )
    item = CatalogItem(
        vendor_id=catalog.vendor_id,
        catalog_id=catalog.id,
        servlet_id=servlet.id,
        position=(last or 0) + 1,
    )
    db.session.add(item)
    db.session.flush()
    audit.record("catalog.item_added", catalog, changes={"servlet_id": servlet.id})
    db.session.commit()
    return item


def _item(catalog: Catalog, item_id: int) -> CatalogItem:
    item = db.session.scalar(
        select(CatalogItem).where(CatalogItem.id == item_id, CatalogItem.catalog_id == catalog.id)
    )
    if item is None:
        raise NotFound("That item is not in this catalog.")
    return item


def remove_item(actor: Actor, catalog: Catalog, item_id: int) -> None:
    require(actor, *EDITORS)
    item = _item(catalog, item_id)
    audit.record("catalog.item_removed", catalog, changes={"servlet_id": item.servlet_id})
    db.session.delete(item)
    db.session.commit()


def move_item(actor: Actor, catalog: Catalog, item_id: int, step: int) -> None:
    """Swap the item with its neighbour above (``step=-1``) or below (``step=1``)."""
    require(actor, *EDITORS)
    items = list(
        db.session.scalars(
            select(CatalogItem)
            .where(CatalogItem.catalog_id == catalog.id)
            .order_by(CatalogItem.position, CatalogItem.id)
        )
    )
    index = next((i for i, item in enumerate(items) if item.id == item_id), None)
    if index is None:
        raise NotFound("That item is not in this catalog.")
    target = index + (1 if step > 0 else -1)
    if not 0 <= target < len(items):
        return
    items[index], items[target] = items[target], items[index]
    for position, item in enumerate(items, 1):
        item.position = position
    audit.record(
        "catalog.item_moved",
        catalog,
        changes={"servlet_id": items[target].servlet_id, "position": target + 1},
    )
    db.session.commit()


def set_price_override(actor: Actor, catalog: Catalog, item_id: int, price: Money | None) -> None:
    """Give the item its own price in this catalog, or (``None``) use the list price."""
    require(actor, *EDITORS)
    item = _item(catalog, item_id)
    if price is not None:
        if price.amount < 0:
            raise ServiceError("Price: cannot be negative.")
        if price.amount > MAX_PRICE_UNITS * 10 ** minor_digits(price.currency):
            raise ServiceError(f"Price: at most {MAX_PRICE_UNITS:,} {price.currency}.")
    before = item.price_override
    item.price_override_minor = price.amount if price is not None else None
    item.price_override_currency = price.currency if price is not None else None
    audit.record(
        "catalog.price_set",
        catalog,
        changes={
            "servlet_id": item.servlet_id,
            "price": [str(before) if before else None, str(price) if price else None],
        },
    )
    db.session.commit()


def assign_customers(actor: Actor, catalog: Catalog, customer_ids: set[int]) -> None:
    """Make exactly ``customer_ids`` (customers of this vendor) see the catalog."""
    require(actor, *EDITORS)
    valid = set(
        db.session.scalars(
            select(Organization.id).where(
                Organization.vendor_id == catalog.vendor_id,
                Organization.kind == OrgKind.CUSTOMER,
                Organization.id.in_(customer_ids),
            )
        )
    )
    if valid != customer_ids:
        raise NotFound("One of those customers does not exist.")
    current = {
        a.customer_id: a
        for a in db.session.scalars(
            select(CatalogAssignment).where(CatalogAssignment.catalog_id == catalog.id)
        )
    }
    added, removed = valid - current.keys(), current.keys() - valid
    for customer_id in removed:
        db.session.delete(current[customer_id])
    for customer_id in added:
        db.session.add(
            CatalogAssignment(
                vendor_id=catalog.vendor_id, catalog_id=catalog.id, customer_id=customer_id
            )
        )
    audit.record(
        "catalog.assigned",
        catalog,
        changes={"added": sorted(added), "removed": sorted(removed)},
    )
    db.session.commit()


def publish_catalog(actor: Actor, catalog: Catalog) -> None:
    require(actor, *EDITORS)
    if catalog.state == CatalogState.PUBLISHED:
        raise InvalidTransition("This catalog is already published.")
    catalog.state = CatalogState.PUBLISHED
    audit.record("catalog.published", catalog)
    db.session.commit()


def unpublish_catalog(actor: Actor, catalog: Catalog) -> None:
    """Back to draft: its customers stop seeing it until it is published again."""
    require(actor, *EDITORS)
    if catalog.state != CatalogState.PUBLISHED:
        raise InvalidTransition("This catalog is not published.")
    catalog.state = CatalogState.DRAFT
    audit.record("catalog.unpublished", catalog)
    db.session.commit()
