"""Webhook events written in the transaction of the change, only for the vendor's endpoints
subscribed to them; addresses refused at registration; the admin's pages and who may open
them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api import webhooks
from api.webhook_events import EVENT_KEYS
from api.webhook_models import MessageStatus, WebhookEndpoint, WebhookMessage
from billing import payments
from billing.models import Invoice
from catalog.models import Recommendation
from catalog.recommendations import close_as_ordered
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import Role
from core.tenancy import tenant_scope
from delivery import moves
from delivery.models import Engagement, EngagementState
from success.events import health_changed
from success.health_models import AccountHealth, Band
from tests.api.test_webhook_delivery import WEBHOOK_CONFIG, add_endpoint, deliver
from tests.billing import factories as billing_factories
from tests.catalog import factories as catalog_factories
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories
from tests.ordering import factories as ordering_factories


@pytest.fixture
def app_config() -> dict[str, object]:
    return dict(WEBHOOK_CONFIG)


URL = "http://127.0.0.1:9/hooks"  # nothing listens there; these tests only write messages


def written(endpoint_id: int | None = None) -> list[tuple[str, str]]:
    stmt = sa.select(WebhookMessage.event_type, WebhookMessage.object_key).order_by(
        WebhookMessage.id
    )
    if endpoint_id is not None:
        stmt = stmt.where(WebhookMessage.endpoint_id == endpoint_id)
    return [tuple(row) for row in db.session.execute(stmt)]


def payloads(event_type: str) -> list[dict]:
    return list(
        db.session.scalars(
            sa.select(WebhookMessage.payload).where(WebhookMessage.event_type == event_type)
        )
    )


# --- events ---------------------------------------------------------------------------------


def test_an_event_is_written_with_its_change_and_never_without_it(app, tenant_a, unscoped):
    with unscoped():
        add_endpoint(tenant_a, URL, ["recommendation.ordered"])
        servlet_id, _ = catalog_factories.shop(tenant_a)
        recommendation_id = catalog_factories.recommendation(tenant_a, servlet_id)
        with tenant_scope(tenant_a.vendor_id):
            close_as_ordered(db.session.get(Recommendation, recommendation_id), "O-000001")
            db.session.flush()
            assert len(written()) == 1
            db.session.rollback()
        assert written() == []
        with tenant_scope(tenant_a.vendor_id):
            close_as_ordered(db.session.get(Recommendation, recommendation_id), "O-000001")
            db.session.commit()
        assert written() == [("recommendation.ordered", f"recommendation:{recommendation_id}")]
        (body,) = payloads("recommendation.ordered")
        assert body["data"]["state"] == "ordered"
        assert body["data"]["customer_id"] == tenant_a.customer_id


def test_only_the_vendors_endpoints_subscribed_to_the_type_get_a_message(
    app, tenant_a, tenant_b, unscoped
):
    with unscoped():
        placed, _ = add_endpoint(tenant_a, URL, ["order.placed"])
        invoices_only, _ = add_endpoint(tenant_a, URL, ["invoice.paid"])
        off, _ = add_endpoint(tenant_a, URL, ["order.placed"])
        db.session.get(WebhookEndpoint, off).enabled = False
        db.session.commit()
        other_vendor, _ = add_endpoint(tenant_b, URL, list(EVENT_KEYS))
        order_id = ordering_factories.order(tenant_a)
        assert written(placed) == [("order.placed", f"order:{order_id}")]
        assert written(invoices_only) == []
        assert written(off) == []
        assert written(other_vendor) == []


def test_orders_engagements_and_invoices_tell_their_moves(app, tenant_a, unscoped):
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, URL, list(EVENT_KEYS))
        engagement_id = delivery_factories.working(tenant_a)
        engagement = db.session.get(Engagement, engagement_id)
        consultant = catalog_factories.actor(tenant_a, Role.CONSULTANT)
        with tenant_scope(tenant_a.vendor_id):
            moves.deliver(
                consultant,
                engagement,
                moves.Delivery("Done, see the report.", 72, "Two unused modules."),
            )
        invoice_id = billing_factories.issued(tenant_a)
        invoice = db.session.get(Invoice, invoice_id)
        with tenant_scope(tenant_a.vendor_id):
            payments.record_bank_transfer(
                billing_factories.finance(tenant_a),
                invoice,
                Money(invoice.total_minor, invoice.currency),
                utcnow().date(),
                "Bank transfer 1",
            )
        types = [event_type for event_type, _ in written(endpoint_id)]
        assert types[:2] == ["order.placed", "order.confirmed"]
        assert types.count("engagement.state_changed") == 1  # working() sets the state directly
        assert types.count("engagement.delivered") == 1
        assert ("invoice.issued", f"invoice:{invoice_id}") in written(endpoint_id)
        assert ("invoice.paid", f"invoice:{invoice_id}") in written(endpoint_id)
        (delivered,) = payloads("engagement.delivered")
        assert delivered["data"]["previous_state"] == EngagementState.IN_PROGRESS.value
        assert delivered["data"]["state"] == "delivered"
        assert delivered["data"]["health_score"] == 72
        paid = next(p for p in payloads("invoice.paid") if p["data"]["id"] == invoice_id)
        assert paid["data"]["balance"] == {"amount_minor": 0, "currency": invoice.currency}
        assert paid["data"]["total"]["amount_minor"] == invoice.total_minor


def test_a_health_change_is_told_per_account(app, tenant_a, unscoped):
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, URL, ["account.health_changed"])
        now = utcnow()
        db.session.add(
            AccountHealth(
                vendor_id=tenant_a.vendor_id,
                customer_id=tenant_a.customer_id,
                score=35,
                band=Band.RED,
                components={},
                computed_at=now,
                changed_at=now,
            )
        )
        health_changed.send(tenant_a.vendor_id, customer_ids={tenant_a.customer_id})
        db.session.commit()
        assert written(endpoint_id) == [
            ("account.health_changed", f"account:{tenant_a.customer_id}")
        ]
        (body,) = payloads("account.health_changed")
        assert body["data"] == {
            "customer_id": tenant_a.customer_id,
            "score": 35,
            "band": "red",
            "changed_at": body["data"]["changed_at"],
        }


# --- addresses at registration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.215.14/hooks", "must start with https://"),
        ("https://127.0.0.1/hooks", "private or internal"),
        ("https://localhost:8443/hooks", "private or internal"),
        ("https://10.1.2.3/hooks", "private or internal"),
        ("https://169.254.169.254/latest", "private or internal"),
        ("https://[::1]/hooks", "private or internal"),
        ("https://[::ffff:192.168.0.1]/hooks", "private or internal"),
        ("https://224.0.0.1/hooks", "private or internal"),
        ("https://user:pw@93.184.215.14/hooks", "no user name"),
        ("ftp://93.184.215.14/", "must start with https://"),
        ("https:///nohost", "host name"),
    ],
)
def test_internal_and_odd_addresses_are_refused_unless_allowed(app, tenant_a, unscoped, url, why):
    app.config.update(WEBHOOKS_ALLOW_PRIVATE=False, WEBHOOKS_ALLOW_HTTP=False)
    with unscoped(), pytest.raises(webhooks.InvalidEndpoint, match=why) as refused:
        add_endpoint(tenant_a, url)
    assert refused.value.field == "url"


def test_a_public_https_address_is_accepted(app, tenant_a, unscoped):
    app.config.update(WEBHOOKS_ALLOW_PRIVATE=False, WEBHOOKS_ALLOW_HTTP=False)
    with unscoped():
        _, secret = add_endpoint(tenant_a, "https://93.184.215.14/hooks")
    assert secret.startswith("whsec_")


# --- pages ------------------------------------------------------------------------------------


def test_an_admin_adds_sees_the_secret_tests_edits_disables_and_deletes(
    app, client, tenant_a, unscoped
):
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert "No endpoints yet" in client.get("/settings/webhooks").text
    response = client.post(
        "/settings/webhooks/new",
        data={"url": URL, "description": "CRM", "event_types": ["order.placed", "invoice.paid"]},
    )
    assert response.status_code == 302
    with unscoped():
        endpoint = db.session.scalar(sa.select(WebhookEndpoint))
        endpoint_id, secret = endpoint.id, endpoint.secret
        assert endpoint.event_types == ["order.placed", "invoice.paid"]
    page = client.get(f"/settings/webhooks/{endpoint_id}").text
    assert secret in page
    assert "Nothing sent yet" in page
    base = f"/settings/webhooks/{endpoint_id}"
    client.post(f"{base}/test")
    client.post(f"{base}/test")  # a double click queues one test event
    with unscoped():
        assert written(endpoint_id) == [("webhook.test", f"test:{endpoint_id}")]
    client.post(
        f"{base}/edit", data={"url": URL, "description": "CRM", "event_types": ["order.cancelled"]}
    )
    client.post(f"{base}/rotate")
    client.post(f"{base}/disable")
    with unscoped():
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint.event_types == ["order.cancelled"]
        assert endpoint.secret != secret
        assert endpoint.previous_secret == secret
        assert not endpoint.enabled
    assert "Disabled by an admin." in client.get(base).text
    client.post(f"{base}/enable")
    assert "Delete this endpoint?" in client.get(f"{base}/delete").text
    assert client.post(f"{base}/delete").status_code == 302
    with unscoped():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0
        assert written() == []
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {
        "webhook_endpoint.created",
        "webhook_endpoint.tested",
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.disabled",
        "webhook_endpoint.enabled",
        "webhook_endpoint.deleted",
    } <= actions


def test_the_form_says_why_an_address_is_refused(app, client, tenant_a):
    app.config.update(WEBHOOKS_ALLOW_PRIVATE=False)
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = client.post(
        "/settings/webhooks/new",
        data={"url": "https://10.0.0.8/hook", "event_types": ["order.placed"]},
    )
    assert response.status_code == 200
    assert "private or internal address" in response.text
    assert 'value="https://10.0.0.8/hook"' in response.text  # what was typed stays


def test_the_delivery_log_shows_attempts_and_replays_a_message(app, client, tenant_a, unscoped):
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, URL, ["order.placed"])
        ordering_factories.order(tenant_a)
        message = db.session.scalar(sa.select(WebhookMessage))
        message.attempts, message.status, message.done_at = 8, MessageStatus.GIVEN_UP, utcnow()
        db.session.commit()
        message_id = message.id
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get(f"/settings/webhooks/{endpoint_id}").text
    assert "order.placed" in page
    assert "Given up" in page
    replay = f"/settings/webhooks/{endpoint_id}/messages/{message_id}/replay"
    client.post(replay)
    client.post(replay)
    with unscoped():
        assert db.session.get(WebhookMessage, message_id).status is MessageStatus.PENDING
        replays = db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "webhook_message.replayed")
        )
    assert replays == 1
    assert deliver(app) == 1  # nobody listens on port 9: the attempt is logged as failed
    assert "Could not connect." in client.get(f"/settings/webhooks/{endpoint_id}").text


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_vendor_admins_reach_the_webhook_pages(app, client, tenant_a, unscoped, role):
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, URL, ["order.placed"])
    sign_in(client, tenant_a.people[role])
    assert client.get("/settings/webhooks").status_code == 403
    assert client.get(f"/settings/webhooks/{endpoint_id}").status_code == 404
    assert client.post(f"/settings/webhooks/{endpoint_id}/disable").status_code == 404
    with unscoped():
        assert db.session.get(WebhookEndpoint, endpoint_id).enabled


def test_another_vendors_admin_gets_404(app, client, tenant_a, tenant_b, unscoped):
    with unscoped():
        endpoint_id, secret = add_endpoint(tenant_a, URL, ["order.placed"])
    sign_in(client, tenant_b.people[Role.ADMIN])
    assert secret not in client.get("/settings/webhooks").text
    for path in ("", "/edit", "/delete"):
        assert client.get(f"/settings/webhooks/{endpoint_id}{path}").status_code == 404
    for path in ("/rotate", "/test", "/delete", "/disable"):
        assert client.post(f"/settings/webhooks/{endpoint_id}{path}").status_code == 404
    with unscoped():
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint.enabled
        assert endpoint.secret == secret
