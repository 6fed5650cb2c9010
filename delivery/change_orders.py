"""Change orders: a change of scope during delivery, proposed by the delivery manager and
decided by the customer like an order (above its approval threshold, by an approver).

An approval applies the change in the same transaction as the decision: ``deliver_by`` moves
by the extra business days, the new tasks follow the existing ones, and the price difference
becomes a line of the engagement's order (the order's total grows with it) for billing to
invoice. Every service locks the engagement row first, so two decisions (or a decision and a
withdrawal) at once give one outcome and a message for the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import User
from catalog.models import ServletVersion
from core import audit, states
from core.bounds import OutOfBounds, parse_decimal
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.notifications import notification_kind, notify
from core.permissions import Actor, Role, scoped
from core.sequences import next_number
from delivery import kpi_facts, policies, recipients
from delivery.calendar import add_business_days, vendor_holidays
from delivery.models import ChangeOrder, ChangeOrderState, Engagement, Task
from delivery.moves import lock
from ordering.models import Order, OrderLine

_CO = ChangeOrderState
MAX_DESCRIPTION = 2000
MAX_TASKS = 20
MAX_TASK_TITLE = 200
MAX_EXTRA_DAYS = 365
MAX_EXTRA_HOURS = Decimal(1000)
MAX_REASON = 500
# What an order line's note keeps of the description (``OrderLine.note`` holds 300).
NOTE_LENGTH = 300

TO_DECIDE = notification_kind("change_order.proposed", "A change order waits for my decision")
DECIDED = notification_kind("change_order.decided", "A change order is approved or declined")


@dataclass(frozen=True)
class Proposal:
    """A change as the delivery manager typed it: tasks one per line, amounts as text."""

    description: str
    tasks: str = ""
    extra_days: int | None = 0
    extra_hours: str = "0"
    price: str = "0"


def _description(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ServiceError("What changes: describe the change for the customer.")
    if len(text) > MAX_DESCRIPTION:
        raise ServiceError(f"What changes: at most {MAX_DESCRIPTION:,} characters.")
    return text


def _tasks(text: str) -> list[str]:
    tasks = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(tasks) > MAX_TASKS:
        raise ServiceError(f"New tasks: at most {MAX_TASKS}, one per line.")
    too_long = next((t for t in tasks if len(t) > MAX_TASK_TITLE), None)
    if too_long is not None:
        raise ServiceError(
            f"New tasks: each at most {MAX_TASK_TITLE} characters "
            f"(“{too_long[:40]}…” is {len(too_long)})."
        )
    return tasks


def _extra_days(days: int | None) -> int:
    if days is None or not 0 <= days <= MAX_EXTRA_DAYS:
        raise ServiceError(
            f"Extra days: a whole number of business days from 0 to {MAX_EXTRA_DAYS}."
        )
    return days


def _extra_hours(text: str) -> Decimal:
    try:
        hours = parse_decimal(text or "0", whole_digits=4, places=2)
    except OutOfBounds as error:
        raise ServiceError("Extra hours: a number of hours with at most 2 decimals.") from error
    if not 0 <= hours <= MAX_EXTRA_HOURS:
        raise ServiceError(f"Extra hours: from 0 to {MAX_EXTRA_HOURS}.")
    return hours


def _price(text: str, currency: str) -> Money:
    try:
        price = Money.parse(text or "0", currency)
    except ValueError as error:
        raise ServiceError(f"Price difference: {error}.") from error
    if price.amount < 0:
        raise ServiceError(
            "Price difference: zero or more. Money given back is a credit note, from finance."
        )
    return price


def _order_line(engagement: Engagement) -> OrderLine:
    return db.session.get(OrderLine, engagement.order_line_id)


def propose(actor: Actor, engagement: Engagement, proposal: Proposal) -> ChangeOrder:
    """A delivery manager proposes a change to a scheduled, running or held engagement; the
    customer's buyers and approvers are asked to decide."""
    if not policies.proposes_change_orders(actor):
        raise NotAllowed("You do not have permission to do that.")
    line = _order_line(engagement)
    description = _description(proposal.description)
    tasks = _tasks(proposal.tasks)
    extra_days = _extra_days(proposal.extra_days)
    extra_hours = _extra_hours(proposal.extra_hours)
    price = _price(proposal.price, line.currency)
    engagement = lock(engagement)
    if engagement.state not in policies.CHANGEABLE:
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}; a change "
            "order is for a scheduled, running or held engagement."
        )
    change_order = ChangeOrder(
        vendor_id=engagement.vendor_id,
        number=next_number(engagement.vendor_id, "change_order"),
        engagement_id=engagement.id,
        description=description,
        tasks=tasks,
        extra_days=extra_days,
        extra_hours=extra_hours,
        price_minor=price.amount,
        currency=price.currency,
        proposed_by_id=actor.id,
    )
    states.begin(policies.CHANGE_ORDER_LIFE, change_order, _CO.PROPOSED)
    db.session.add(change_order)
    db.session.flush()
    audit.record(
        "change_order.proposed",
        change_order,
        changes={
            "engagement_id": engagement.id,
            "tasks": tasks,
            "extra_days": extra_days,
            "extra_hours": str(extra_hours),
            "price": str(price),
        },
    )
    _ask_customer(engagement, change_order)
    db.session.commit()
    return change_order


