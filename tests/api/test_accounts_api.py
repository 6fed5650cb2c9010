"""Accounts through the API reach exactly what the account pages show: admins and CSMs read
them (a CSM only their own where the vendor says so), everyone else 403 or 404; the record
changes through ``success.accounts`` with an ETag, by the owning CSM or an admin only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import Organization
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from success import accounts
from success.health_models import AccountHealth, Band
from success.models import CustomerAccount, SuccessSettings
from tests.api import answers, factories
from tests.catalog import factories as catalog_factories

RW = ("read:success", "write:success")
OUTSIDERS = [
    Role.DELIVERY_MANAGER,
    Role.CONSULTANT,
    Role.FINANCE,
    Role.BUYER,
    Role.APPROVER,
    Role.VIEWER,
    Role.PARTNER_MANAGER,
    Role.PARTNER_CONSULTANT,
]


def _owned_by(tenant, role: Role = Role.CSM, customer_id: int | None = None) -> None:
    customer = db.session.get(Organization, customer_id or tenant.customer_id)
    customer.csm_id = tenant.people[role].membership_id
    db.session.commit()


def test_admins_and_csms_read_the_vendors_accounts(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        admin = factories.personal(tenant_a.people[Role.ADMIN], RW)
        csm = factories.personal(tenant_a.people[Role.CSM], RW)
        elsewhere = tenant_b.customer_id
    both = sorted([tenant_a.customer_id, tenant_a.neighbour_id])
    assert answers.ids(client.get("/api/v1/accounts", headers=admin.headers)) == both
    assert answers.ids(client.get("/api/v1/accounts", headers=csm.headers)) == both
    blank = client.get(f"/api/v1/accounts/{tenant_a.neighbour_id}", headers=csm.headers).json
    assert blank["stage"] == "onboarding"
    assert blank["arr"]["amount"] == 0
    assert blank["owner"] is None
    assert blank["health"] is None
    assert blank["key_contacts"] == []
    for token in (admin, csm):
        assert client.get(f"/api/v1/accounts/{elsewhere}", headers=token.headers).status_code == 404
        # a vendor or partner organisation is no account
        for org_id in (tenant_a.vendor_id, tenant_a.partner_id):
            assert (
                client.get(f"/api/v1/accounts/{org_id}", headers=token.headers).status_code == 404
            )


@pytest.mark.parametrize("role", OUTSIDERS)
def test_nobody_else_reads_or_changes_accounts(client, tenant_a, unscoped, role):
    with unscoped():
        token = factories.personal(tenant_a.people[role], RW)
    listed = client.get("/api/v1/accounts", headers=token.headers)
    assert listed.status_code == 403
    assert "data" not in listed.json
    url = f"/api/v1/accounts/{tenant_a.customer_id}"
    assert client.get(url, headers=token.headers).status_code == 404
    change = client.patch(
        url, json={"segment": "Mine"}, headers={**token.headers, "If-Match": '"x"'}
    )
    assert change.status_code == 404


def test_a_csm_kept_to_their_own_accounts_sees_only_those(client, tenant_a, unscoped):
    with unscoped():
        _owned_by(tenant_a)
        db.session.add(
            SuccessSettings(vendor_id=tenant_a.vendor_id, csms_see_own_accounts_only=True)
        )
        db.session.commit()
        csm = factories.personal(tenant_a.people[Role.CSM], RW)
        admin = factories.personal(tenant_a.people[Role.ADMIN], RW)
    assert answers.ids(client.get("/api/v1/accounts", headers=csm.headers)) == [
        tenant_a.customer_id
    ]
    other = f"/api/v1/accounts/{tenant_a.neighbour_id}"
    assert client.get(other, headers=csm.headers).status_code == 404
    assert client.get(other, headers=admin.headers).status_code == 200
    own = client.get(f"/api/v1/accounts/{tenant_a.customer_id}", headers=csm.headers).json
    assert own["owner"]["membership_id"] == tenant_a.people[Role.CSM].membership_id


def test_an_account_shows_its_record_contacts_and_health(client, tenant_a, unscoped):
    with unscoped():
        _owned_by(tenant_a)
        admin_actor = catalog_factories.actor(tenant_a, Role.ADMIN)
        customer = db.session.get(Organization, tenant_a.customer_id)
        accounts.change_key_contact(
            admin_actor,
            customer,
            accounts.ContactChange("champion", "Ada Lovelace", "ada@x.example"),
        )
        now = utcnow()
        db.session.add(
            AccountHealth(
                vendor_id=tenant_a.vendor_id,
                customer_id=tenant_a.customer_id,
                score=64,
                band=Band.AMBER,
                components={
                    "nps": {"score": 80, "weight": 10, "share": 50.0, "fact": "NPS 40", "value": 8}
                },
                computed_at=now,
                changed_at=now,
            )
        )
        db.session.commit()
        csm = factories.personal(tenant_a.people[Role.CSM], RW)
    shown = client.get(f"/api/v1/accounts/{tenant_a.customer_id}", headers=csm.headers)
    assert shown.status_code == 200
    body = shown.json
    assert body["key_contacts"] == [
        {
            "role": "champion",
            "name": "Ada Lovelace",
            "email": "ada@x.example",
            "since": utcnow().date().isoformat(),
        }
    ]
    assert body["health"]["score"] == 64
    assert body["health"]["band"] == "amber"
    assert body["health"]["components"][0]["component"] == "nps"
    assert body["updated_at"].endswith("Z")
    again = client.get(
        f"/api/v1/accounts/{tenant_a.customer_id}",
        headers={**csm.headers, "If-None-Match": shown.headers["ETag"]},
    )
    assert again.status_code == 304


def test_the_owner_or_an_admin_changes_the_record_with_an_etag(client, tenant_a, unscoped):
    with unscoped():
        _owned_by(tenant_a)
        owner = factories.personal(tenant_a.people[Role.CSM], RW)
        admin = factories.personal(tenant_a.people[Role.ADMIN], RW)
        colleague = factories.personal(factories.person_like(tenant_a, Role.CSM), RW)
        reader = factories.personal(tenant_a.people[Role.CSM], ["read:success"])
    url = f"/api/v1/accounts/{tenant_a.customer_id}"
    etag = client.get(url, headers=owner.headers).headers["ETag"]
    renewal = (utcnow().date() + timedelta(days=200)).isoformat()
    change = {
        "segment": "Enterprise",
        "touch_model": "high_touch",
        "stage": "adoption",
        "renewal_date": renewal,
        "arr": {"amount": 12_000_000, "currency": "USD"},
        "licences_bought": 400,
    }
    assert client.patch(url, json=change, headers=owner.headers).status_code == 428
    stale = {**owner.headers, "If-Match": '"0123"'}
    assert client.patch(url, json=change, headers=stale).status_code == 412
    refused = client.patch(url, json=change, headers={**colleague.headers, "If-Match": etag})
    assert refused.status_code == 403
    assert (
        client.patch(url, json=change, headers={**reader.headers, "If-Match": etag}).status_code
        == 403
    )

    changed = client.patch(url, json=change, headers={**owner.headers, "If-Match": etag})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.json["arr"] == {"amount": 12_000_000, "currency": "USD"}
    assert changed.json["renewal_date"] == renewal
    assert changed.json["licences_bought"] == 400
    assert changed.headers["ETag"] != etag
    # the old tag is stale now, for the admin as for anyone
    late = client.patch(url, json={"segment": "SMB"}, headers={**admin.headers, "If-Match": etag})
    assert late.status_code == 412
    fresh = {**admin.headers, "If-Match": changed.headers["ETag"]}
    partial = client.patch(url, json={"segment": "SMB"}, headers=fresh)
    assert partial.json["segment"] == "SMB"
    assert partial.json["stage"] == "adoption"
    with unscoped():
        record = db.session.scalar(
            select(CustomerAccount).where(CustomerAccount.organization_id == tenant_a.customer_id)
        )
        assert (record.arr_minor, record.segment, record.licences_bought) == (
            12_000_000,
            "SMB",
            400,
        )
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "success.account_updated")
            .order_by(AuditEvent.id)
        ).all()
        assert [event.changes["api_token_id"] for event in events] == [owner.id, admin.id]


def test_a_refused_change_points_at_its_field(client, tenant_a, unscoped):
    with unscoped():
        admin = factories.personal(tenant_a.people[Role.ADMIN], RW)
    url = f"/api/v1/accounts/{tenant_a.customer_id}"
    etag = client.get(url, headers=admin.headers).headers["ETag"]
    headers = {**admin.headers, "If-Match": etag}
    long_ago = (utcnow().date() - timedelta(days=3 * 366)).isoformat()
    for change, pointer in (
        ({"stage": "asleep"}, "#/stage"),
        ({"licences_bought": -1}, "#/licences_bought"),
        ({"licences_bought": "12"}, "#/licences_bought"),
        ({"arr": {"amount": 10, "currency": "EUR"}}, "#/arr"),
        ({"arr": {"amount": -10, "currency": "USD"}}, "#/arr"),
        ({"arr": {"amount": 1.5, "currency": "USD"}}, "#/arr/amount"),
        ({"renewal_date": long_ago}, "#/renewal_date"),
        ({"renewal_date": "31/12/2027"}, "#/renewal_date"),
        ({"segment": "x" * 61}, "#/segment"),
        ({"owner": 3}, "#/owner"),
    ):
        answer = client.patch(url, json=change, headers=headers)
        assert answer.status_code == 422, (change, answer.get_data(as_text=True))
        assert answer.mimetype == "application/problem+json"
        assert [e["pointer"] for e in answer.json["errors"]] == [pointer], change
    with unscoped():
        assert db.session.scalar(select(CustomerAccount)) is None


def test_accounts_need_a_success_scope(client, tenant_a, unscoped):
    with unscoped():
        catalog_only = factories.personal(tenant_a.people[Role.ADMIN], ["write:catalog"])
        service = factories.service(tenant_a.people[Role.ADMIN], Role.CSM, ["read:success"])
    url = f"/api/v1/accounts/{tenant_a.customer_id}"
    for path in ("/api/v1/accounts", url):
        refused = client.get(path, headers=catalog_only.headers)
        assert refused.status_code == 403
        assert "read:success" in refused.json["detail"]
        assert client.get(path, headers=service.headers).status_code == 200
    etag = client.get(url, headers=service.headers).headers["ETag"]
    write = client.patch(url, json={"segment": "A"}, headers={**service.headers, "If-Match": etag})
    assert write.status_code == 403
    assert "write:success" in write.json["detail"]


def test_updated_since_keeps_records_saved_since(client, tenant_a, unscoped):
    with unscoped():
        admin_actor = catalog_factories.actor(tenant_a, Role.ADMIN)
        for customer_id in (tenant_a.customer_id, tenant_a.neighbour_id):
            db.session.get(Organization, customer_id).created_at = utcnow() - timedelta(days=30)
        db.session.commit()
        accounts.update_account(
            admin_actor,
            db.session.get(Organization, tenant_a.neighbour_id),
            accounts.AccountRecord("Mid", "low_touch", "adoption", None, "10", 5),
        )
        admin = factories.personal(tenant_a.people[Role.ADMIN], RW)
    since = (utcnow() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    answer = client.get(f"/api/v1/accounts?updated_since={since}", headers=admin.headers)
    assert answers.ids(answer) == [tenant_a.neighbour_id]
    assert answer.json["data"][0]["arr"] == {"amount": 1000, "currency": "USD"}
    first = client.get("/api/v1/accounts?limit=1", headers=admin.headers)
    assert answers.ids(first) == [min(tenant_a.customer_id, tenant_a.neighbour_id)]
    assert first.json["next_cursor"]
