"""``/webhooks/stripe``: verify, record each event once, and let the scheduler hand it to the
area that handles it.

Core knows no orders: areas register a handler per event type (``handles``), and a handler
treats the event as a trigger, re-reading from Stripe whatever decides the outcome. The
endpoint only verifies and records, so it answers in milliseconds whatever Stripe's API is
doing (Stripe asks for a quick 2xx and retries what it does not get):

- 400 when the signature, its timestamp (too old, or from the future) or the body is wrong
  (nothing is recorded);
- 200 "queued" for a new event, 200 "duplicate" for one recorded before (Stripe delivers at
  least once, sometimes twice at the same moment), without reading Stripe again.

``process_events``, a scheduler job, claims recorded events (once, whatever runs beside it),
runs their handlers and writes the outcome: handled, ignored (an unknown type, an object that
is not ours), or refused for good (Stripe declined a refund, say). A handler that could not
reach Stripe leaves its event to be tried again with back-off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import stripe
from flask import current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Mapped, mapped_column

from core import audit, bp, claims
from core.claims import Claimable
from core.db import IdMixin, insert_for, utcnow
from core.errors import ServiceError
from core.extensions import csrf, db, limiter
from core.scheduler import every
from core.stripe_gateway import PaymentProviderUnavailable


class StripeEvent(IdMixin, Claimable, db.Model):
    """Every verified event received, once (unique ``event_id``), with what became of it.

    Not tenant data: an event names Stripe objects, and only its handler finds the vendor.
    ``done_at`` stays empty while the work could not be done, so the scheduler tries again.
    """

    __tablename__ = "stripe_event"
    __table_args__ = (sa.UniqueConstraint("event_id"),)

    event_id: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str] = mapped_column(sa.String(100))
    object_id: Mapped[str] = mapped_column(sa.String(255))
    purpose: Mapped[str] = mapped_column(sa.String(40), default="")
    livemode: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(sa.String(500), default="")


Handler = Callable[[StripeEvent], str]  # the recorded event → an outcome for the log

_handlers: dict[tuple[str, str], Handler] = {}


def handles(purpose: str, *event_types: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``event_types`` about objects made for ``purpose``.

    The app names a purpose in the metadata of what it creates at Stripe (a Checkout Session
    for an order payment, for an invoice payment), so several areas can follow the same event
    types, each for its own objects. An event whose object carries no purpose (a charge) goes
    to every area following its type, and each recognises its own objects.
    """

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            existing = _handlers.get((event_type, purpose))
            if existing is not None and existing is not handler:
                raise RuntimeError(f"two handlers for Stripe event {event_type} ({purpose})")
            _handlers[(event_type, purpose)] = handler
        return handler

    return register


def handlers_for(event: StripeEvent) -> list[Handler]:
    if event.purpose:
        handler = _handlers.get((event.type, event.purpose))
        return [handler] if handler else []
    return [
        handler
        for (event_type, _), handler in sorted(_handlers.items())
        if event_type == event.type
    ]


def handled_types() -> set[str]:
    return {event_type for event_type, _ in _handlers}


class MalformedEvent(ValueError):
    """A correctly signed body that is not a Stripe event we can read."""


def verify(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if ``signature`` is Stripe's for ``payload`` and recent; else an error.

    The library refuses a timestamp older than its tolerance but not one from the future: a
    signature made ahead of time would stay valid until then, so that is refused here.
    """
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or None
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as error:
        raise MalformedEvent(f"signature: {error.user_message or error}") from error
    except (ValueError, TypeError, AttributeError) as error:  # not JSON, or not an object
        raise MalformedEvent("body is not a JSON event") from error
    if _signed_at(signature) > time.time() + stripe.Webhook.DEFAULT_TOLERANCE:
        raise MalformedEvent("signature: timestamp is in the future")
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


def _signed_at(signature: str | None) -> int:
    """The ``t=`` of a header the library has already verified (so it is there and numeric)."""
    fields = dict(part.split("=", 1) for part in (signature or "").split(",") if "=" in part)
    return int(fields["t"])


def record(event: dict[str, Any]) -> bool:
    """Record a verified event for the scheduler; ``False`` when it was recorded before
    (delivered again, or twice at the same moment: the unique event id decides)."""
    stmt = (
        insert_for(db.session, StripeEvent.__table__)
        .values(
            event_id=event["id"],
            type=event["type"][:100],
            object_id=event["data"]["object"]["id"],
            purpose=_purpose(event),
            livemode=bool(event.get("livemode")),
            received_at=utcnow(),
            due_at=utcnow(),
            attempts=0,
            outcome="",
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(StripeEvent.__table__.c.id)
    )
    inserted = db.session.execute(stmt).scalar() is not None
    db.session.commit()
    return inserted


def _purpose(event: dict[str, Any]) -> str:
    metadata = event["data"]["object"].get("metadata")
    purpose = metadata.get("purpose") if isinstance(metadata, dict) else None
    return purpose[:40] if isinstance(purpose, str) else ""


@every(2)
def process_events(limit: int = 20) -> int:
    """Run the handler of each recorded event once; returns how many were settled."""
    settled = 0
    for event in claims.claim(StripeEvent, limit=limit):
        try:
            outcomes = [handler(event) for handler in handlers_for(event)]
            outcome = "; ".join(outcomes) if outcomes else _nobody(event)
        except PaymentProviderUnavailable as error:
            db.session.rollback()
            current_app.logger.warning("Stripe event %s not processed: %s", event.event_id, error)
            claims.failed(event, error.detail or str(error))
            db.session.commit()
            continue
        except ServiceError as error:  # refused for good (by Stripe, or a rule)
            db.session.rollback()
            current_app.logger.warning("Stripe event %s refused: %s", event.event_id, error.message)
            outcome = f"refused: {error.message}"
        claims.finished(event, outcome=outcome[:500])
        db.session.commit()
        settled += 1
    return settled


def ignored(why: str, vendor_id: int | None = None, **details: Any) -> str:
    """Log and audit an event that will change nothing (for the vendor it names, when one
    was found), commit, and say so as the event's outcome."""
    current_app.logger.warning("Stripe event ignored: %s %s", why, details)
    audit.record(
        "stripe.event_ignored",
        object_type="stripe_event",
        vendor_id=vendor_id,
        changes={"why": why, **details},
    )
    db.session.commit()
    return f"ignored: {why}"


def _nobody(event: StripeEvent) -> str:
    if event.purpose:
        return f"ignored: no area handles {event.type} for {event.purpose}"
    return "ignored: unhandled event type"


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
    return {"status": "queued" if record(event) else "duplicate"}, 200
