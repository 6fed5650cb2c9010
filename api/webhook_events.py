"""The events a vendor's webhook endpoints can subscribe to, and the receivers that write
them to the outbox.

Receivers run inside the transaction of the change (blinker signals of the areas below, and
one session hook for a placed order) and only add ``WebhookMessage`` rows: a change that rolls
back leaves no message, and no request waits on a receiver's server
(``api.webhook_delivery`` sends them afterwards). A payload is built only when an enabled
endpoint of the vendor subscribes to the type.

Every payload reads ``{"type", "timestamp", "data"}``: ids, references, states, dates in
RFC 3339 UTC and money as ``{"amount_minor": 129900, "currency": "EUR"}`` (as the REST API).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from api.webhook_models import WebhookEndpoint, WebhookMessage, new_message_id
from billing.models import INVOICE_LIFE, Invoice, InvoiceState
from catalog.models import Recommendation, RecommendationState
from catalog.recommendations import RECOMMENDATION_LIFE
from core.db import utcnow
from core.extensions import db
from core.tenancy import tenant_scope
from delivery.models import ENGAGEMENT_LIFE, Engagement, EngagementState
from ordering import signals as ordering_signals
from ordering.models import Order, OrderLine
from success.events import health_changed
from success.health_models import AccountHealth

TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class EventType:
    key: str
    label: str


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("order.placed", "An order was placed"),
    EventType("order.confirmed", "An order was confirmed"),
    EventType("order.cancelled", "An order was cancelled"),
    EventType("engagement.state_changed", "An engagement changed state"),
    EventType("engagement.delivered", "An engagement was delivered"),
    EventType("invoice.issued", "An invoice was issued"),
    EventType("invoice.paid", "An invoice was paid in full"),
    EventType("account.health_changed", "An account's health score or band changed"),
    EventType("recommendation.ordered", "A recommendation was ordered"),
)
EVENT_KEYS = tuple(event_type.key for event_type in EVENT_TYPES)


# --- writing messages --------------------------------------------------------------------


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def money(amount_minor: int, currency: str) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": currency}


def subscribers(vendor_id: int, event_type: str) -> list[int]:
    """The vendor's enabled endpoints subscribed to ``event_type``, oldest first."""
    with tenant_scope(vendor_id):
        rows = db.session.execute(
            sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(WebhookEndpoint.vendor_id == vendor_id, WebhookEndpoint.enabled.is_(True))
            .order_by(WebhookEndpoint.id)
        ).all()
    return [endpoint_id for endpoint_id, types in rows if event_type in (types or [])]


def payload(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": rfc3339(utcnow()), "data": data}


def emit(
    vendor_id: int,
    event_type: str,
    object_key: str,
    data: Callable[[], dict[str, Any]],
    *,
    endpoint_ids: Collection[int] | None = None,
) -> int:
    """Add one message of the event per subscribed endpoint (or per ``endpoint_ids``) to the
    caller's transaction; ``data`` is called only when someone listens. Returns how many."""
    targets = list(endpoint_ids) if endpoint_ids is not None else subscribers(vendor_id, event_type)
    if not targets:
        return 0
    body = payload(event_type, data())
    msg_id = new_message_id()
    db.session.add_all(
        WebhookMessage(
            vendor_id=vendor_id,
            endpoint_id=endpoint_id,
            msg_id=msg_id,
            event_type=event_type,
            object_key=object_key,
            payload=body,
        )
        for endpoint_id in targets
    )
    return len(targets)


# --- orders --------------------------------------------------------------------------------


def order_data(order: Order, **extra: Any) -> dict[str, Any]:
    lines = db.session.execute(
        sa.select(
            OrderLine.id,
            OrderLine.servlet_id,
            OrderLine.servlet_version_id,
            OrderLine.quantity,
            OrderLine.unit_price_minor,
            OrderLine.currency,
        )
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.id)
    ).all()
    return {
        "id": order.id,
        "reference": order.reference,
        "customer_id": order.customer_id,
        "state": order.state.value,
        "payment_route": order.payment_route.value,
        "total": money(order.total_minor, order.currency),
        "po_number": order.po_number,
        "placed_at": rfc3339(order.created_at),
        "confirmed_at": rfc3339(order.confirmed_at),
        "cancelled_at": rfc3339(order.cancelled_at),
        "lines": [
            {
                "id": line.id,
                "servlet_id": line.servlet_id,
                "servlet_version_id": line.servlet_version_id,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price_minor, line.currency),
            }
            for line in lines
        ],
        **extra,
    }


def _order_event(order: Order, event_type: str, **extra: Any) -> None:
    emit(order.vendor_id, event_type, f"order:{order.id}", lambda: order_data(order, **extra))


@ordering_signals.order_placed.connect
def _on_order_placed(order: Order, **_: Any) -> None:
    _order_event(order, "order.placed")


