"""Read paths of the ordering pages: order lists with their filters, the order page, CSV."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from catalog.models import Servlet
from core.extensions import db
from core.permissions import Actor, scoped
from ordering.models import Order, OrderLine, OrderState


def list_options() -> list[Any]:
    return [
        joinedload(Order.customer),
        joinedload(Order.placed_by),
        selectinload(Order.lines).joinedload(OrderLine.servlet_version),
    ]


def page_options() -> list[Any]:
    """Everything the order page shows, loaded with it (not the PDF bytes)."""
    return [
        *list_options(),
        joinedload(Order.terms_accepted_by),
        joinedload(Order.approval_decided_by),
        joinedload(Order.cancelled_by),
        joinedload(Order.form),
    ]


@dataclass(frozen=True)
class OrderFilters:
    state: OrderState | None = None
    customer_id: int | None = None
    servlet_id: int | None = None
    placed_from: datetime | None = None
    placed_until: datetime | None = None  # exclusive

    @property
    def active(self) -> bool:
        return any(value is not None for value in vars(self).values())


def orders(actor: Actor, filters: OrderFilters | None = None) -> Select[tuple[Order]]:
    """Orders within the actor's reach (its organisation's, or the vendor's), newest first."""
    filters = filters or OrderFilters()
    stmt = scoped(Order).options(*list_options())
    if filters.state is not None:
        stmt = stmt.where(Order.state == filters.state)
    if filters.customer_id is not None:
        stmt = stmt.where(Order.customer_id == filters.customer_id)
    if filters.servlet_id is not None:
        stmt = stmt.where(
            Order.id.in_(
                select(OrderLine.order_id).where(OrderLine.servlet_id == filters.servlet_id)
            )
        )
    if filters.placed_from is not None:
        stmt = stmt.where(Order.created_at >= filters.placed_from)
    if filters.placed_until is not None:
        stmt = stmt.where(Order.created_at < filters.placed_until)
    return stmt.order_by(Order.id.desc())


def awaiting_approval(actor: Actor) -> Select[tuple[Order]]:
    return (
        scoped(Order)
        .where(Order.state == OrderState.AWAITING_APPROVAL)
        .options(*list_options())
        .order_by(Order.id)
    )


def ordered_servlets() -> list[tuple[int, str]]:
    """Servlets that appear on any order, as (id, title of the newest version ordered)."""
    rows = db.session.execute(
        select(OrderLine.servlet_id, OrderLine.servlet_version_id)
        .distinct()
        .order_by(OrderLine.servlet_id, OrderLine.servlet_version_id)
    ).all()
    if not rows:
        return []
    servlets = db.session.scalars(
        select(Servlet)
        .where(Servlet.id.in_({row.servlet_id for row in rows}))
        .options(selectinload(Servlet.versions))
    )
    titles = {s.id: s.versions[-1].title for s in servlets if s.versions}
    return sorted(titles.items(), key=lambda pair: pair[1].lower())


CSV_HEADER = [
    "order",
    "placed_at",
    "customer",
    "state",
    "payment_route",
    "po_number",
    "servlet",
    "version",
    "quantity",
    "unit_price",
    "currency",
    "line_total",
]


def csv_rows(orders: Iterable[Order]) -> Iterator[list[Any]]:
    """One row per order line, amounts as decimals in the line's currency."""
    for order in orders:
        for line in order.lines:
            yield [
                order.reference,
                order.created_at.isoformat(timespec="seconds"),
                order.customer.name,
                order.state.value,
                order.payment_route.value,
                order.po_number,
                line.servlet_version.title,
                line.servlet_version.number,
                line.quantity,
                line.unit_price.to_decimal(),
                line.currency,
                line.amount.to_decimal(),
            ]
