"""``/api/v1/orders``: orders as the web app shows them, placed and cancelled as it does.

Reach is ``Order.reach``: the vendor's admin, CSMs, delivery managers and finance read every
order of their vendor, a customer's people their organisation's, anyone else none (404).

Placing goes through the checkout's own service (``ordering.checkout.place_lines``), so every
rule of the web checkout holds (offers and prices from the catalog, currencies, intake
answers, payment routes, terms, approval threshold, credits) and the person's web cart is left
alone. Card payment needs the web app (Stripe Checkout is a page), so ``payment_route: card``
is refused.

An order has no change time of its own: ``updated_at`` is the latest of its placement,
approval decision, confirmation, completion and cancellation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate
from sqlalchemy.orm import selectinload

from accounts.models import Organization
from api.fields import ApiSchema, Id, MoneyField, Timestamp
from api.pagination import ChangedListArgs, keyset_page, page_of
from api.problems import Problem
from api.rest import ApiBlueprint
from core.db import UTCDateTime
from core.extensions import db
from core.permissions import Actor, current_actor, get_or_404, scoped
from ordering import carts, checkout, orders
from ordering.intake import MAX_TEXT
from ordering.models import (
    MAX_QUANTITY,
    ApprovalDecision,
    Order,
    OrderLine,
    OrderState,
    PaymentRoute,
    new_checkout_token,
)

MAX_LINES = 50
MAX_ANSWERS = 50

blp = ApiBlueprint(
    "orders",
    __name__,
    area="orders",
    url_prefix="/orders",
    description="Orders: placed on account or with credits, read, and cancelled.",
)


# --- schemas -------------------------------------------------------------------------------


class OrderIntakeAnswerSchema(ApiSchema):
    label = fields.String(required=True)
    type = fields.String(required=True)
    answer = fields.String(required=True)


class OrderLineSchema(ApiSchema):
    id = fields.Integer(required=True)
    servlet_id = fields.Integer(required=True)
    servlet_version = fields.Integer(
        required=True, metadata={"description": "The version bought (frozen at checkout)."}
    )
    title = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price = MoneyField(required=True)
    amount = MoneyField(required=True, metadata={"description": "unit_price times quantity."})
    intake_answers = fields.List(fields.Nested(OrderIntakeAnswerSchema), required=True)
    note = fields.String(required=True)


class OrderSchema(ApiSchema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "O-000042"})
    state = fields.String(required=True, metadata={"enum": [s.value for s in OrderState]})
    customer_id = fields.Integer(required=True)
    placed_by_id = fields.Integer(required=True, metadata={"description": "A user id."})
    payment_route = fields.String(required=True, metadata={"enum": [r.value for r in PaymentRoute]})
    total = MoneyField(required=True)
    po_number = fields.String(required=True)
    payment_terms_days = fields.Integer(required=True)
    terms_version = fields.String(required=True)
    approval_decision = fields.String(
        required=True,
        allow_none=True,
        metadata={"enum": [d.value for d in ApprovalDecision]},
    )
    approval_decided_at = Timestamp(required=True, allow_none=True)
    approval_reason = fields.String(required=True)
    cancel_reason = fields.String(required=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True)
    created_at = Timestamp(required=True, metadata={"description": "When it was placed."})
    confirmed_at = Timestamp(required=True, allow_none=True)
    completed_at = Timestamp(required=True, allow_none=True)
    cancelled_at = Timestamp(required=True, allow_none=True)
    updated_at = Timestamp(required=True)


class OrderListArgs(ChangedListArgs):
    state = fields.String(
        load_default=None,
        validate=validate.OneOf([s.value for s in OrderState]),
        metadata={"description": "Only orders in this state."},
    )


class OrderLineInSchema(ApiSchema):
    servlet_id = Id(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_QUANTITY))
    intake_answers = fields.List(
        fields.String(validate=validate.Length(max=MAX_TEXT)),
        load_default=list,
        validate=validate.Length(max=MAX_ANSWERS),
        metadata={
            "description": "Answers to the servlet's intake questions, in their order "
            '("" leaves an optional one blank).'
        },
    )


class OrderInSchema(ApiSchema):
    lines = fields.List(
        fields.Nested(OrderLineInSchema), required=True, validate=validate.Length(1, MAX_LINES)
    )
    payment_route = fields.String(
        required=True,
        validate=validate.OneOf([r.value for r in PaymentRoute]),
        metadata={
            "description": "invoice (on account) or entitlement (credits); card only "
            "in the web app."
        },
    )
    terms_version = fields.String(
        required=True,
        validate=validate.Length(1, 20),
        metadata={
            "description": "The vendor's current terms version (GET /orders/terms), which "
            "the order accepts on the token's member's behalf."
        },
    )
    po_number = fields.String(load_default="", validate=validate.Length(max=checkout.MAX_PO))


class OrderCancelSchema(ApiSchema):
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=orders.MAX_REASON),
        metadata={"description": "Required when the vendor cancels; the customer reads it."},
    )


class OrderTermsSchema(ApiSchema):
    version = fields.String(required=True)
    text = fields.String(required=True)
    payment_terms_days = fields.Integer(required=True)


# --- reading -------------------------------------------------------------------------------


def changed_at() -> sa.ColumnElement[datetime]:
    """The order's latest change (see the module docstring), as one SQL expression."""
    stamps = (
        Order.approval_decided_at,
        Order.confirmed_at,
        Order.completed_at,
        Order.cancelled_at,
    )
    parts = [Order.created_at, *(sa.func.coalesce(s, Order.created_at) for s in stamps)]
    dialect = db.session.get_bind().dialect.name
    latest = sa.func.greatest if dialect == "postgresql" else sa.func.max
    return sa.type_coerce(latest(*parts), UTCDateTime())


