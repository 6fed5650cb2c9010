"""The cart: servlets and quantities a buyer is about to order, priced afresh on every read.

A cart never stores a price. Every page and the checkout ask the catalog what the customer's
catalogs offer right now (``catalog.queries.offers_for``), so a price change, a retired servlet
or a catalog taken away shows up before anything is bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from catalog import policies
from catalog.models import ServletVersion
from catalog.queries import Offer, offers_for, open_recommendation
from core import audit
from core.errors import Conflict, NotFound, ServiceError
from core.extensions import db
from core.money import Money, total
from core.permissions import Actor, require
from ordering.models import MAX_QUANTITY, Cart, CartLine, new_checkout_token

ORDERING_ROLES = policies.BUYERS


@dataclass(frozen=True)
class LineWanted:
    """A line to order that is not in a cart (the API's): ``id`` is the caller's own key for
    it, by which intake answers and refusals name it."""

    id: int
    servlet_id: int
    quantity: int
    catalog_id: int | None = None  # None: priced by the first of the customer's catalogs
    recommendation_id: int | None = None


@dataclass(frozen=True)
class PricedLine:
    line: CartLine | LineWanted
    offer: Offer | None  # None: no longer offered (retired, or out of the customer's catalogs)

    @property
    def amount(self) -> Money | None:
        return None if self.offer is None else self.offer.price * self.line.quantity


@dataclass(frozen=True)
class PricedCart:
    cart: Cart | None
    lines: list[PricedLine]

    @property
    def unavailable(self) -> list[PricedLine]:
        return [line for line in self.lines if line.offer is None]

    @property
    def currency(self) -> str | None:
        return next((line.offer.price.currency for line in self.lines if line.offer), None)

    @property
    def total(self) -> Money | None:
        currency = self.currency
        if currency is None:
            return None
        return total([line.amount for line in self.lines if line.amount is not None], currency)

    @property
    def count(self) -> int:
        return sum(line.line.quantity for line in self.lines)


def cart_of(actor: Actor, *, lock: bool = False) -> Cart | None:
    stmt = (
        select(Cart)
        .where(Cart.user_id == actor.user_id, Cart.customer_id == actor.organization_id)
        .options(selectinload(Cart.lines))
    )
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def price_lines(customer_id: int, lines: Sequence[CartLine | LineWanted]) -> list[PricedLine]:
    """Each line with what the customer's catalogs offer for it right now (one statement):
    the cart's page, its checkout and an order of wanted lines price alike."""
    offers = offers_for(
        customer_id,
        [line.servlet_id for line in lines],
        {line.servlet_id: line.catalog_id for line in lines},
    )
    return [PricedLine(line, offers.get(line.servlet_id)) for line in lines]


def price(cart: Cart | None) -> PricedCart:
    """The cart's lines with what the catalog offers for each right now."""
    if cart is None:
        return PricedCart(cart, [])
    return PricedCart(cart, price_lines(cart.customer_id, cart.lines))


def titles_of(servlet_ids: list[int]) -> dict[int, str]:
    """Each servlet's newest title, for lines the catalog no longer offers."""
    rows = db.session.execute(
        select(ServletVersion.servlet_id, ServletVersion.title)
        .where(ServletVersion.servlet_id.in_(set(servlet_ids)))
        .order_by(ServletVersion.servlet_id, ServletVersion.number)
    )
    return {row.servlet_id: row.title for row in rows}


def priced_cart(actor: Actor) -> PricedCart:
    require(actor, *ORDERING_ROLES)
    return price(cart_of(actor))


def _cart_for_update(actor: Actor) -> Cart:
    """The actor's cart, created on first use (two first adds at once make one cart)."""
    cart = cart_of(actor)
    if cart is not None:
        return cart
    cart = Cart(
        vendor_id=actor.vendor_id,
        user_id=actor.user_id,
        customer_id=actor.organization_id,
        checkout_token=new_checkout_token(),
        lines=[],
    )
    db.session.add(cart)
    try:
        db.session.flush()
    except IntegrityError:
        # Nothing but reads happened in this transaction yet, so rolling it back loses nothing.
        db.session.rollback()
        cart = cart_of(actor)
        if cart is None:
            raise
    return cart


def recommended(actor: Actor, servlet_id: int) -> int | None:
    """The open recommendation an order of the servlet answers, linked to its line."""
    recommendation = open_recommendation(actor, servlet_id)
    return recommendation.id if recommendation is not None else None


def check_quantity(quantity: int | None) -> int:
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        raise ServiceError(f"Quantity: a whole number from 1 to {MAX_QUANTITY}.")
    return quantity


def add_to_cart(
    actor: Actor,
    servlet_id: int,
    quantity: int = 1,
    catalog_id: int | None = None,
    *,
    already_there_is_enough: bool = False,
) -> CartLine:
    """Put a servlet the customer's catalogs offer into the actor's cart (or add to its
    quantity, unless ``already_there_is_enough``: "Order now" wants it in the cart, not
    twice). The price is not taken from anywhere but the catalog, at checkout."""
    require(actor, *ORDERING_ROLES)
    quantity = check_quantity(quantity)
    offer = offers_for(actor.organization_id, [servlet_id], {servlet_id: catalog_id}).get(
        servlet_id
    )
    if offer is None:
        raise NotFound("That servlet is not offered in your catalogs.")
    cart = _cart_for_update(actor)
    current = price(cart)
    if current.currency not in (None, offer.price.currency):
        raise Conflict(
            f"Your cart is priced in {current.currency}; order this {offer.price.currency} "
            "servlet separately."
        )
    line = next((line for line in cart.lines if line.servlet_id == servlet_id), None)
    if line is None:
        line = CartLine(
            vendor_id=actor.vendor_id,
            servlet_id=servlet_id,
            catalog_id=offer.item.catalog_id,
            recommendation_id=recommended(actor, servlet_id),
            quantity=quantity,
        )
        cart.lines.append(line)
    elif not already_there_is_enough:
        line.quantity = check_quantity(line.quantity + quantity)
    db.session.flush()
    audit.record("cart.added", line, changes={"servlet_id": servlet_id, "quantity": line.quantity})
    db.session.commit()
    return line


def _own_line(actor: Actor, line_id: int) -> CartLine:
    line = db.session.scalar(
        select(CartLine)
        .join(Cart, Cart.id == CartLine.cart_id)
        .where(
            CartLine.id == line_id,
            Cart.user_id == actor.user_id,
            Cart.customer_id == actor.organization_id,
        )
    )
    if line is None:
        raise NotFound("That line is not in your cart.")
    return line


def set_quantity(actor: Actor, line_id: int, quantity: int | None) -> None:
    require(actor, *ORDERING_ROLES)
    line = _own_line(actor, line_id)
    changes = audit.diff(line, {"quantity": check_quantity(quantity)})
    if changes:
        audit.record("cart.quantity_changed", line, changes=changes)
        db.session.commit()


def remove_line(actor: Actor, line_id: int) -> None:
    require(actor, *ORDERING_ROLES)
    line = _own_line(actor, line_id)
    audit.record("cart.removed", line, changes={"servlet_id": line.servlet_id})
    db.session.delete(line)
    db.session.commit()
