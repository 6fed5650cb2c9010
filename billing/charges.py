"""What becomes billable when, by the servlet's billing policy, and the invoice it goes on.

- **prepaid**: every unit of the order line when the order is confirmed, on an invoice
  issued at once: an order on account owes it on the order's terms, a card order has paid it
  already (``billing.payments`` records the card payment against it);
- **on acceptance**: one unit when its engagement is accepted;
- **50/50 milestones**: half a unit (rounded half-up) when its engagement starts, the rest
  when it is accepted.

An approved change order is billed by the same rules as its engagement's servlet: at once
(prepaid), with the acceptance, or half at the start (at once when work has started) and
the rest at acceptance.

Charges that an engagement's move makes go on a draft that finance reviews (finance's home
lists it under "invoices to issue"); ``billing.jobs`` issues such drafts once they waited the
vendor's review days. Everything runs inside the transaction of the move that caused it
(signal receivers), and a charge's key is unique, so a move replayed bills nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from accounts.models import Organization
from billing import invoices, payments
from billing.models import Charge, Invoice
from catalog.models import BillingPolicy, ServletVersion
from core.db import insert_for, utcnow
from core.extensions import db
from delivery import engagements as delivery_engagements
from delivery import policies as delivery_policies
from delivery.models import ENGAGEMENT_LIFE, ChangeOrder, ChangeOrderState, Engagement
from delivery.models import EngagementState as _E
from ordering import signals
from ordering.models import Order, OrderLine, PaymentRoute


@dataclass(frozen=True)
class Due:
    """A charge to make, if its key has not been made before."""

    key: str
    line: OrderLine
    engagement_id: int | None
    description: str
    amount_minor: int


def halves(amount_minor: int) -> tuple[int, int]:
    """The two milestones of an amount: the first rounded half-up, the second the rest, so
    they always add up to the whole."""
    first = (amount_minor + 1) // 2
    return first, amount_minor - first


def _make(vendor_id: int, customer_id: int, order_id: int, due: list[Due]) -> list[Charge]:
    """Insert the charges not made before (the unique key decides, also against a
    concurrent twin); returns the ones this call made."""
    made: list[Charge] = []
    table = Charge.__table__
    for item in due:
        stmt = (
            insert_for(db.session, table)
            .values(
                vendor_id=vendor_id,
                key=item.key,
                customer_id=customer_id,
                order_id=order_id,
                order_line_id=item.line.id,
                engagement_id=item.engagement_id,
                servlet_id=item.line.servlet_id,
                description=item.description[:300],
                amount_minor=item.amount_minor,
                currency=item.line.currency,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["vendor_id", "key"])
            .returning(table.c.id)
        )
        charge_id = db.session.execute(stmt).scalar()
        if charge_id is not None:
            made.append(db.session.get(Charge, charge_id))
    return made


def _version(line: OrderLine) -> ServletVersion:
    return db.session.get(ServletVersion, line.servlet_version_id)


def _title(line: OrderLine) -> str:
    return line.note or _version(line).title


# --- at order confirmation (prepaid) -------------------------------------------------------


@signals.order_confirmed.connect
def _on_order_confirmed(order: Order, via: str = "", **_: Any) -> None:
    """Prepaid lines of a paid-for order are invoiced at once. Entitlement orders cost no
    money and owe no invoice. Each unit is charged with its engagement, made here if
    delivery's receiver has not run yet (receivers run in the order they were connected, which
    import order decides; making engagements twice makes nothing twice)."""
    if order.payment_route is PaymentRoute.ENTITLEMENT:
        return
    delivery_engagements.create_engagements(order)
    units = delivery_engagements.units_of(order)
    due = [
        Due(
            f"line:{line.id}:unit:{unit}",
            line,
            units.get((line.id, unit)),
            _title(line),
            line.unit_price_minor,
        )
        for line in order.lines
        if _version(line).billing_policy is BillingPolicy.PREPAID and line.unit_price_minor > 0
        for unit in range(1, line.quantity + 1)
    ]
    charges = _make(order.vendor_id, order.customer_id, order.id, due)
    if not charges:
        return
    invoice = _invoice(order, charges, f"Order {order.reference}")
    invoices.freeze(invoice, None)
    if via == "card":
        payments.record_order_card_payment(order, invoice)


def _invoice(order: Order, charges: list[Charge], origin: str) -> Invoice:
    vendor = db.session.get(Organization, order.vendor_id)
    invoice = invoices.new_draft(
        vendor,
        order.customer_id,
        created_by_id=None,
        order_id=order.id,
        po_number=order.po_number,
        terms_days=order.payment_terms_days,
        origin=origin,
    )
    invoices.put_charges(invoice, charges, vendor)
    return invoice


# --- with the engagement's moves ---------------------------------------------------------


def _approved_change_orders(engagement: Engagement) -> list[ChangeOrder]:
    return list(
        db.session.scalars(
            select(ChangeOrder)
            .where(
                ChangeOrder.engagement_id == engagement.id,
                ChangeOrder.state == ChangeOrderState.APPROVED,
                ChangeOrder.order_line_id.is_not(None),
                ChangeOrder.price_minor > 0,
            )
            .order_by(ChangeOrder.id)
        )
    )


def _engagement_dues(engagement: Engagement, milestone: str) -> list[Due]:
    """The charges an engagement's ``milestone`` ("start" or "accept") makes due: its own
    unit and its approved change orders, by the servlet's policy."""
    policy = db.session.get(ServletVersion, engagement.servlet_version_id).billing_policy
    if policy is BillingPolicy.PREPAID or (
        policy is BillingPolicy.ON_ACCEPTANCE and milestone != "accept"
    ):
        return []
    unit_line = db.session.get(OrderLine, engagement.order_line_id)
    billed: list[tuple[str, OrderLine, int]] = [
        (f"line:{unit_line.id}:unit:{engagement.unit}", unit_line, unit_line.unit_price_minor)
    ]
    for change_order in _approved_change_orders(engagement):
        line = db.session.get(OrderLine, change_order.order_line_id)
        billed.append((f"change-order:{change_order.id}", line, change_order.price_minor))
    dues = []
    for key, line, amount in billed:
        title = f"{_title(line)} ({engagement.reference})"
        if policy is BillingPolicy.ON_ACCEPTANCE:
            dues.append(Due(key, line, engagement.id, title, amount))
            continue
        first, rest = halves(amount)
        if milestone == "start":
            dues.append(Due(f"{key}:start", line, engagement.id, f"{title}, 50% at start", first))
        else:
            # A change approved after acceptance of nothing started still bills both halves.
            dues.append(Due(f"{key}:start", line, engagement.id, f"{title}, 50% at start", first))
            dues.append(
                Due(f"{key}:accept", line, engagement.id, f"{title}, 50% at acceptance", rest)
            )
    return [due for due in dues if due.amount_minor > 0]