def _loaded() -> list[Any]:
    return [selectinload(Order.lines).joinedload(OrderLine.servlet_version)]


@blp.route("", methods=["GET"], endpoint="list")
@blp.arguments(OrderListArgs, location="query")
@blp.response(200, page_of(OrderSchema))
def list_orders(args: dict[str, Any]) -> ResponseReturnValue:
    """Orders the token's member reaches, by id (placement order), a cursor page at a time.
    `updated_since` keeps those changed at or after the time (see `updated_at`)."""
    stmt = scoped(Order).options(*_loaded())
    if args["state"] is not None:
        stmt = stmt.where(Order.state == OrderState(args["state"]))
    if args["updated_since"] is not None:
        stmt = stmt.where(changed_at() >= args["updated_since"])
    page = keyset_page(stmt, args, keys=(Order.id,))
    body, headers = page.answer(args)
    body["data"] = _described(page.items)
    return body, headers


@blp.route("/terms", endpoint="terms")
@blp.response(200, OrderTermsSchema)
def show_terms() -> ResponseReturnValue:
    """The vendor's current terms of service: an order accepts them by sending their
    `version` as `terms_version`."""
    vendor = db.session.get(Organization, current_actor().vendor_id)
    return {
        "version": vendor.terms_version,
        "text": vendor.terms_text,
        "payment_terms_days": vendor.payment_terms_days,
    }


@blp.route("/<int:order_id>", endpoint="show")
@blp.etag
@blp.response(200, OrderSchema)
def show_order(order_id: int) -> ResponseReturnValue:
    """One order, if the token's member reaches it (else 404). Its `ETag` changes with it."""
    return _described([get_or_404(Order, order_id, *_loaded())])[0]


def _described(found: list[Order]) -> list[dict[str, Any]]:
    if not found:
        return []
    changed = dict(
        db.session.execute(
            sa.select(Order.id, changed_at()).where(Order.id.in_([o.id for o in found]))
        ).all()
    )
    return [_order(order, changed[order.id]) for order in found]


