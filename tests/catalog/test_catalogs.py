"""Catalogs: ordered items, catalog prices, customers, draft and published."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from catalog import catalogs
from catalog.models import Catalog, CatalogAssignment, CatalogItem, CatalogState
from core.audit import AuditEvent
from core.errors import Conflict, InvalidTransition, NotAllowed, NotFound
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.catalog import factories
from tests.conftest import sign_in


def items_of(catalog_id: int) -> list[CatalogItem]:
    return list(
        db.session.scalars(
            select(CatalogItem)
            .where(CatalogItem.catalog_id == catalog_id)
            .order_by(CatalogItem.position)
        )
    )


def test_admin_builds_a_catalog_through_the_pages(client, tenant_a, unscoped):
    with unscoped():
        first = factories.servlet(tenant_a, title="SSO Deployment")
        second = factories.servlet(tenant_a, title="Admin Bootcamp")
    sign_in(client, tenant_a.people[Role.ADMIN])
    created = client.post("/admin/catalogs", data={"name": "Enterprise", "description": "Big"})
    assert created.status_code == 302
    with unscoped():
        catalog_id = db.session.scalar(select(Catalog.id))
    base = f"/admin/catalogs/{catalog_id}"
    client.post(f"{base}/items", data={"servlet_id": first})
    client.post(f"{base}/items", data={"servlet_id": second})
    with unscoped():
        _, bottom = items_of(catalog_id)
    client.post(f"{base}/items/{bottom.id}/move", data={"direction": "up"})
    client.post(f"{base}/items/{bottom.id}/price", data={"price": "4000.50"})
    client.post(f"{base}/assignments", data={"customers": [tenant_a.customer_id]})
    client.post(f"{base}/publish")
    page = client.get(base)
    assert page.status_code == 200
    assert b"Published" in page.data
    with unscoped():
        catalog = db.session.get(Catalog, catalog_id)
        assert catalog.state == CatalogState.PUBLISHED
        assert [i.servlet_id for i in items_of(catalog_id)] == [second, first]
        assert items_of(catalog_id)[0].price_override == Money(400_050, "USD")
        assert db.session.scalars(select(CatalogAssignment.customer_id)).all() == [
            tenant_a.customer_id
        ]
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {
        "catalog.created",
        "catalog.item_added",
        "catalog.item_moved",
        "catalog.price_set",
        "catalog.assigned",
        "catalog.published",
    } <= actions


def test_a_catalog_price_with_too_many_decimals_is_refused(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, catalog_id = factories.shop(tenant_a)
        item = factories.item_id(catalog_id, servlet_id)
    sign_in(client, tenant_a.people[Role.ADMIN])
    for bad in ("12.345", "abc", "-5", "1e30"):
        response = client.post(
            f"/admin/catalogs/{catalog_id}/items/{item}/price",
            data={"price": bad},
            follow_redirects=True,
        )
        assert response.status_code == 200
    with unscoped():
        assert items_of(catalog_id)[0].price_override is None


def test_clearing_the_catalog_price_falls_back_to_the_list_price(app, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.servlet(tenant_a)
        catalog_id = factories.catalog(
            tenant_a, [servlet_id], prices={servlet_id: Money(100, "USD")}
        )
        catalog = db.session.get(Catalog, catalog_id)
        item = factories.item_id(catalog_id, servlet_id)
        catalogs.set_price_override(factories.actor(tenant_a), catalog, item, None)
        assert items_of(catalog_id)[0].price_override is None


def test_catalog_rules_refuse_with_reasons(app, tenant_a, tenant_b, unscoped):
    with unscoped():
        admin = factories.actor(tenant_a)
        servlet_id, catalog_id = factories.shop(tenant_a)
        foreign_servlet = factories.servlet(tenant_b)
        catalog = db.session.get(Catalog, catalog_id)
        with pytest.raises(Conflict):
            catalogs.add_item(admin, catalog, servlet_id)
        with pytest.raises(NotFound):
            catalogs.add_item(admin, catalog, foreign_servlet)
        with pytest.raises(NotFound):
            catalogs.assign_customers(admin, catalog, {tenant_b.customer_id})
        with pytest.raises(NotFound):
            catalogs.assign_customers(admin, catalog, {tenant_a.partner_id})
        with pytest.raises(Conflict):
            catalogs.create_catalog(admin, db.session.get(Catalog, catalog_id).name.upper())
        with pytest.raises(InvalidTransition):
            catalogs.publish_catalog(admin, db.session.get(Catalog, catalog_id))
        with pytest.raises(NotAllowed):
            catalogs.create_catalog(factories.actor(tenant_a, Role.CSM), "Mine")
        # The same name is free in another vendor.
        catalogs.create_catalog(factories.actor(tenant_b), catalog.name)


def test_unpublishing_hides_the_catalog_from_its_customers(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, catalog_id = factories.shop(tenant_a, title="SSO Deployment")
    sign_in(client, tenant_a.people[Role.BUYER])
    assert b"SSO Deployment" in client.get("/catalog").data
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.post(f"/admin/catalogs/{catalog_id}/unpublish")
    sign_in(client, tenant_a.people[Role.BUYER])
    assert b"has not shared a catalog" in client.get("/catalog").data
    assert client.get(f"/catalog/servlets/{servlet_id}").status_code == 404


def test_renaming_and_removing_items_are_audited(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, catalog_id = factories.shop(tenant_a)
        item = factories.item_id(catalog_id, servlet_id)
    sign_in(client, tenant_a.people[Role.ADMIN])
    renamed = client.post(
        f"/admin/catalogs/{catalog_id}", data={"name": "SMB", "description": "Small firms"}
    )
    assert renamed.status_code == 302
    client.post(f"/admin/catalogs/{catalog_id}/items/{item}/remove")
    with unscoped():
        catalog = db.session.get(Catalog, catalog_id)
        assert (catalog.name, catalog.description) == ("SMB", "Small firms")
        assert items_of(catalog_id) == []
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"catalog.updated", "catalog.item_removed"} <= actions
