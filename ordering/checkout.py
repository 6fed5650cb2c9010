"""Checkout: turning the cart, or lines wanted without one, into an order, exactly once.

Both ways in (``place_order`` from the cart, ``place_lines`` for the API) go through the
same rules. Prices, versions and quantities come from the catalog and the stored lines, never
from the submitted form. The form contributes only what the customer decides: intake answers, PO
number, the payment route and acceptance of the vendor's current terms.

Idempotency: the form carries the cart's one-time ``checkout_token`` and ``Order`` has a
unique constraint on it. The order row is the transaction's first write, so concurrent
submissions queue on that constraint; the losers roll back and return the winner's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accounts.models import Organization
from core import audit, states, stripe_gateway
from core.db import utcnow
from core.errors import Conflict, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor, Role, require
from core.sequences import next_number
from ordering import carts, entitlements, notifications, signals
from ordering.intake import clean_answers, questions_of
from ordering.models import (
    Order,
    OrderLine,
    OrderState,
    PaymentRoute,
    new_checkout_token,
)
from ordering.orders import on_confirmed
from ordering.policies import ORDER_LIFE

MAX_PO = 64


class IntakeInvalid(ServiceError):
    """Some intake answers do not fit their questions: ``problems[line_id][index]`` says how."""

    def __init__(self, problems: dict[int, dict[int, str]]) -> None:
        super().__init__("Some answers need your attention; see the marked fields.")
        self.problems = problems


class LinesRefused(ServiceError):
    """Some lines cannot be ordered as asked: ``problems[line_id][field]`` says why (the
    field being ``servlet_id`` or ``intake_answers``)."""

    def __init__(self, message: str, problems: dict[int, dict[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class RouteUnavailable(ServiceError):
    """The chosen payment route is not open to the customer today."""

    field = "payment_route"


@dataclass(frozen=True)
class Checkout:
    """What the customer decided on the checkout page."""

    token: str
    payment_route: PaymentRoute
    accepted_terms_version: str | None  # None: the box was not ticked
    po_number: str = ""
    answers: dict[int, dict[int, str]] = field(default_factory=dict)  # line id → index → text
    ip: str | None = None


def card_payments_enabled() -> bool:
    """Card payment is offered only when the Stripe keys are configured (deployment-wide:
    see ``core.stripe_gateway``)."""
    return stripe_gateway.configured()


def payment_routes_for(customer: Organization, today: date | None = None) -> list[PaymentRoute]:
    """The payment routes this customer may choose today, in the order the page lists them."""
    routes = [PaymentRoute.INVOICE]
    if card_payments_enabled():
        routes.insert(0, PaymentRoute.CARD)
    if entitlements.credits_cover(customer.id, today or utcnow().date()):
        routes.append(PaymentRoute.ENTITLEMENT)
    return routes


def above_threshold(customer: Organization, total: Money, vendor_currency: str) -> bool:
    """Whether ``total`` is above the customer's approval threshold (orders, change orders).
    A threshold is in the vendor's currency; another currency always counts as above."""
    if customer.approval_threshold_minor is None:
        return False
    if total.currency != vendor_currency:
        return True
    return total.amount > customer.approval_threshold_minor


def needs_approval(
    actor: Actor, customer: Organization, total: Money, vendor_currency: str
) -> bool:
    """Above the customer's threshold, a buyer's order waits for an approver (an approver's own
    order does not)."""
    return actor.role != Role.APPROVER and above_threshold(customer, total, vendor_currency)


def placed_with(actor: Actor, token: str) -> Order | None:
    """The order this checkout token already placed for the actor's organisation, if any:
    a resubmitted checkout lands on it instead of failing on an emptied cart."""
    if not token:
        return None
    return db.session.scalar(
        select(Order).where(
            Order.checkout_token == token, Order.customer_id == actor.organization_id
        )
    )


def _existing(token: str, actor: Actor) -> Order | None:
    order = db.session.scalar(select(Order).where(Order.checkout_token == token))
    if order is not None and order.customer_id != actor.organization_id:
        raise Conflict("This checkout belongs to someone else. Reload your cart.")
    return order