def _order(order: Order, updated_at: datetime) -> dict[str, Any]:
    return {
        "id": order.id,
        "reference": order.reference,
        "state": order.state.value,
        "customer_id": order.customer_id,
        "placed_by_id": order.placed_by_id,
        "payment_route": order.payment_route.value,
        "total": order.total,
        "po_number": order.po_number,
        "payment_terms_days": order.payment_terms_days,
        "terms_version": order.terms_version,
        "approval_decision": order.approval_decision and order.approval_decision.value,
        "approval_decided_at": order.approval_decided_at,
        "approval_reason": order.approval_reason,
        "cancel_reason": order.cancel_reason,
        "lines": [
            {
                "id": line.id,
                "servlet_id": line.servlet_id,
                "servlet_version": line.servlet_version.number,
                "title": line.servlet_version.title,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": line.amount,
                "intake_answers": line.intake_answers,
                "note": line.note,
            }
            for line in order.lines
        ],
        "created_at": order.created_at,
        "confirmed_at": order.confirmed_at,
        "completed_at": order.completed_at,
        "cancelled_at": order.cancelled_at,
        "updated_at": updated_at,
    }


# --- placing and cancelling ----------------------------------------------------------------


@blp.route("", methods=["POST"], endpoint="place")
@blp.arguments(OrderInSchema)
@blp.response(201, OrderSchema)
def place_order(wanted: dict[str, Any]) -> ResponseReturnValue:
    """Place an order for servlets of the caller's catalogs, on account (`invoice`) or with
    entitlement credits, as the web checkout does: above the customer's approval threshold a
    buyer's order waits for an approver. Send an `Idempotency-Key` so that a retry places
    one order."""
    order = place(current_actor(), wanted, ip=request.remote_addr)
    order = get_or_404(Order, order.id, *_loaded())
    location = url_for("orders.show", order_id=order.id, _external=True)
    return _described([order])[0], 201, {"Location": location}


@blp.route("/<int:order_id>/cancel", methods=["POST"], endpoint="cancel")
@blp.arguments(OrderCancelSchema)
@blp.response(200, OrderSchema)
def cancel_order(args: dict[str, Any], order_id: int) -> ResponseReturnValue:
    """Cancel an open order, as its page's Cancel button does: the customer's buyers and
    approvers until delivery starts, the vendor's admin and finance (with a `reason`) until
    it completes. Credits spent on it come back. Cancelling a cancelled order changes
    nothing."""
    order = get_or_404(Order, order_id)
    orders.cancel_order(current_actor(), order, args["reason"])
    return _described([get_or_404(Order, order_id, *_loaded())])[0]


def place(actor: Actor, wanted: dict[str, Any], ip: str | None = None) -> Order:
    """Order ``wanted`` (``OrderInSchema``) through ``checkout.place_lines``, naming the
    body's fields in a refusal."""
    route = PaymentRoute(wanted["payment_route"])
    if route == PaymentRoute.CARD:
        raise _refused(
            "Pay by card in the web app: the API places orders on account or with credits.",
            "#/payment_route",
        )
    lines = [
        carts.LineWanted(id=index, servlet_id=line["servlet_id"], quantity=line["quantity"])
        for index, line in enumerate(wanted["lines"])
    ]
    decided = checkout.Checkout(
        token=new_checkout_token(),  # the Idempotency-Key makes a retry place one order
        payment_route=route,
        accepted_terms_version=wanted["terms_version"],
        po_number=wanted["po_number"],
        answers={
            index: dict(enumerate(line["intake_answers"]))
            for index, line in enumerate(wanted["lines"])
        },
        ip=ip,
    )
    try:
        return checkout.place_lines(actor, lines, decided)
    except checkout.LinesRefused as error:
        raise _refused(
            "Some lines cannot be ordered; see errors.",
            *(
                (f"#/lines/{index}/{field}", text)
                for index, problems in error.problems.items()
                for field, text in problems.items()
            ),
        ) from error
    except checkout.IntakeInvalid as error:
        raise _refused(
            error.message,
            *(
                (f"#/lines/{index}/intake_answers/{question}", text)
                for index, problems in error.problems.items()
                for question, text in problems.items()
            ),
        ) from error


def _refused(detail: str, *errors: str | tuple[str, str]) -> Problem:
    """A 422 with field pointers; what this request wrote so far is rolled back."""
    db.session.rollback()
    if errors and isinstance(errors[0], str):  # one pointer for the detail itself
        listed = [{"pointer": errors[0], "detail": detail}]
    else:
        listed = [{"pointer": pointer, "detail": text} for pointer, text in errors]
    return Problem(422, "validation", detail, errors=listed)
