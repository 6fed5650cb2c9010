from decimal import Decimal

import pytest
from sqlalchemy import select

from accounts.models import Membership, Organization
from core.audit import AuditEvent
from core.extensions import db
from tests.accounts.helpers import audit_actions
from tests.conftest import sign_in

SETTINGS = {
    "name": "Acme Software",
    "currency": "EUR",
    "payment_terms_days": "45",
    "tax_rate": "19.00",
    "invoice_prefix": "ACME",
    "terms_text": "Our terms.",
    "terms_version": "2026-11",
}


@pytest.fixture
def admin(client, tenant_a):
    return sign_in(client, tenant_a.people["admin"])


def test_admin_creates_a_customer_and_the_event_is_audited(admin, unscoped):
    response = admin.post("/admin/organizations", data={"name": "Initech", "kind": "customer"})
    assert response.status_code == 302
    assert b"Initech" in admin.get("/admin/organizations").data
    with unscoped():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "organization.created")
        )
        assert event.changes == {"name": "Initech"}
        assert event.actor_email.startswith("admin.")


def test_duplicate_organisation_names_are_explained(admin, tenant_a):
    response = admin.post(
        "/admin/organizations", data={"name": "acme software customer", "kind": "customer"}
    )
    assert response.status_code == 200
    assert b"already exists" in response.data


def test_another_vendor_may_reuse_a_name(client, tenant_b):
    sign_in(client, tenant_b.people["admin"])
    response = client.post(
        "/admin/organizations", data={"name": "Acme Software Customer", "kind": "customer"}
    )
    assert response.status_code == 302


def test_deactivating_a_customer_signs_its_people_out(client, tenant_a, app, unscoped):
    buyer_client = app.test_client()
    sign_in(buyer_client, tenant_a.people["buyer"])
    assert buyer_client.get("/").status_code == 200
    sign_in(client, tenant_a.people["admin"])
    response = client.post(
        f"/admin/organizations/{tenant_a.customer_id}/active", data={"active": ""}
    )
    assert response.status_code == 302
    assert buyer_client.get("/").status_code == 302
    assert "organization.deactivated" in audit_actions(unscoped)


def test_renaming_records_before_and_after(admin, tenant_a, unscoped):
    admin.post(f"/admin/organizations/{tenant_a.partner_id}", data={"name": "Partner Renamed"})
    with unscoped():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "organization.updated")
        )
        assert event.changes == {"name": ["Acme Software Partner", "Partner Renamed"]}


def test_changing_a_role_and_removing_access(admin, tenant_a, unscoped):
    csm = tenant_a.people["csm"]
    admin.post(f"/admin/memberships/{csm.membership_id}/role", data={"role": "finance"})
    admin.post(f"/admin/memberships/{csm.membership_id}/active", data={"active": ""})
    with unscoped():
        membership = db.session.get(Membership, csm.membership_id)
        assert (membership.role.value, membership.active) == ("finance", False)
    assert {"membership.role_changed", "membership.deactivated"} <= set(audit_actions(unscoped))


def test_a_customer_role_cannot_be_given_to_a_vendor_member(admin, tenant_a, unscoped):
    csm = tenant_a.people["csm"]
    response = admin.post(
        f"/admin/memberships/{csm.membership_id}/role",
        data={"role": "buyer"},
        follow_redirects=True,
    )
    assert b"Choose one of the roles offered." in response.data
    with unscoped():
        assert db.session.get(Membership, csm.membership_id).role.value == "csm"


def test_admins_cannot_lock_themselves_out(admin, tenant_a, unscoped):
    own = tenant_a.people["admin"]
    response = admin.post(
        f"/admin/memberships/{own.membership_id}/active", data={"active": ""}, follow_redirects=True
    )
    assert b"cannot change or remove your own access" in response.data
    with unscoped():
        assert db.session.get(Membership, own.membership_id).active is True


def test_settings_are_saved_and_audited(admin, tenant_a, unscoped):
    assert admin.post("/admin/settings", data=SETTINGS).status_code == 302
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        assert (vendor.currency, vendor.payment_terms_days, vendor.tax_rate) == (
            "EUR",
            45,
            Decimal("19.00"),
        )
    assert "organization.settings_updated" in audit_actions(unscoped)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tax_rate", "150", b"Between 0 and 100."),
        ("tax_rate", "-1", b"Between 0 and 100."),
        ("payment_terms_days", "9999", b"Between 0 and 365."),
        ("invoice_prefix", "acme inc", b"Capital letters and digits only"),
        ("currency", "XXXX", b"Not a valid choice"),
        ("name", "名" * 500, b"Field cannot be longer than 120 characters."),
    ],
)
def test_bad_settings_are_explained_and_nothing_changes(
    admin, tenant_a, unscoped, field, value, message
):
    response = admin.post("/admin/settings", data={**SETTINGS, field: value})
    assert response.status_code == 200
    assert message in response.data
    with unscoped():
        assert db.session.get(Organization, tenant_a.vendor_id).currency == "USD"


def test_the_audit_log_filters_and_exports(admin, tenant_a):
    admin.post("/admin/organizations", data={"name": "Initech", "kind": "customer"})
    admin.post("/admin/organizations", data={"name": "Hooli", "kind": "partner"})
    page = admin.get("/admin/audit?action=organization.created")
    assert page.data.count(b"organization.created</code>") == 2
    csv_export = admin.get("/admin/audit?format=csv&action=organization")
    assert csv_export.mimetype == "text/csv"
    assert csv_export.data.decode().count("organization.created") == 2


def test_the_audit_log_shows_only_this_vendors_events(client, tenant_a, tenant_b):
    sign_in(client, tenant_b.people["admin"])
    client.post("/admin/organizations", data={"name": "Globex Secret Client", "kind": "customer"})
    sign_in(client, tenant_a.people["admin"])
    assert b"Globex Secret Client" not in client.get("/admin/audit").data


@pytest.mark.parametrize("role", ["csm", "finance", "buyer", "partner_manager"])
def test_admin_pages_are_refused_to_other_roles(client, tenant_a, role):
    sign_in(client, tenant_a.people[role])
    for path in ("/admin/people", "/admin/organizations", "/admin/settings", "/admin/audit"):
        assert client.get(path).status_code == 403


def test_navigation_shows_admin_pages_only_to_admins(client, tenant_a):
    sign_in(client, tenant_a.people["admin"])
    assert b"Audit log" in client.get("/").data
    sign_in(client, tenant_a.people["buyer"])
    assert b"Audit log" not in client.get("/").data


def test_lists_paginate(admin, tenant_a, unscoped):
    with unscoped():
        db.session.add_all(
            Organization(name=f"Customer {n:03}", kind="customer", vendor_id=tenant_a.vendor_id)
            for n in range(30)
        )
        db.session.commit()
    first = admin.get("/admin/organizations?kind=customer")
    second = admin.get("/admin/organizations?kind=customer&page=2")
    assert b"Customer 000" in first.data
    assert b"Customer 029" not in first.data
    assert b"Customer 029" in second.data
    assert admin.get("/admin/organizations?page=999").status_code == 200
