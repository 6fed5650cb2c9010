"""An account's timeline: what happened with the customer, newest first, from every area.

Each kind of event is read by one query of its own, newest first and limited to the rows the
requested page can need, then merged; so a page costs the same dozen queries whether the
customer has ten orders or ten thousand. Deep pages cost more rows, so paging stops at
``MAX_PAGE`` (the oldest events are on the lists of each area).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from accounts.models import Membership, Organization, User
from billing.models import OPEN_STATES, Invoice
from catalog.models import ServletVersion
from core.extensions import db
from core.money import Money
from delivery.models import Engagement
from ordering.models import Order
from success.models import AccountNote, CustomerAccount, KeyContact

PER_PAGE = 20
MAX_PAGE = 25


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # names the source, e.g. "order_placed" (data-kind on the page, and tests)
    title: str
    detail: str = ""
    who: str = ""
    endpoint: str | None = None  # the linked object's page
    args: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[Entry]
    page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _who(name: str | None, email: str | None) -> str:
    return name or email or ""


def _money(minor: int, currency: str) -> str:
    return Money(minor, currency).format()


Source = Callable[[Organization, CustomerAccount | None, int, date], Iterable[Entry]]


def _orders(customer: Organization, account: Any, limit: int, today: date) -> Iterable[Entry]:
    events = (
        ("order_placed", Order.created_at, Order.placed_by_id, "placed"),
        ("order_confirmed", Order.confirmed_at, None, "confirmed"),
        ("order_cancelled", Order.cancelled_at, Order.cancelled_by_id, "cancelled"),
    )
    for kind, stamp, by, verb in events:
        who = aliased(User)
        stmt = sa.select(
            Order.id,
            Order.number,
            Order.total_minor,
            Order.currency,
            stamp,
            who.name if by is not None else sa.null(),
            who.email if by is not None else sa.null(),
        ).where(Order.customer_id == customer.id, stamp.is_not(None))
        if by is not None:
            stmt = stmt.outerjoin(who, who.id == by)
        stmt = stmt.order_by(stamp.desc(), Order.id.desc()).limit(limit)
        for order_id, number, total, currency, at, name, email in db.session.execute(stmt):
            yield Entry(
                at=at,
                kind=kind,
                title=f"Order O-{number:06d} {verb}",
                detail=_money(total, currency),
                who=_who(name, email),
                endpoint="ordering.order_page",
                args={"order_id": order_id},
            )


def _engagements(customer: Organization, account: Any, limit: int, today: date) -> Iterable[Entry]:
    events = (
        ("engagement_started", Engagement.started_at, "started"),
        ("engagement_delivered", Engagement.delivered_at, "delivered"),
        ("engagement_accepted", Engagement.accepted_at, "accepted"),
    )
    for kind, stamp, verb in events:
        stmt = (
            sa.select(Engagement.id, Engagement.number, ServletVersion.title, stamp)
            .join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
            .where(Engagement.customer_id == customer.id, stamp.is_not(None))
            .order_by(stamp.desc(), Engagement.id.desc())
            .limit(limit)
        )
        for engagement_id, number, title, at in db.session.execute(stmt):
            yield Entry(
                at=at,
                kind=kind,
                title=f"Engagement E-{number:06d} {verb}",
                detail=title,
                endpoint="delivery.engagement",
                args={"engagement_id": engagement_id},
            )


def _ratings(customer: Organization, account: Any, limit: int, today: date) -> Iterable[Entry]:
    rater = aliased(User)
    stmt = (
        sa.select(
            Engagement.id,
            Engagement.number,
            Engagement.csat,
            Engagement.nps,
            Engagement.rated_at,
            rater.name,
            rater.email,
        )
        .outerjoin(Membership, Membership.id == Engagement.rated_by_id)
        .outerjoin(rater, rater.id == Membership.user_id)
        .where(Engagement.customer_id == customer.id, Engagement.rated_at.is_not(None))
        .order_by(Engagement.rated_at.desc(), Engagement.id.desc())
        .limit(limit)
    )
    for engagement_id, number, csat, nps, at, name, email in db.session.execute(stmt):
        scores = [
            f"CSAT {csat}/5" if csat is not None else "",
            f"NPS {nps}/10" if nps is not None else "",
        ]
        yield Entry(
            at=at,
            kind="rating",
            title=f"Engagement E-{number:06d} rated",
            detail=" · ".join(s for s in scores if s),
            who=_who(name, email),
            endpoint="delivery.engagement",
            args={"engagement_id": engagement_id},
        )


def _invoices(customer: Organization, account: Any, limit: int, today: date) -> Iterable[Entry]:
    columns = (Invoice.id, Invoice.number, Invoice.total_minor, Invoice.currency)
    for kind, stamp, verb in (
        ("invoice_issued", Invoice.issued_at, "issued"),
        ("invoice_paid", Invoice.paid_at, "paid"),
    ):
        stmt = (
            sa.select(*columns, stamp)
            .where(Invoice.customer_id == customer.id, stamp.is_not(None))
            .order_by(stamp.desc(), Invoice.id.desc())
            .limit(limit)
        )
        for invoice_id, number, total, currency, at in db.session.execute(stmt):
            yield Entry(
                at=at,
                kind=kind,
                title=f"Invoice {number} {verb}",
                detail=_money(total, currency),
                endpoint="billing.invoice",
                args={"invoice_id": invoice_id},
            )
    overdue = (
        sa.select(*columns, Invoice.due_on)
        .where(
            Invoice.customer_id == customer.id,
            Invoice.state.in_(OPEN_STATES),
            Invoice.due_on < today,
        )
        .order_by(Invoice.due_on.desc(), Invoice.id.desc())
        .limit(limit)
    )
    for invoice_id, number, total, currency, due_on in db.session.execute(overdue):
        yield Entry(
            # Overdue from the first day after the due date.
            at=datetime.combine(due_on + timedelta(days=1), time(), UTC),
            kind="invoice_overdue",
            title=f"Invoice {number} overdue",
            detail=f"{_money(total, currency)} due {due_on.isoformat()}",
            endpoint="billing.invoice",
            args={"invoice_id": invoice_id},
        )


def _contacts(customer: Organization, account: Any, limit: int, today: date) -> Iterable[Entry]:
    if account is None:
        return
    previous = aliased(KeyContact)
    replaced = (
        sa.select(previous.name)
        .where(
            previous.account_id == KeyContact.account_id,
            previous.role == KeyContact.role,
            previous.id < KeyContact.id,
        )
        .order_by(previous.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        sa.select(KeyContact, replaced, User.name, User.email)
        .outerjoin(User, User.id == KeyContact.created_by_id)
        .where(KeyContact.account_id == account.id)
        .order_by(KeyContact.created_at.desc(), KeyContact.id.desc())
        .limit(limit)
    )
    for contact, before, name, email in db.session.execute(stmt):
        role = contact.role.label
        yield Entry(
            at=contact.created_at,
            kind="contact_changed" if before else "contact_added",
            title=f"{role} contact changed to {contact.name}"
            if before
            else f"{role} contact: {contact.name}",
            detail=f"replaces {before}" if before else contact.email,
            who=_who(name, email),
        )


def _notes(customer: Organization, account: Any, limit: int, today: date) -> Iterable[Entry]:
    if account is None:
        return
    stmt = (
        sa.select(AccountNote.body, AccountNote.created_at, User.name, User.email)
        .outerjoin(User, User.id == AccountNote.author_id)
        .where(AccountNote.account_id == account.id)
        .order_by(AccountNote.created_at.desc(), AccountNote.id.desc())
        .limit(limit)
    )
    for body, at, name, email in db.session.execute(stmt):
        yield Entry(at=at, kind="note", title="Note", detail=body, who=_who(name, email))


SOURCES: tuple[Source, ...] = (_orders, _engagements, _ratings, _invoices, _contacts, _notes)


def timeline(
    customer: Organization, account: CustomerAccount | None, page: int, today: date
) -> TimelinePage:
    """Page ``page`` (from 1, at most ``MAX_PAGE``) of the customer's events, newest first."""
    page = max(1, min(page, MAX_PAGE))
    wanted = page * PER_PAGE + 1  # one more than the page needs says whether another follows
    entries = [entry for source in SOURCES for entry in source(customer, account, wanted, today)]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    start = (page - 1) * PER_PAGE
    shown = entries[start : start + PER_PAGE]
    return TimelinePage(shown, page, len(entries) > page * PER_PAGE and page < MAX_PAGE)