def bill_milestone(engagement: Engagement, milestone: str, origin: str) -> Invoice | None:
    """Make the charges of ``milestone`` and put them on a draft for finance (no commit)."""
    dues = _engagement_dues(engagement, milestone)
    if not dues:
        return None
    order_id = db.session.get(OrderLine, engagement.order_line_id).order_id
    charges = _make(engagement.vendor_id, engagement.customer_id, order_id, dues)
    if not charges:
        return None
    return _invoice(db.session.get(Order, order_id), charges, origin)


@ENGAGEMENT_LIFE.changed.connect
def _on_engagement_moved(engagement: Engagement, to: _E, **_: Any) -> None:
    if to is _E.IN_PROGRESS:
        bill_milestone(engagement, "start", f"Work started on {engagement.reference}")
    elif to is _E.ACCEPTED:
        bill_milestone(engagement, "accept", f"Acceptance of {engagement.reference}")


@delivery_policies.CHANGE_ORDER_LIFE.changed.connect
def _on_change_order_decided(change_order: ChangeOrder, to: ChangeOrderState, **_: Any) -> None:
    """An approved change is billed now when its servlet is prepaid (on an issued invoice,
    as its order was) or when it is billed in halves and work has started already."""
    if to is not ChangeOrderState.APPROVED or not change_order.price_minor:
        return
    engagement = db.session.get(Engagement, change_order.engagement_id)
    policy = db.session.get(ServletVersion, engagement.servlet_version_id).billing_policy
    line = db.session.get(OrderLine, change_order.order_line_id)
    order = db.session.get(Order, line.order_id)
    title = f"{_title(line)} ({engagement.reference})"
    if policy is BillingPolicy.PREPAID:
        key = f"change-order:{change_order.id}"
        charges = _make(
            order.vendor_id,
            order.customer_id,
            order.id,
            [Due(key, line, engagement.id, title, change_order.price_minor)],
        )
        if charges:
            invoices.freeze(
                _invoice(order, charges, f"Change order {change_order.reference}"), None
            )
    elif policy is BillingPolicy.MILESTONES and engagement.started_at is not None:
        first, _rest = halves(change_order.price_minor)
        charges = _make(
            order.vendor_id,
            order.customer_id,
            order.id,
            [
                Due(
                    f"change-order:{change_order.id}:start",
                    line,
                    engagement.id,
                    f"{title}, 50% at start",
                    first,
                )
            ],
        )
        if charges:
            _invoice(order, charges, f"Change order {change_order.reference}")
