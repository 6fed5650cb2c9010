"""``/webhooks/stripe``: verify, record each event once, hand it to the area that handles it.

Core knows no orders: areas register a handler per event type (``handles``), and a handler
treats the event as a trigger, re-reading from Stripe whatever decides the outcome. Answers:

- 400 when the signature, its timestamp or the body is wrong (nothing is changed or recorded);
- 200 for events handled, ignored (an unknown type, an object that is not ours) or already
  processed (Stripe delivers at least once, sometimes twice at the same moment);
- 200 too when the work was refused for good (Stripe declined a refund, say): logged, and
  redelivering would not change the answer;
- 503 when the work could not be done now (Stripe unreachable while re-reading), so Stripe
  delivers the event again later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import stripe
from flask import current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core import bp
from core.db import IdMixin, utcnow
from core.errors import ServiceError
from core.extensions import csrf, db, limiter
from core.stripe_gateway import PaymentProviderUnavailable

Handler = Callable[[dict[str, Any]], str]  # the verified event → an outcome for the log

_handlers: dict[str, Handler] = {}


class StripeEvent(IdMixin, db.Model):
    """Every verified event received, once (unique ``event_id``), with what became of it.

    Not tenant data: an event names Stripe objects, and only its handler finds the vendor.
    ``processed_at`` stays empty while the work could not be done, so a redelivery does it.
    """

    __tablename__ = "stripe_event"
    __table_args__ = (sa.UniqueConstraint("event_id"),)

    event_id: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str] = mapped_column(sa.String(100))
    object_id: Mapped[str] = mapped_column(sa.String(255))
    livemode: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(sa.String(500), default="")


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``event_types`` (one handler per type)."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            existing = _handlers.get(event_type)
            if existing is not None and existing is not handler:
                raise RuntimeError(f"two handlers for Stripe event {event_type}")
            _handlers[event_type] = handler
        return handler

    return register


def handled_types() -> set[str]:
    return set(_handlers)


class MalformedEvent(ValueError):
    """A correctly signed body that is not a Stripe event we can read."""


def verify(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if ``signature`` is Stripe's for ``payload`` and recent; else an error."""
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, current_app.config.get("STRIPE_WEBHOOK_SECRET") or None
        )
    except stripe.SignatureVerificationError as error:
        raise MalformedEvent(f"signature: {error.user_message or error}") from error
    except (ValueError, TypeError, AttributeError) as error:  # not JSON, or not an object
        raise MalformedEvent("body is not a JSON event") from error
    if not isinstance(event, stripe.StripeObject):
        raise MalformedEvent("not a Stripe event")
    event = event.to_dict()
    _check_shape(event)
    return event


def _check_shape(event: dict[str, Any]) -> None:
    """Handlers rely on ``id``, ``type`` and ``data.object.id`` being strings."""
    try:
        fields = [event["id"], event["type"], event["data"]["object"]["id"]]
    except (KeyError, TypeError) as error:
        raise MalformedEvent("not a Stripe event") from error
    if not all(isinstance(value, str) and 0 < len(value) <= 255 for value in fields):
        raise MalformedEvent("not a Stripe event")


def _recorded(event: dict[str, Any]) -> StripeEvent:
    """The event's row, written (and committed) on first sight."""
    row = db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == event["id"]))
    if row is not None:
        return row
    row = StripeEvent(
        event_id=event["id"],
        type=event["type"][:100],
        object_id=event["data"]["object"]["id"],
        livemode=bool(event.get("livemode")),
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same event, delivered twice at the same moment
        db.session.rollback()
        row = db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == event["id"]))
    return row


def _finish(row_id: int, outcome: str) -> None:
    row = db.session.get(StripeEvent, row_id)
    row.processed_at = utcnow()
    row.outcome = outcome[:500]
    db.session.commit()


def process(event: dict[str, Any]) -> tuple[str, int]:
    """Record ``event`` and run its handler once; (outcome, HTTP status) for the answer."""
    row = _recorded(event)
    if row.processed_at is not None:
        return f"duplicate: {row.outcome}", 200
    row_id = row.id
    handler = _handlers.get(event["type"])
    if handler is None:
        _finish(row_id, "ignored: unhandled event type")
        return "ignored", 200
    try:
        outcome = handler(event)
    except PaymentProviderUnavailable as error:
        db.session.rollback()
        current_app.logger.warning("Stripe event %s not processed: %s", event["id"], error.detail)
        return "retry later", 503
    except ServiceError as error:  # refused for good (by Stripe, or by a rule): retrying won't help
        db.session.rollback()
        current_app.logger.warning("Stripe event %s refused: %s", event["id"], error.message)
        outcome = f"refused: {error.message}"
    _finish(row_id, outcome)
    return outcome, 200


@bp.post("/webhooks/stripe")
@csrf.exempt
@limiter.exempt
def stripe_webhook() -> ResponseReturnValue:
    if not current_app.config.get("STRIPE_WEBHOOK_SECRET"):
        return {"error": "card payments are not configured"}, 404
    try:
        event = verify(request.get_data(), request.headers.get("Stripe-Signature"))
    except MalformedEvent as error:
        current_app.logger.info("Stripe webhook refused: %s", error)
        return {"error": str(error)}, 400
    outcome, status = process(event)
    return {"status": outcome}, status
