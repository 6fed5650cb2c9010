"""Outbound webhooks: a vendor's endpoints, the outbox of messages to them, and the log of
every delivery attempt.

A message is one event for one endpoint (an event a vendor's three endpoints subscribe to is
three rows), so each endpoint's deliveries are claimed, retried, ordered and given up on their
own. The ``msg_id`` is the event's: the same on every endpoint and on every retry and replay,
so a receiver can drop what it has seen (Standard Webhooks' ``webhook-id``).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.claims import Claimable
from core.db import (
    IdMixin,
    LabelledEnum,
    TenantMixin,
    TimestampMixin,
    enum_column,
    relationship,
    utcnow,
)
from core.extensions import db
from core.permissions import Actor, Role

MAX_URL = 2000


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _admins_only(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Webhooks are the vendor admin's: everyone else reaches none (and so a 404)."""
    if actor is not None and actor.role is Role.ADMIN:
        return stmt
    return stmt.where(sa.false())


class WebhookEndpoint(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """Where a vendor wants its events POSTed, and which ones.

    The secret stays readable (not hashed, unlike API tokens): every delivery is signed with
    it. After a rotation the previous secret signs too until ``previous_secret_until``, so a
    receiver can switch without dropping deliveries.
    """

    __tablename__ = "webhook_endpoint"

    url: Mapped[str] = mapped_column(sa.String(MAX_URL))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    secret: Mapped[str] = mapped_column(sa.String(100), default=new_secret)
    previous_secret: Mapped[str | None] = mapped_column(sa.String(100))
    previous_secret_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    # Failed attempts since the last success, and when the first of them was.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    updated_at: Mapped[datetime | None]

    reach = classmethod(_admins_only)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        while its grace period lasts."""
        current = [self.secret]
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > now:
            current.append(self.previous_secret)
        return current


class MessageStatus(LabelledEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    GIVEN_UP = "given_up"


class WebhookMessage(IdMixin, TenantMixin, Claimable, db.Model):
    """One event for one endpoint: the outbox row the scheduler claims and delivers.

    ``object_key`` ("order:42") orders delivery: a message waits while an earlier message of
    the same object to the same endpoint is neither delivered nor given up.
    """

    __tablename__ = "webhook_message"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "msg_id"),
        sa.Index("ix_webhook_message_object", "endpoint_id", "object_key", "id"),
        sa.Index("ix_webhook_message_log", "endpoint_id", "created_at"),
    )

    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE")
    )
    msg_id: Mapped[str] = mapped_column(sa.String(40), default=new_message_id)
    event_type: Mapped[str] = mapped_column(sa.String(60))
    object_key: Mapped[str] = mapped_column(sa.String(80))
    # {"type": ..., "timestamp": RFC 3339 UTC, "data": {...}}: the body, as sent every time.
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus, 16), default=MessageStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()
    attempts_made: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="message",
        order_by="WebhookAttempt.id.desc()",
        passive_deletes=True,
    )

    reach = classmethod(_admins_only)


class WebhookAttempt(IdMixin, TenantMixin, db.Model):
    """One POST of a message: what was sent (headers; the body is the message's payload),
    what came back, how long it took, or why it failed."""

    __tablename__ = "webhook_attempt"

    message_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_message.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    request_headers: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    status_code: Mapped[int | None]
    duration_ms: Mapped[int] = mapped_column(default=0)
    response_snippet: Mapped[str] = mapped_column(sa.Text, default="")
    error: Mapped[str] = mapped_column(sa.String(500), default="")

    message: Mapped[WebhookMessage] = relationship(back_populates="attempts_made")

    reach = classmethod(_admins_only)

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