def _check_po(po_number: str) -> str:
    po_number = (po_number or "").strip()
    if len(po_number) > MAX_PO:
        raise ServiceError(f"PO number: at most {MAX_PO} characters.")
    if any(not ch.isprintable() for ch in po_number):
        raise ServiceError("PO number: letters, digits and punctuation only.")
    return po_number


def _check_lines(priced: carts.PricedCart, checkout: Checkout) -> None:
    if not priced.lines:
        raise ServiceError("Your cart is empty.")
    problems: dict[int, dict[str, str]] = {}
    seen: set[int] = set()
    for line in priced.lines:
        key, servlet_id = line.line.id, line.line.servlet_id
        if line.offer is None:
            problems[key] = {"servlet_id": "Not offered in your catalogs."}
        elif servlet_id in seen:  # a cart merges them; wanted lines may not
            problems[key] = {"servlet_id": "Listed twice: add up the quantity."}
        else:
            asked = len(questions_of(line.offer.version.intake_questions))
            if any(index >= asked for index in checkout.answers.get(key, {})):
                problems[key] = {"intake_answers": f"This servlet asks {asked} questions."}
        seen.add(servlet_id)
    if priced.unavailable:
        titles = carts.titles_of([line.line.servlet_id for line in priced.unavailable])
        names = ", ".join(f"“{title}”" for title in titles.values())
        raise LinesRefused(
            f"{names} is no longer offered to you (retired, or no longer in your catalogs). "
            "Remove it from your cart to continue; the rest of your cart is kept.",
            problems,
        )
    if problems:
        raise LinesRefused("Some lines cannot be ordered as asked.", problems)
    currencies = {line.offer.price.currency for line in priced.lines if line.offer is not None}
    if len(currencies) > 1:
        raise ServiceError("Your cart mixes currencies; order each currency separately.")


def _answers(priced: carts.PricedCart, checkout: Checkout) -> dict[int, list[dict]]:
    answers: dict[int, list[dict]] = {}
    problems: dict[int, dict[int, str]] = {}
    for line in priced.lines:
        questions = questions_of(line.offer.version.intake_questions)
        cleaned, wrong = clean_answers(questions, checkout.answers.get(line.line.id, {}))
        answers[line.line.id] = cleaned
        if wrong:
            problems[line.line.id] = wrong
    if problems:
        raise IntakeInvalid(problems)
    return answers


def place_order(actor: Actor, checkout: Checkout) -> Order:
    """Turn the actor's cart into an order; the same checkout token always yields one order.

    Refusals leave the cart as it was. Depending on the threshold and the route, the order
    waits for an approver, waits for card payment, or is confirmed at once.
    """
    require(actor, *carts.ORDERING_ROLES)
    existing = _existing(checkout.token, actor)
    if existing is not None:
        return existing
    cart = carts.cart_of(actor)
    if cart is None or cart.checkout_token != checkout.token:
        raise Conflict("Your cart changed since this checkout page was opened. Review it again.")
    order = _place(actor, carts.price(cart), checkout)
    if order is None:  # another submission of this checkout won the race
        return _existing(checkout.token, actor)
    cart.lines.clear()
    cart.checkout_token = new_checkout_token()
    db.session.commit()
    return order


def place_lines(actor: Actor, lines: list[carts.LineWanted], checkout: Checkout) -> Order:
    """Order ``lines`` by the cart checkout's rules, leaving the actor's cart alone (the API's
    way in). ``checkout.answers``, ``IntakeInvalid`` and ``LinesRefused`` name lines by their
    ``id``; each line links the servlet's open recommendation, as adding it to a cart does."""
    require(actor, *carts.ORDERING_ROLES)
    existing = _existing(checkout.token, actor)
    if existing is not None:
        return existing
    linked = [
        replace(line, recommendation_id=carts.recommended(actor, line.servlet_id)) for line in lines
    ]
    priced = carts.PricedCart(None, carts.price_lines(actor.organization_id, linked))
    order = _place(actor, priced, checkout)
    if order is None:  # another request with this checkout token won the race
        return _existing(checkout.token, actor)
    db.session.commit()
    return order


