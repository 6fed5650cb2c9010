"""Entitlement credits: granted by the vendor, spent at checkout, given back on cancellation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import Organization
from catalog.models import Servlet, ServletKind
from core import audit
from core.db import utcnow
from core.errors import NotFound, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind, Role, require
from ordering.models import Entitlement, EntitlementUse, Order, OrderLine

GRANTERS = (Role.ADMIN, Role.CSM)
MAX_CREDITS = 1000


@dataclass(frozen=True)
class Grant:
    customer_id: int
    servlet_id: int | None
    kind: ServletKind | None
    quantity: int
    valid_from: date
    valid_until: date
    note: str = ""


def default_validity(today: date) -> tuple[date, date]:
    """A subscription year from ``today``: what the grant form offers. A grant made on
    29 February runs to 28 February, as there is no 29th the year after."""
    try:
        until = today.replace(year=today.year + 1)
    except ValueError:
        until = today.replace(year=today.year + 1, day=28)
    return today, until


def _check(grant: Grant, today: date) -> None:
    if (grant.servlet_id is None) == (grant.kind is None):
        raise ServiceError("Choose either one servlet or a servlet kind the credits are for.")
    if not 1 <= grant.quantity <= MAX_CREDITS:
        raise ServiceError(f"Credits: a whole number from 1 to {MAX_CREDITS:,}.")
    if grant.valid_until < grant.valid_from:
        raise ServiceError("Valid until: on or after the first valid day.")
    if grant.valid_until < today:
        raise ServiceError("Valid until: these credits would already have expired.")
    if len(grant.note) > 500:
        raise ServiceError("Note: at most 500 characters.")


def grant_entitlement(actor: Actor, grant: Grant, today: date | None = None) -> Entitlement:
    """Give a customer credits, e.g. "Premier plan: 2 health checks a year"."""
    require(actor, *GRANTERS)
    _check(grant, today or utcnow().date())
    customer = db.session.scalar(
        select(Organization).where(
            Organization.id == grant.customer_id, Organization.kind == OrgKind.CUSTOMER
        )
    )
    if customer is None or not customer.active:
        raise NotFound("That customer does not exist.")
    if grant.servlet_id is not None and db.session.get(Servlet, grant.servlet_id) is None:
        raise NotFound("That servlet does not exist.")
    entitlement = Entitlement(
        vendor_id=actor.vendor_id,
        customer_id=customer.id,
        servlet_id=grant.servlet_id,
        kind=grant.kind,
        quantity=grant.quantity,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        note=grant.note.strip(),
        granted_by_id=actor.user_id,
    )
    db.session.add(entitlement)
    db.session.flush()
    audit.record(
        "entitlement.granted",
        entitlement,
        changes={
            "customer_id": customer.id,
            "servlet_id": grant.servlet_id,
            "kind": grant.kind.value if grant.kind else None,
            "quantity": grant.quantity,
            "valid_until": grant.valid_until.isoformat(),
        },
    )
    db.session.commit()
    return entitlement


def entitlements_of(customer_id: int | None = None) -> Select[tuple[Entitlement]]:
    """Entitlements newest first, with what their list shows loaded."""
    stmt = select(Entitlement).options(
        joinedload(Entitlement.customer),
        selectinload(Entitlement.servlet).selectinload(Servlet.published),
    )
    if customer_id is not None:
        stmt = stmt.where(Entitlement.customer_id == customer_id)
    return stmt.order_by(Entitlement.valid_until.desc(), Entitlement.id.desc())


def usable(customer_id: int, today: date, *, lock: bool = False) -> list[Entitlement]:
    """Credits the customer can spend today, soonest to expire first (spent first)."""
    stmt = (
        select(Entitlement)
        .where(
            Entitlement.customer_id == customer_id,
            Entitlement.used < Entitlement.quantity,
            Entitlement.valid_from <= today,
            Entitlement.valid_until >= today,
        )
        .order_by(Entitlement.valid_until, Entitlement.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(db.session.scalars(stmt))


def spend(order: Order, kinds: dict[int, ServletKind], titles: dict[int, str], today: date) -> None:
    """Pay every line of ``order`` with credits, or refuse naming the line short of them.

    Entitlement rows are locked for the rest of the transaction and the database refuses
    ``used`` past ``quantity``, so two checkouts at once cannot spend one credit twice.
    """
    available = usable(order.customer_id, today, lock=True)
    for line in order.lines:
        matching = [
            e
            for e in available
            if e.servlet_id == line.servlet_id or e.kind == kinds[line.servlet_id]
        ]
        left = sum(e.remaining for e in matching)
        if left < line.quantity:
            raise ServiceError(
                f"Not enough credits for “{titles[line.servlet_id]}”: {line.quantity} needed, "
                f"{left} left. Choose another payment route or lower the quantity."
            )
        need = line.quantity
        for entitlement in matching:
            take = min(need, entitlement.remaining)
            if take == 0:
                continue
            entitlement.used += take
            db.session.add(
                EntitlementUse(
                    vendor_id=order.vendor_id,
                    entitlement=entitlement,
                    order_line=line,
                    quantity=take,
                )
            )
            audit.record(
                "entitlement.spent",
                entitlement,
                changes={"order_id": order.id, "quantity": take, "used": entitlement.used},
            )
            need -= take
            if need == 0:
                break


def give_back(order: Order) -> int:
    """Return the credits ``order`` spent (it was cancelled before delivery); returns how many.
    Safe to repeat: a use is returned once."""
    uses = list(
        db.session.scalars(
            select(EntitlementUse)
            .join(OrderLine, OrderLine.id == EntitlementUse.order_line_id)
            .where(OrderLine.order_id == order.id, EntitlementUse.returned_at.is_(None))
            .options(joinedload(EntitlementUse.entitlement))
            .order_by(EntitlementUse.entitlement_id)
        )
    )
    if not uses:
        return 0
    locked = {
        e.id: e
        for e in db.session.scalars(
            select(Entitlement)
            .where(Entitlement.id.in_({use.entitlement_id for use in uses}))
            .order_by(Entitlement.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    now = utcnow()
    for use in uses:
        entitlement = locked[use.entitlement_id]
        entitlement.used -= use.quantity
        use.returned_at = now
        audit.record(
            "entitlement.returned",
            entitlement,
            changes={"order_id": order.id, "quantity": use.quantity, "used": entitlement.used},
        )
    return sum(use.quantity for use in uses)


def credits_cover(customer_id: int, today: date) -> bool:
    """Whether the customer has any credit it could spend today."""
    return bool(usable(customer_id, today))
