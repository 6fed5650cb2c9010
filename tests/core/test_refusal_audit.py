"""Refused access and failed sign-ins reach the audit log of the tenant that was attacked,
naming the object, where that tenant's admin can read them."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Membership
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import OrgKind, Role, _object_in_route
from tests import factories
from tests.conftest import sign_in
from tests.tenant_objects import ID_BUILDERS


def events(unscoped, action: str) -> list[tuple[int | None, str, int | None]]:
    with unscoped():
        rows = db.session.execute(
            select(AuditEvent.vendor_id, AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in rows]


def test_opening_another_tenants_order_is_recorded_under_that_tenant(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        order_id = ID_BUILDERS["order_id"](tenant_a)
    sign_in(client, tenant_b.people[Role.BUYER])

    assert client.get(f"/orders/{order_id}").status_code == 404

    recorded = events(unscoped, "access.denied")
    assert (tenant_a.vendor_id, "order", order_id) in recorded
    assert (tenant_b.vendor_id, "order", order_id) in recorded  # the prober's admin sees it too


def test_a_refusal_by_role_names_the_object_and_reaches_its_tenant(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        servlet_id = ID_BUILDERS["servlet_id"](tenant_a)
    sign_in(client, tenant_b.people[Role.BUYER])

    assert client.get(f"/admin/servlets/{servlet_id}").status_code == 404

    assert (tenant_a.vendor_id, "servlet", servlet_id) in events(unscoped, "access.denied")


def test_a_probe_of_a_missing_object_reaches_only_the_probers_tenant(
    client, tenant_a, tenant_b, unscoped
):
    sign_in(client, tenant_b.people[Role.BUYER])
    assert client.get("/orders/987654").status_code == 404
    assert events(unscoped, "access.denied") == [(tenant_b.vendor_id, "order", 987654)]


def test_the_attacked_tenants_admin_reads_the_refusal_in_the_audit_log(
    app, tenant_a, tenant_b, unscoped
):
    with unscoped():
        order_id = ID_BUILDERS["order_id"](tenant_a)
    prober = sign_in(app.test_client(), tenant_b.people[Role.BUYER])
    prober.get(f"/orders/{order_id}")

    admin = sign_in(app.test_client(), tenant_a.people[Role.ADMIN])
    page = admin.get("/admin/audit?action=access.denied").get_data(as_text=True)
    assert f"order #{order_id}" in page
    assert tenant_b.people[Role.BUYER].email in page


def test_a_failed_sign_in_is_recorded_under_each_tenant_of_the_user(
    app, client, tenant_a, tenant_b, unscoped
):
    person = tenant_a.people[Role.CSM]
    with unscoped():
        db.session.add(
            Membership(
                user_id=person.user_id,
                organization_id=tenant_b.partner_id,
                vendor_id=tenant_b.vendor_id,
                role=Role.PARTNER_MANAGER,
            )
        )
        db.session.commit()

    client.post("/sign-in", data={"email": person.email, "password": "guess"})

    assert sorted(events(unscoped, "user.sign_in_failed")) == sorted(
        [
            (tenant_a.vendor_id, "user", person.user_id),
            (tenant_b.vendor_id, "user", person.user_id),
        ]
    )
    admin = sign_in(app.test_client(), tenant_a.people[Role.ADMIN])
    page = admin.get("/admin/audit?action=sign_in_failed").get_data(as_text=True)
    assert person.email in page


def test_a_failed_sign_in_as_an_unknown_address_belongs_to_no_tenant(client, tenant_a, unscoped):
    client.post("/sign-in", data={"email": "nobody@nowhere.example", "password": "guess"})
    assert events(unscoped, "user.sign_in_failed") == [(None, "user", None)]


def test_a_failed_sign_in_of_another_tenants_user_stays_out_of_this_tenants_log(
    app, tenant_a, tenant_b
):
    app.test_client().post(
        "/sign-in", data={"email": tenant_b.people[Role.BUYER].email, "password": "guess"}
    )
    admin = sign_in(app.test_client(), tenant_a.people[Role.ADMIN])
    page = admin.get("/admin/audit?action=sign_in_failed").get_data(as_text=True)
    assert tenant_b.people[Role.BUYER].email not in page


def test_a_user_without_memberships_is_recorded_under_no_tenant(client, app, unscoped):
    with unscoped():
        vendor = factories.organization("Lonely Vendor", OrgKind.VENDOR)
        person = factories.person(vendor, Role.ADMIN)
        db.session.execute(
            Membership.__table__.delete().where(Membership.user_id == person.user_id)
        )
        db.session.commit()
    client.post("/sign-in", data={"email": person.email, "password": "guess"})
    assert events(unscoped, "user.sign_in_failed") == [(None, "user", person.user_id)]


def test_a_refusal_is_recorded_against_the_first_route_argument_naming_a_tenants_object(app):
    assert _object_in_route({"page": 2, "order_id": 5, "servlet_id": 6}) == ("order", 5)
    assert _object_in_route({"order": 5}) is None  # not an id of a table
    assert _object_in_route({"order_id": "ORD-5"}) is None  # not an id
    assert _object_in_route({"user_id": 5}) is None  # a table, not a tenant's
