"""The few Stripe calls the application makes, through the official ``stripe`` library.

Keys are deployment-wide (``STRIPE_SECRET_KEY``, ``STRIPE_WEBHOOK_SECRET`` in ``core.config``):
the operator's Stripe account collects card payments for every vendor of the deployment, and
card payment is offered exactly when both keys are set. Per-vendor accounts would be Stripe
Connect (the same calls with a ``stripe_account``), a later step; nothing here would change
shape for it but the client options.

Every POST carries an idempotency key derived from our own objects, so a retry (ours, or the
library's) can never create a second session or refund. Errors come back as domain errors:
``PaymentProviderUnavailable`` when the work could not be done now (network, Stripe down, keys
refused), ``PaymentProviderRefused`` when Stripe said no to this request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe
from flask import current_app

from core.errors import ServiceError
from core.money import Money

# One retry after a network error (idempotent: every POST has a key); each try waits at most
# STRIPE_TIMEOUT_SECONDS. Only opening a Checkout Session runs inside a request (the buyer waits
# for its address, with no database transaction open); every other call is a queued job.
NETWORK_RETRIES = 1


class PaymentProviderUnavailable(ServiceError):
    """Stripe could not be reached or did not answer usefully: try again later."""

    status_code = 503

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "Card payments are unavailable right now; please try again in a few minutes."
        )
        self.detail = detail


class PaymentProviderRefused(ServiceError):
    """Stripe understood the request and refused it (an unknown object, a bad parameter)."""

    status_code = 409

    def __init__(self, detail: str) -> None:
        super().__init__(f"The payment provider refused: {detail}")
        self.detail = detail


def configured() -> bool:
    """Card payment needs both keys: without the webhook secret, no payment could confirm."""
    config = current_app.config
    return bool(config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_WEBHOOK_SECRET"))


def client() -> stripe.StripeClient:
    """One client per app, built from its configuration (no global ``stripe.api_key``)."""
    cached = current_app.extensions.get("stripe_client")
    if cached is None:
        config = current_app.config
        cached = stripe.StripeClient(
            config["STRIPE_SECRET_KEY"],
            base_addresses={"api": config.get("STRIPE_API_BASE") or stripe.DEFAULT_API_BASE},
            max_network_retries=NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=config["STRIPE_TIMEOUT_SECONDS"]),
        )
        current_app.extensions["stripe_client"] = cached
    return cached


def _call(operation: str, func: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run one library call; its answer as plain dicts and lists, its errors as the two
    domain errors above."""
    try:
        return func(*args, **kwargs).to_dict()
    except stripe.InvalidRequestError as error:
        current_app.logger.warning("Stripe refused %s: %s", operation, error.user_message)
        raise PaymentProviderRefused(error.user_message or "invalid request") from error
    except stripe.StripeError as error:
        current_app.logger.warning("Stripe unavailable for %s: %s", operation, error)
        raise PaymentProviderUnavailable(str(error)) from error


def create_checkout_session(params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    return _call(
        "checkout session",
        client().v1.checkout.sessions.create,
        params=params,
        options={"idempotency_key": idempotency_key},
    )


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
    return _call("checkout session", client().v1.checkout.sessions.retrieve, session_id)


def expire_checkout_session(session_id: str, idempotency_key: str) -> dict[str, Any]:
    return _call(
        "session expiry",
        client().v1.checkout.sessions.expire,
        session_id,
        options={"idempotency_key": idempotency_key},
    )


def checkout_sessions_of_payment_intent(payment_intent_id: str) -> list[dict[str, Any]]:
    listing = _call(
        "checkout sessions",
        client().v1.checkout.sessions.list,
        params={"payment_intent": payment_intent_id, "limit": 10},
    )
    return list(listing["data"])


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    return _call("payment intent", client().v1.payment_intents.retrieve, payment_intent_id)


def retrieve_charge(charge_id: str) -> dict[str, Any]:
    return _call("charge", client().v1.charges.retrieve, charge_id)


def create_refund(params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    return _call(
        "refund",
        client().v1.refunds.create,
        params=params,
        options={"idempotency_key": idempotency_key},
    )


# --- reading Stripe's answers ------------------------------------------------------------


def object_id(value: Any) -> str | None:
    """A Stripe reference as an id, whether Stripe sent the id or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def timestamp(value: Any) -> datetime | None:
    """A Stripe time (seconds since the epoch) as an aware datetime; anything else as None."""
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


def names_ours(stripe_object: dict[str, Any], **ids: int) -> bool:
    """Whether the object's metadata names exactly the ids we opened it for: a session found
    by its id must still belong to the vendor and object we recorded it under."""
    metadata = stripe_object.get("metadata") or {}
    return all(metadata.get(name) == str(value) for name, value in ids.items())


def pays_exactly(session: dict[str, Any], asked: Money) -> bool:
    """Whether a paid Checkout Session paid what was asked, amount and currency."""
    paid = session.get("amount_total")
    return (
        type(paid) is int
        and paid == asked.amount
        and str(session.get("currency", "")).upper() == asked.currency
    )


def refunded_minor(charge: dict[str, Any], paid_minor: int) -> int:
    """How much of a charge Stripe says was refunded, never below zero nor above what was
    paid."""
    return min(max(int(charge.get("amount_refunded") or 0), 0), paid_minor)
