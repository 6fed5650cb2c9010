"""Delivering webhooks to a real receiver on loopback: signed per Standard Webhooks, once and
in order per object, retried with back-off, given up after a day, the endpoint disabled with
its admins told, addresses checked at delivery, redirects refused, replay."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from api import webhooks
from api.webhook_delivery import RETRY_DELAYS, deliver_webhooks
from api.webhook_events import EVENT_KEYS
from api.webhook_models import MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import Role
from ordering import orders
from ordering.models import Order
from tests.api.webhook_receiver import Receiver
from tests.catalog import factories as catalog_factories
from tests.ordering import factories as ordering_factories
from tests.scheduled_jobs import run_once

WEBHOOK_CONFIG = {
    "WEBHOOKS_ALLOW_PRIVATE": True,
    "WEBHOOKS_ALLOW_HTTP": True,
    "WEBHOOKS_TIMEOUT_SECONDS": 0.3,
}


@pytest.fixture
def app_config() -> dict[str, object]:
    return dict(WEBHOOK_CONFIG)


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def add_endpoint(tenant, url: str, events=EVENT_KEYS) -> tuple[int, str]:
    """Registered through the service, as the page does; (id, secret)."""
    made = webhooks.create_endpoint(
        catalog_factories.actor(tenant, Role.ADMIN), webhooks.EndpointValues(url, "", events)
    )
    return made.id, made.secret


def deliver(app) -> int:
    return run_once(app, deliver_webhooks)


def deliver_until_quiet(app, rounds: int = 10) -> int:
    total = 0
    for _ in range(rounds):
        done = deliver(app)
        total += done
        if not done:
            break
    return total


def make_due(endpoint_id: int) -> None:
    """Bring every waiting message of the endpoint due now (as if its back-off had passed)."""
    db.session.execute(
        sa.update(WebhookMessage)
        .where(WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.done_at.is_(None))
        .values(due_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def messages(endpoint_id: int) -> list[WebhookMessage]:
    return list(
        db.session.scalars(
            sa.select(WebhookMessage)
            .where(WebhookMessage.endpoint_id == endpoint_id)
            .order_by(WebhookMessage.id)
        )
    )


def test_a_receiver_on_loopback_sees_each_event_once_signed_and_in_order(
    app, tenant_a, unscoped, receiver
):
    with unscoped():
        endpoint_id, secret = add_endpoint(
            tenant_a, receiver.url(), ["order.placed", "order.confirmed", "order.cancelled"]
        )
        order_id = ordering_factories.order(tenant_a)
        order = db.session.get(Order, order_id)
        orders.cancel_order(
            catalog_factories.actor(tenant_a, Role.ADMIN), order, "The customer changed plans."
        )
    assert deliver_until_quiet(app) == 3
    assert deliver_until_quiet(app) == 0  # nothing twice
    payloads = receiver.verified(secret)
    assert [p["type"] for p in payloads] == ["order.placed", "order.confirmed", "order.cancelled"]
    assert {p["data"]["id"] for p in payloads} == {order_id}
    assert payloads[2]["data"]["reason"] == "The customer changed plans."
    total = payloads[0]["data"]["total"]
    assert isinstance(total["amount_minor"], int)
    assert total["currency"]
    assert payloads[0]["timestamp"].endswith("Z")
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(set(ids)) == 3
    assert all(i.startswith("msg_") for i in ids)
    with unscoped():
        rows = messages(endpoint_id)
        assert {row.status for row in rows} == {MessageStatus.DELIVERED}
        attempts = db.session.scalars(sa.select(WebhookAttempt)).all()
        assert [a.status_code for a in attempts] == [200, 200, 200]
        assert attempts[0].request_headers["webhook-id"] == ids[0]
        assert attempts[0].response_snippet == "thanks"


def test_a_later_event_waits_until_the_earlier_one_of_its_object_is_decided(
    app, tenant_a, unscoped, receiver
):
    receiver.status = 500
    with unscoped():
        endpoint_id, secret = add_endpoint(
            tenant_a, receiver.url(), ["order.placed", "order.confirmed"]
        )
        ordering_factories.order(tenant_a)
    assert deliver(app) == 1  # only order.placed; order.confirmed waits behind it
    assert deliver(app) == 0  # the back-off holds placed, and confirmed still waits
    receiver.status = 200
    with unscoped():
        make_due(endpoint_id)
    assert deliver_until_quiet(app) == 2
    types = [p["type"] for p in receiver.verified(secret)]
    assert types == ["order.placed", "order.placed", "order.confirmed"]
    assert receiver.received[0][0]["webhook-id"] == receiver.received[1][0]["webhook-id"]


def test_a_failing_receiver_is_retried_with_growing_back_off(app, tenant_a, unscoped, receiver):
    receiver.status = 500
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, receiver.url(), ["order.placed"])
        ordering_factories.order(tenant_a)
    waits = []
    for _ in range(3):
        with unscoped():
            make_due(endpoint_id)
        before = utcnow()
        assert deliver(app) == 1
        with unscoped():
            (message,) = messages(endpoint_id)
            assert message.status is MessageStatus.PENDING
            waits.append(message.due_at - before)
            assert message.last_status_code == 500
    for wait, expected in zip(waits, RETRY_DELAYS[:3], strict=True):
        assert expected <= wait < expected + timedelta(seconds=5)
    with unscoped():
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint.consecutive_failures == 3
        assert endpoint.enabled


def test_a_hanging_receiver_times_out_quickly(app, tenant_a, unscoped, receiver):
    receiver.delay = 2
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, receiver.url(), ["order.placed"])
        ordering_factories.order(tenant_a)
    assert deliver(app) == 1
    with unscoped():
        attempt = db.session.scalar(sa.select(WebhookAttempt))
        assert attempt.status_code is None
        assert attempt.error == "No answer within 0.3 s."
        assert attempt.duration_ms < 1500
        assert messages(endpoint_id)[0].status is MessageStatus.PENDING


def test_a_day_of_failures_gives_up_disables_the_endpoint_and_tells_the_admins(
    app, tenant_a, tenant_b, unscoped, receiver
):
    receiver.status = 503
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, receiver.url(), ["order.placed"])
        ordering_factories.order(tenant_a)
    for _ in range(len(RETRY_DELAYS) + 1):
        with unscoped():
            make_due(endpoint_id)
        assert deliver(app) == 1
    with unscoped():
        (message,) = messages(endpoint_id)
        assert message.status is MessageStatus.GIVEN_UP
        assert message.attempts == len(RETRY_DELAYS) + 1
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert not endpoint.enabled
        assert "a day of retries" in endpoint.disabled_reason
        mail = db.session.scalars(
            sa.select(OutboxEmail).where(OutboxEmail.subject.like("Webhook endpoint disabled%"))
        ).all()
        assert [m.recipient for m in mail] == [tenant_a.people[Role.ADMIN].email]
        assert db.session.scalar(
            sa.select(AuditEvent.id).where(AuditEvent.action == "webhook_endpoint.disabled")
        )
        # A disabled endpoint gets no new events and nothing is sent to it.
        ordering_factories.order(tenant_a)
        assert len(messages(endpoint_id)) == 1
    assert deliver(app) == 0


def test_an_address_that_turned_private_is_refused_at_delivery(app, tenant_a, unscoped, receiver):
    with unscoped():
        endpoint_id, _ = add_endpoint(tenant_a, receiver.url(), ["order.placed"])
        ordering_factories.order(tenant_a)
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False  # as if its DNS now pointed at loopback
    assert deliver(app) == 1
    assert receiver.received == []
    with unscoped():
        attempt = db.session.scalar(sa.select(WebhookAttempt))
        assert "private or internal address" in attempt.error
        assert messages(endpoint_id)[0].status is MessageStatus.PENDING


def test_a_redirect_is_never_followed(app, tenant_a, unscoped, receiver):
    inner = Receiver()
    try:
        receiver.status, receiver.location = 302, inner.url("/internal")
        with unscoped():
            endpoint_id, _ = add_endpoint(tenant_a, receiver.url(), ["order.placed"])
            ordering_factories.order(tenant_a)
        assert deliver(app) == 1
        assert inner.received == []
        with unscoped():
            attempt = db.session.scalar(sa.select(WebhookAttempt))
            assert attempt.status_code == 302
            assert attempt.error.startswith("Redirect refused")
            assert messages(endpoint_id)[0].status is MessageStatus.PENDING
    finally:
        inner.close()


def test_a_replay_sends_the_same_message_again_once_per_click(app, tenant_a, unscoped, receiver):
    with unscoped():
        endpoint_id, secret = add_endpoint(tenant_a, receiver.url(), ["order.placed"])
        ordering_factories.order(tenant_a)
    assert deliver(app) == 1
    admin = catalog_factories.actor(tenant_a, Role.ADMIN)
    with unscoped():
        (message,) = messages(endpoint_id)
        assert webhooks.replay(admin, message) is True
        assert webhooks.replay(admin, message) is False  # the double click
    assert deliver_until_quiet(app) == 1
    first, second = receiver.verified(secret)
    assert first == second
    assert receiver.received[0][0]["webhook-id"] == receiver.received[1][0]["webhook-id"]
    with unscoped():
        assert messages(endpoint_id)[0].status is MessageStatus.DELIVERED


def test_after_a_rotation_both_secrets_verify_for_a_while(app, tenant_a, unscoped, receiver):
    with unscoped():
        endpoint_id, old = add_endpoint(tenant_a, receiver.url(), ["order.placed"])
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        new = webhooks.rotate_secret(catalog_factories.actor(tenant_a, Role.ADMIN), endpoint).secret
        ordering_factories.order(tenant_a)
    assert new != old
    assert deliver(app) == 1
    assert receiver.verified(old) == receiver.verified(new)