@ordering_signals.order_confirmed.connect
def _on_order_confirmed(order: Order, **_: Any) -> None:
    _order_event(order, "order.confirmed")


@ordering_signals.order_cancelled.connect
def _on_order_cancelled(order: Order, reason: str = "", **_: Any) -> None:
    _order_event(order, "order.cancelled", reason=reason)


# --- engagements ---------------------------------------------------------------------------


def engagement_data(
    engagement: Engagement, before: EngagementState | None, reason: str = ""
) -> dict[str, Any]:
    return {
        "id": engagement.id,
        "reference": engagement.reference,
        "customer_id": engagement.customer_id,
        "order_line_id": engagement.order_line_id,
        "servlet_version_id": engagement.servlet_version_id,
        "state": engagement.state.value,
        "previous_state": before.value if before is not None else None,
        "reason": reason,
        "start_by": day(engagement.start_by),
        "deliver_by": day(engagement.deliver_by),
        "started_at": rfc3339(engagement.started_at),
        "delivered_at": rfc3339(engagement.delivered_at),
        "accepted_at": rfc3339(engagement.accepted_at),
        "health_score": engagement.health_score,
    }


@ENGAGEMENT_LIFE.changed.connect
def _on_engagement_moved(
    engagement: Engagement, before: EngagementState, to: EngagementState, reason: str = "", **_: Any
) -> None:
    key = f"engagement:{engagement.id}"
    emit(
        engagement.vendor_id,
        "engagement.state_changed",
        key,
        lambda: engagement_data(engagement, before, reason),
    )
    if to is EngagementState.DELIVERED:
        emit(
            engagement.vendor_id,
            "engagement.delivered",
            key,
            lambda: engagement_data(engagement, before, reason),
        )


# --- invoices ------------------------------------------------------------------------------


def invoice_data(invoice: Invoice, before: InvoiceState | None) -> dict[str, Any]:
    currency = invoice.currency
    return {
        "id": invoice.id,
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "order_id": invoice.order_id,
        "state": invoice.state.value,
        "previous_state": before.value if before is not None else None,
        "po_number": invoice.po_number,
        "issued_on": day(invoice.issued_on),
        "due_on": day(invoice.due_on),
        "paid_at": rfc3339(invoice.paid_at),
        "subtotal": money(invoice.subtotal_minor, currency),
        "tax": money(invoice.tax_minor, currency),
        "total": money(invoice.total_minor, currency),
        "paid": money(invoice.paid_minor, currency),
        "credited": money(invoice.credited_minor, currency),
        "balance": money(invoice.balance.amount, currency),
    }


INVOICE_EVENTS = {InvoiceState.ISSUED: "invoice.issued", InvoiceState.PAID: "invoice.paid"}


@INVOICE_LIFE.changed.connect
def _on_invoice_moved(invoice: Invoice, before: InvoiceState, to: InvoiceState, **_: Any) -> None:
    event_type = INVOICE_EVENTS.get(to)
    if event_type is None or (to is InvoiceState.ISSUED and before is not InvoiceState.DRAFT):
        return  # a refund moving a paid invoice back is no new issue
    emit(
        invoice.vendor_id,
        event_type,
        f"invoice:{invoice.id}",
        lambda: invoice_data(invoice, before),
    )


# --- accounts and recommendations ----------------------------------------------------------


@health_changed.connect
def _on_health_changed(vendor_id: int, customer_ids: Collection[int] = (), **_: Any) -> None:
    targets = subscribers(vendor_id, "account.health_changed") if customer_ids else []
    if not targets:
        return
    with tenant_scope(vendor_id):
        healths = db.session.scalars(
            sa.select(AccountHealth)
            .where(AccountHealth.customer_id.in_(sorted(customer_ids)))
            .order_by(AccountHealth.customer_id)
        ).all()
    for health in healths:
        emit(
            vendor_id,
            "account.health_changed",
            f"account:{health.customer_id}",
            lambda health=health: {
                "customer_id": health.customer_id,
                "score": health.score,
                "band": health.band.value,
                "changed_at": rfc3339(health.changed_at),
            },
            endpoint_ids=targets,
        )


@RECOMMENDATION_LIFE.changed.connect
def _on_recommendation_moved(
    recommendation: Recommendation, to: RecommendationState, **_: Any
) -> None:
    if to is not RecommendationState.ORDERED:
        return
    emit(
        recommendation.vendor_id,
        "recommendation.ordered",
        f"recommendation:{recommendation.id}",
        lambda: {
            "id": recommendation.id,
            "customer_id": recommendation.customer_id,
            "servlet_id": recommendation.servlet_id,
            "state": recommendation.state.value,
            "recommended_at": rfc3339(recommendation.created_at),
            "closed_at": rfc3339(recommendation.closed_at),
        },
    )
