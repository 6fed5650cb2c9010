"""Managing a vendor's webhook endpoints: register, change, switch off and on, delete, rotate
the secret, replay a message, send a test event. Each change is the vendor admin's, checked,
audited (never with the secret) and committed here, for the pages and the REST API alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from api.webhook_delivery import AddressRefused, check_url
from api.webhook_events import EVENT_KEYS, TEST_EVENT, emit
from api.webhook_models import (
    MessageStatus,
    WebhookEndpoint,
    WebhookMessage,
    new_secret,
)
from core import audit
from core.db import utcnow
from core.errors import NotFound, ServiceError
from core.extensions import db
from core.permissions import Actor, Role, require

MAX_ENDPOINTS = 20
MAX_DESCRIPTION = 200
# After a rotation the old secret still signs (beside the new one) this long.
ROTATION_GRACE = timedelta(hours=24)


class InvalidEndpoint(ServiceError):
    """A refused field of an endpoint: ``field`` names it, for a form or an API error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class EndpointValues:
    url: str
    description: str
    event_types: Iterable[str]


def _admin(actor: Actor | None) -> Actor:
    return require(actor, Role.ADMIN)


def _own(actor: Actor, endpoint: WebhookEndpoint) -> None:
    if endpoint.vendor_id != actor.vendor_id:
        raise NotFound("That webhook endpoint does not exist.")


def _checked(values: EndpointValues) -> dict[str, Any]:
    try:
        url = check_url(values.url)
    except AddressRefused as error:
        raise InvalidEndpoint("url", str(error)) from error
    description = (values.description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidEndpoint("description", f"At most {MAX_DESCRIPTION} characters.")
    chosen = list(dict.fromkeys(values.event_types))
    unknown = [key for key in chosen if key not in EVENT_KEYS]
    if unknown:
        raise InvalidEndpoint("event_types", f"Unknown event types: {', '.join(unknown)}.")
    if not chosen:
        raise InvalidEndpoint("event_types", "Choose at least one event.")
    ordered = [key for key in EVENT_KEYS if key in chosen]
    return {"url": url, "description": description, "event_types": ordered}


def create_endpoint(actor: Actor | None, values: EndpointValues) -> WebhookEndpoint:
    actor = _admin(actor)
    checked = _checked(values)
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.vendor_id == actor.vendor_id)
    )
    if count >= MAX_ENDPOINTS:
        raise ServiceError(f"A vendor has at most {MAX_ENDPOINTS} webhook endpoints.")
    endpoint = WebhookEndpoint(
        vendor_id=actor.vendor_id, created_by_id=actor.user_id, secret=new_secret(), **checked
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook_endpoint.created", endpoint, changes=checked)
    db.session.commit()
    return endpoint


def update_endpoint(
    actor: Actor | None, endpoint: WebhookEndpoint, values: EndpointValues
) -> WebhookEndpoint:
    actor = _admin(actor)
    _own(actor, endpoint)
    changes = audit.diff(endpoint, _checked(values))
    if changes:
        endpoint.updated_at = utcnow()
        audit.record("webhook_endpoint.updated", endpoint, changes=changes)
    db.session.commit()
    return endpoint


def set_enabled(actor: Actor | None, endpoint: WebhookEndpoint, enabled: bool) -> bool:
    """Switch an endpoint on (its failure record starts afresh and its waiting messages go
    out) or off (they wait). Returns whether anything changed."""
    actor = _admin(actor)
    _own(actor, endpoint)
    if endpoint.enabled == enabled:
        return False
    endpoint.enabled = enabled
    endpoint.updated_at = utcnow()
    if enabled:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
        audit.record("webhook_endpoint.enabled", endpoint)
    else:
        endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "Disabled by an admin."
        audit.record("webhook_endpoint.disabled", endpoint, changes={"reason": "by an admin"})
    db.session.commit()
    return True


def delete_endpoint(actor: Actor | None, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its messages and delivery log."""
    actor = _admin(actor)
    _own(actor, endpoint)
    audit.record("webhook_endpoint.deleted", endpoint, changes={"url": endpoint.url})
    db.session.execute(sa.delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
    db.session.commit()


def rotate_secret(actor: Actor | None, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs beside it for ``ROTATION_GRACE``."""
    actor = _admin(actor)
    _own(actor, endpoint)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + ROTATION_GRACE
    endpoint.secret = new_secret()
    endpoint.updated_at = utcnow()
    audit.record("webhook_endpoint.secret_rotated", endpoint)
    db.session.commit()
    return endpoint


def replay(actor: Actor | None, message: WebhookMessage) -> bool:
    """Queue a delivered or given-up message again, with its id and body, for a fresh day of
    retries. A message still on its way is left alone (a double click replays once): returns
    whether this call queued it."""
    actor = _admin(actor)
    if message.vendor_id != actor.vendor_id:
        raise NotFound("That message does not exist.")
    queued = db.session.execute(
        sa.update(WebhookMessage)
        .where(WebhookMessage.id == message.id, WebhookMessage.done_at.is_not(None))
        .values(
            status=MessageStatus.PENDING,
            done_at=None,
            attempts=0,
            due_at=utcnow(),
            claim_token=None,
            claimed_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if queued.rowcount != 1:
        db.session.rollback()
        return False
    audit.record(
        "webhook_message.replayed",
        message,
        changes={"msg_id": message.msg_id, "event_type": message.event_type},
    )
    db.session.commit()
    return True


def send_test(actor: Actor | None, endpoint: WebhookEndpoint) -> bool:
    """Queue a ``webhook.test`` event to this endpoint, unless one is still on its way."""
    actor = _admin(actor)
    _own(actor, endpoint)
    waiting = db.session.scalar(
        sa.select(WebhookMessage.id).where(
            WebhookMessage.endpoint_id == endpoint.id,
            WebhookMessage.event_type == TEST_EVENT,
            WebhookMessage.done_at.is_(None),
        )
    )
    if waiting is not None:
        return False
    emit(
        endpoint.vendor_id,
        TEST_EVENT,
        f"test:{endpoint.id}",
        lambda: {"endpoint_id": endpoint.id, "message": "A test event from Servlet Desk."},
        endpoint_ids=[endpoint.id],
    )
    audit.record("webhook_endpoint.tested", endpoint)
    db.session.commit()
    return True


# --- reads for pages -----------------------------------------------------------------------


def endpoints_of(vendor_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.vendor_id == vendor_id)
            .order_by(WebhookEndpoint.id)
        )
    )


def pending_counts(endpoint_ids: Iterable[int]) -> dict[int, int]:
    """Messages still on their way, per endpoint."""
    ids = list(endpoint_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(WebhookMessage.endpoint_id, sa.func.count())
        .where(WebhookMessage.endpoint_id.in_(ids), WebhookMessage.done_at.is_(None))
        .group_by(WebhookMessage.endpoint_id)
    )
    return {row[0]: row[1] for row in rows.all()}


def delivery_log(endpoint_id: int) -> sa.Select[tuple[WebhookMessage]]:
    """An endpoint's messages, newest first (the page loads their attempts with them)."""
    return (
        sa.select(WebhookMessage)
        .where(WebhookMessage.endpoint_id == endpoint_id)
        .order_by(WebhookMessage.id.desc())
    )
