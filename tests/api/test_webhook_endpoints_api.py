"""Webhook endpoints through the API: a vendor admin registers, reads, changes (with an ETag),
switches off and on, rotates and deletes them through ``api.webhooks``; the secret shows on
registration and rotation only; nobody else reaches them; refused addresses point at the
field."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.webhook_models import WebhookEndpoint
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import Role
from tests.api import factories
from tests.api.test_webhook_delivery import WEBHOOK_CONFIG, add_endpoint

URL = "/api/v1/webhook-endpoints"
HOOK = "http://127.0.0.1:9/hooks"  # nothing listens: these tests only register
WRITE = ("write:webhooks",)


@pytest.fixture
def app_config() -> dict[str, object]:
    return dict(WEBHOOK_CONFIG)


def test_an_admin_registers_reads_changes_rotates_and_deletes(client, tenant_a, unscoped):
    with unscoped():
        admin = factories.personal(tenant_a.people[Role.ADMIN], WRITE)
    made = client.post(
        URL,
        json={"url": HOOK, "description": "CRM", "event_types": ["invoice.paid", "order.placed"]},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    secret = made.json["secret"]
    assert secret.startswith("whsec_")
    assert made.json["event_types"] == ["order.placed", "invoice.paid"]  # in the events' order
    one = f"{URL}/{made.json['id']}"

    shown = client.get(one, headers=admin.headers)
    assert shown.json["url"] == HOOK
    assert "secret" not in shown.json
    listed = client.get(URL, headers=admin.headers).json
    assert [e["id"] for e in listed["data"]] == [made.json["id"]]
    assert "secret" not in listed["data"][0]

    etag = shown.headers["ETag"]
    change = {"description": "CRM (prod)", "enabled": False}
    assert client.patch(one, json=change, headers=admin.headers).status_code == 428
    stale = {**admin.headers, "If-Match": '"0123"'}
    assert client.patch(one, json=change, headers=stale).status_code == 412
    changed = client.patch(one, json=change, headers={**admin.headers, "If-Match": etag})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert (changed.json["description"], changed.json["enabled"]) == ("CRM (prod)", False)
    assert changed.json["disabled_reason"] == "Disabled by an admin."
    assert changed.json["event_types"] == ["order.placed", "invoice.paid"]
    assert "secret" not in changed.json
    again = client.patch(one, json={"enabled": True}, headers={**admin.headers, "If-Match": etag})
    assert again.status_code == 412
    fresh = {**admin.headers, "If-Match": changed.headers["ETag"]}
    assert client.patch(one, json={"enabled": True}, headers=fresh).json["enabled"] is True

    rotated = client.post(f"{one}/rotate-secret", headers=admin.headers)
    assert rotated.status_code == 200
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != secret
    assert rotated.json["previous_secret_until"].endswith("Z")
    assert client.delete(one, headers=admin.headers).status_code == 204
    assert client.get(one, headers=admin.headers).status_code == 404
    with unscoped():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0
        events = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action.like("webhook_endpoint.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [event.action.split(".")[1] for event in events] == [
        "created",
        "updated",
        "disabled",
        "enabled",
        "secret_rotated",
        "deleted",
    ]
    assert {event.changes["api_token_id"] for event in events} == {admin.id}
    assert not any(secret in str(event.changes) for event in events)


def test_refused_fields_point_at_themselves(app, client, tenant_a, unscoped):
    app.config.update(WEBHOOKS_ALLOW_PRIVATE=False, WEBHOOKS_ALLOW_HTTP=False)
    with unscoped():
        admin = factories.personal(tenant_a.people[Role.ADMIN], WRITE)
    for body, pointer in (
        ({"url": "https://10.0.0.8/hook", "event_types": ["order.placed"]}, "#/url"),
        ({"url": "http://93.184.215.14/hook", "event_types": ["order.placed"]}, "#/url"),
        ({"url": "https://93.184.215.14/h", "event_types": ["order.shipped"]}, "#/event_types/0"),
        ({"url": "https://93.184.215.14/h", "event_types": []}, "#/event_types"),
        ({"url": "https://93.184.215.14/h"}, "#/event_types"),
        ({"url": "https://93.184.215.14/h", "event_types": ["order.placed"], "x": 1}, "#/x"),
    ):
        answer = client.post(URL, json=body, headers=admin.headers)
        assert answer.status_code == 422, (body, answer.get_data(as_text=True))
        assert [e["pointer"] for e in answer.json["errors"]] == [pointer], body
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, "https://93.184.215.14/hooks")
    one = f"{URL}/{endpoint_id}"
    etag = client.get(one, headers=admin.headers).headers["ETag"]
    refused = client.patch(
        one, json={"url": "https://127.0.0.1/x"}, headers={**admin.headers, "If-Match": etag}
    )
    assert refused.status_code == 422
    assert refused.json["errors"][0]["pointer"] == "#/url"
    with unscoped():
        assert db.session.get(WebhookEndpoint, endpoint_id).url == "https://93.184.215.14/hooks"


@pytest.mark.parametrize(
    "role",
    [
        Role.CSM,
        Role.DELIVERY_MANAGER,
        Role.FINANCE,
        Role.BUYER,
        Role.APPROVER,
        Role.PARTNER_MANAGER,
    ],
)
def test_only_vendor_admins_reach_webhook_endpoints(client, tenant_a, unscoped, role):
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, HOOK)
        token = factories.personal(tenant_a.people[role], WRITE)
    body = {"url": HOOK, "event_types": ["order.placed"]}
    assert client.get(URL, headers=token.headers).status_code == 403
    assert client.post(URL, json=body, headers=token.headers).status_code == 403
    one = f"{URL}/{endpoint_id}"
    tagged = {**token.headers, "If-Match": '"x"'}
    assert client.get(one, headers=token.headers).status_code == 404
    assert client.patch(one, json={"enabled": False}, headers=tagged).status_code == 404
    assert client.delete(one, headers=token.headers).status_code == 404
    assert client.post(f"{one}/rotate-secret", headers=token.headers).status_code == 404
    with unscoped():
        assert db.session.get(WebhookEndpoint, endpoint_id).enabled


def test_webhook_endpoints_need_the_webhooks_scope(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, HOOK)
        reader = factories.personal(tenant_a.people[Role.ADMIN], ["read:webhooks"])
        others = factories.personal(tenant_a.people[Role.ADMIN], ["write:success"])
        neighbour = factories.personal(tenant_b.people[Role.ADMIN], WRITE)
    one = f"{URL}/{endpoint_id}"
    assert client.get(one, headers=reader.headers).status_code == 200
    assert client.get(URL, headers=others.headers).status_code == 403
    refused = client.post(f"{one}/rotate-secret", headers=reader.headers)
    assert refused.status_code == 403
    assert "write:webhooks" in refused.json["detail"]
    assert client.get(one, headers=neighbour.headers).status_code == 404
    assert client.get(URL, headers=neighbour.headers).json["data"] == []


def test_a_repeated_registration_key_registers_once(client, tenant_a, unscoped):
    with unscoped():
        admin = factories.personal(tenant_a.people[Role.ADMIN], WRITE)
    keyed = {**admin.headers, "Idempotency-Key": "register-crm"}
    body = {"url": HOOK, "event_types": ["order.placed"]}
    first = client.post(URL, json=body, headers=keyed)
    repeat = client.post(URL, json=body, headers=keyed)
    assert first.status_code == repeat.status_code == 201
    assert repeat.json == first.json
    with unscoped():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 1