def _place(actor: Actor, priced: carts.PricedCart, checkout: Checkout) -> Order | None:
    """Check the priced lines and the customer's choices, then write the order (not
    committed); ``None`` when another submission of the token already wrote it."""
    _check_lines(priced, checkout)
    customer = db.session.get(Organization, actor.organization_id)
    vendor = db.session.get(Organization, actor.vendor_id)
    today = utcnow().date()
    if checkout.payment_route not in payment_routes_for(customer, today):
        raise RouteUnavailable(f"Payment: {checkout.payment_route.label} is not available to you.")
    if checkout.accepted_terms_version is None:
        raise ServiceError("Accept the terms of service to place the order.")
    if checkout.accepted_terms_version != vendor.terms_version:
        raise Conflict("The terms of service changed while you were ordering: read them again.")
    po_number = _check_po(checkout.po_number)
    answers = _answers(priced, checkout)
    order = _insert(actor, priced, checkout, vendor, po_number)
    if order is None:
        return None
    _add_lines(order, priced, answers)
    if checkout.payment_route == PaymentRoute.ENTITLEMENT:
        kinds = {line.offer.servlet.id: line.offer.version.kind for line in priced.lines}
        titles = {line.offer.servlet.id: line.offer.version.title for line in priced.lines}
        entitlements.spend(order, kinds, titles, today)
    _start(actor, order, customer, vendor)
    return order


def _insert(
    actor: Actor,
    priced: carts.PricedCart,
    checkout: Checkout,
    vendor: Organization,
    po_number: str,
) -> Order | None:
    """Write the order row first; on a token clash roll back and return ``None``."""
    order = Order(
        number=next_number(actor.vendor_id, "order"),
        vendor_id=actor.vendor_id,
        customer_id=actor.organization_id,
        placed_by_id=actor.user_id,
        checkout_token=checkout.token,
        state=OrderState.AWAITING_APPROVAL,  # settled by _start once the lines exist
        payment_route=checkout.payment_route,
        currency=priced.currency,
        total_minor=priced.total.amount,
        po_number=po_number,
        payment_terms_days=vendor.payment_terms_days,
        terms_version=vendor.terms_version,
        terms_accepted_by_id=actor.user_id,
        terms_accepted_at=utcnow(),
        terms_accepted_ip=(checkout.ip or "")[:45] or None,
        lines=[],
    )
    db.session.add(order)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    return order


def _add_lines(order: Order, priced: carts.PricedCart, answers: dict[int, list[dict]]) -> None:
    for line in priced.lines:
        offer = line.offer
        order.lines.append(
            OrderLine(
                vendor_id=order.vendor_id,
                servlet_id=offer.servlet.id,
                servlet_version_id=offer.version.id,
                recommendation_id=line.line.recommendation_id,
                quantity=line.line.quantity,
                unit_price_minor=offer.price.amount,
                currency=offer.price.currency,
                intake_answers=answers[line.line.id],
            )
        )
    db.session.flush()


def _start(actor: Actor, order: Order, customer: Organization, vendor: Organization) -> None:
    """Settle the new order's first state and audit the placement."""
    if needs_approval(actor, customer, order.total, vendor.currency):
        state = OrderState.AWAITING_APPROVAL
    elif order.payment_route == PaymentRoute.CARD:
        state = OrderState.AWAITING_PAYMENT
    else:
        state = OrderState.CONFIRMED
    states.begin(ORDER_LIFE, order, state)
    audit.record(
        "order.placed",
        order,
        changes={
            "state": state.value,
            "total": str(order.total),
            "payment_route": order.payment_route.value,
            "po_number": order.po_number,
            "terms_version": order.terms_version,
            "lines": [[line.servlet_version_id, line.quantity] for line in order.lines],
        },
    )
    signals.order_placed.send(order)
    if state == OrderState.AWAITING_APPROVAL:
        notifications.approval_requested(order, customer.name)
    elif state == OrderState.CONFIRMED:
        audit.record("order.confirmed", order, changes={"via": order.payment_route.value})
        on_confirmed(order, order.payment_route.value)