def _locked(engagement: Engagement, change_order: ChangeOrder) -> tuple[Engagement, ChangeOrder]:
    """The engagement under its row lock (which every change of its change orders takes
    first), then the change order as it is now."""
    engagement = lock(engagement)
    change_order = db.session.scalar(
        select(ChangeOrder)
        .where(ChangeOrder.id == change_order.id, ChangeOrder.engagement_id == engagement.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if change_order.state is not _CO.PROPOSED:
        raise InvalidTransition(
            f"Change order {change_order.reference} is {change_order.state.label.lower()} "
            "already; there is nothing left to decide."
        )
    return engagement, change_order


def approve(actor: Actor, engagement: Engagement, change_order: ChangeOrder) -> ChangeOrder:
    """The customer agrees: the change is applied and billed (see the module docstring)."""
    if not policies.decides_delivery_for(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    engagement, change_order = _locked(engagement, change_order)
    if not policies.may_approve_change_order(actor, engagement, change_order):
        raise NotAllowed(
            f"{change_order.reference} is above your organisation's approval threshold: "
            "an approver decides it. Your approvers were told."
        )
    if engagement.state not in policies.CHANGEABLE:
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}; the "
            "change can no longer be applied. Decline it, or ask the delivery manager."
        )
    changes = _apply(engagement, change_order)
    change_order.decided_by_id = actor.id
    states.transition(policies.CHANGE_ORDER_LIFE, change_order, _CO.APPROVED, actor, **changes)
    kpi_facts.refresh([engagement.id])
    _tell_decided(engagement, change_order, "approved")
    db.session.commit()
    return change_order


def _apply(engagement: Engagement, change_order: ChangeOrder) -> dict[str, Any]:
    """Move ``deliver_by``, append the tasks, add the order line; what changed, for the audit."""
    before = engagement.deliver_by
    holidays = vendor_holidays(engagement.vendor_id, before)
    engagement.deliver_by = add_business_days(before, change_order.extra_days, holidays)
    last = db.session.scalar(
        select(sa.func.coalesce(sa.func.max(Task.position), 0)).where(
            Task.engagement_id == engagement.id
        )
    )
    db.session.add_all(
        Task(
            vendor_id=engagement.vendor_id,
            engagement_id=engagement.id,
            position=last + offset,
            title=title,
            change_order_id=change_order.id,
        )
        for offset, title in enumerate(change_order.tasks, start=1)
    )
    source = _order_line(engagement)
    line = OrderLine(
        vendor_id=engagement.vendor_id,
        order_id=source.order_id,
        servlet_id=source.servlet_id,
        servlet_version_id=engagement.servlet_version_id,
        quantity=1,
        unit_price_minor=change_order.price_minor,
        currency=change_order.currency,
        intake_answers=[],
        note=f"{change_order.reference}: {change_order.description}"[:NOTE_LENGTH],
    )
    db.session.add(line)
    db.session.flush()
    change_order.order_line_id = line.id
    db.session.execute(
        sa.update(Order)
        .where(Order.id == source.order_id)
        .values(total_minor=Order.total_minor + change_order.price_minor)
    )
    audit.record(
        "engagement.changed",
        engagement,
        changes={
            "deliver_by": [before.isoformat(), engagement.deliver_by.isoformat()],
            "change_order_id": change_order.id,
            "tasks_added": len(change_order.tasks),
        },
    )
    return {"order_line_id": line.id, "deliver_by": engagement.deliver_by.isoformat()}


def decline(
    actor: Actor, engagement: Engagement, change_order: ChangeOrder, reason: str
) -> ChangeOrder:
    """The customer says no, with a reason the delivery manager reads; nothing else changes."""
    if not policies.decides_delivery_for(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    reason = _reason(reason, required=True)
    engagement, change_order = _locked(engagement, change_order)
    change_order.decided_by_id = actor.id
    change_order.reason = reason
    states.transition(policies.CHANGE_ORDER_LIFE, change_order, _CO.DECLINED, actor, reason)
    _tell_decided(engagement, change_order, "declined")
    db.session.commit()
    return change_order


def withdraw(
    actor: Actor, engagement: Engagement, change_order: ChangeOrder, reason: str = ""
) -> ChangeOrder:
    """The delivery manager takes back a change the customer has not decided yet."""
    if not policies.proposes_change_orders(actor):
        raise NotAllowed("You do not have permission to do that.")
    reason = _reason(reason, required=False)
    engagement, change_order = _locked(engagement, change_order)
    change_order.decided_by_id = actor.id
    change_order.reason = reason
    states.transition(policies.CHANGE_ORDER_LIFE, change_order, _CO.WITHDRAWN, actor, reason)
    _tell_decided(engagement, change_order, "withdrawn")
    db.session.commit()
    return change_order


def _reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ServiceError("Reason: tell the delivery manager why.")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"Reason: at most {MAX_REASON} characters.")
    return reason


# --- who is told --------------------------------------------------------------------------


def _title(engagement: Engagement, change_order: ChangeOrder) -> str:
    version = db.session.get(ServletVersion, engagement.servlet_version_id)
    return f"{change_order.reference} on {engagement.reference} {version.title}"


def _link(engagement: Engagement, change_order: ChangeOrder) -> str:
    return recipients.link(
        "delivery.change_order", engagement_id=engagement.id, change_order_id=change_order.id
    )


def _tell(
    people: list[User],
    engagement: Engagement,
    change_order: ChangeOrder,
    subject: str,
    body: str,
    kind: str,
) -> None:
    for user in people:
        notify(
            user,
            subject,
            body,
            _link(engagement, change_order),
            kind,
            vendor_id=engagement.vendor_id,
        )


def _ask_customer(engagement: Engagement, change_order: ChangeOrder) -> None:
    """The customer's buyers and approvers; above the threshold, the buyers read that an
    approver decides."""
    title = _title(engagement, change_order)
    summary = (
        f"{change_order.description}\n\nNew tasks: {len(change_order.tasks)} · extra days: "
        f"{change_order.extra_days} · price difference: {change_order.price}"
    )
    above = policies.approver_decides(engagement, change_order)
    for role in (Role.APPROVER, Role.BUYER):
        note = (
            "\n\nIt is above your approval threshold: an approver decides."
            if above and role is Role.BUYER
            else ""
        )
        _tell(
            recipients.with_roles(engagement.customer_id, role),
            engagement,
            change_order,
            f"Change order to decide: {title}",
            summary + note,
            TO_DECIDE,
        )


def _tell_decided(engagement: Engagement, change_order: ChangeOrder, outcome: str) -> None:
    """Both sides: the proposer and the delivery owner; the customer's buyers and approvers."""
    title = _title(engagement, change_order)
    why = f"\n\nReason: {change_order.reason}" if change_order.reason else ""
    moved = (
        f" Deliver by is now {engagement.deliver_by.isoformat()}." if outcome == "approved" else ""
    )
    people = {
        u.id: u
        for u in [
            *recipients.members(change_order.proposed_by_id, engagement.owner_id),
            *recipients.with_roles(engagement.customer_id, Role.BUYER, Role.APPROVER),
        ]
    }
    _tell(
        list(people.values()),
        engagement,
        change_order,
        f"{title} {outcome}",
        f"{title} was {outcome}.{moved}{why}",
        DECIDED,
    )


# --- reading ------------------------------------------------------------------------------


def visible(actor: Actor, state: ChangeOrderState | None = None) -> sa.Select[Any]:
    """The change orders of the engagements within ``actor``'s reach, those waiting for a
    decision first, then the newest."""
    reachable = scoped(Engagement).with_only_columns(Engagement.id)
    stmt = (
        select(ChangeOrder)
        .where(ChangeOrder.engagement_id.in_(reachable))
        .options(
            joinedload(ChangeOrder.engagement).joinedload(Engagement.servlet_version),
            joinedload(ChangeOrder.engagement).joinedload(Engagement.customer),
        )
    )
    if state is not None:
        stmt = stmt.where(ChangeOrder.state == state)
    waiting_first = sa.case((ChangeOrder.state == _CO.PROPOSED, 0), else_=1)
    return stmt.order_by(waiting_first, ChangeOrder.id.desc())


def of_engagement(engagement: Engagement, change_order_id: int) -> ChangeOrder | None:
    """One change order of an engagement already loaded within the caller's reach."""
    return db.session.scalar(
        select(ChangeOrder).where(
            ChangeOrder.id == change_order_id, ChangeOrder.engagement_id == engagement.id
        )
    )


def page_options() -> tuple[Any, ...]:
    """What the change-order pages show of the engagement."""
    return (
        joinedload(Engagement.servlet_version),
        joinedload(Engagement.customer),
        joinedload(Engagement.order_line),
        selectinload(Engagement.change_orders),
    )


def currency_of(engagement: Engagement) -> str:
    """The currency of the engagement's order: a change order's price difference is in it."""
    return _order_line(engagement).currency
