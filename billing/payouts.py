"""Partner payouts: per period and partner, the statement of what the vendor owes for the
accepted engagements the partner delivered, at the fee fixed on each assignment.

Finance prepares the statements of a period (one draft per partner with something owed),
may regenerate or delete a draft, approves it (final: the partner's manager now sees it and
its PDF is rendered in the background) and marks it paid with the day and reference of the
transfer. An assignment is paid once: ``PayoutLine.assignment_id`` is unique, and preparing
locks the vendor's books so two finance users at once never put it on two statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import Organization
from billing import policies
from billing.models import BILLING_STAFF, Payout, PayoutLine, PayoutState
from catalog.models import ServletVersion
from core import audit, queue, states
from core.db import utcnow
from core.errors import Conflict, InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor
from delivery.models import Assignment, Engagement, EngagementState

_P = PayoutState
MAX_PERIOD_DAYS = 366
MAX_REFERENCE = 200
DOCUMENT_JOB = "payout.document"

PAYOUT_LIFE = states.StateMachine(
    "payout",
    PayoutState,
    initial=frozenset({_P.DRAFT}),
    moves={
        (_P.DRAFT, _P.APPROVED): frozenset(BILLING_STAFF),
        (_P.APPROVED, _P.PAID): frozenset(BILLING_STAFF),
    },
    stamps={_P.APPROVED: "approved_at", _P.PAID: "paid_at"},
)


@dataclass(frozen=True)
class Owed:
    """One assignment the vendor owes its partner for, not yet on any statement."""

    assignment_id: int
    partner_id: int
    engagement_id: int
    description: str
    accepted_on: date
    fee_minor: int


@dataclass
class Prepared:
    """What ``prepare`` did: the drafts made, and the partners left alone because a
    statement of theirs already starts that day (regenerate or delete it instead)."""

    payouts: list[Payout] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def last_month(today: date) -> tuple[date, date]:
    """The default period: the last whole calendar month before ``today``."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def check_period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    if start is None or end is None:
        raise ServiceError("Period: enter its first and last day.")
    if end < start:
        raise ServiceError("Period: the last day is before the first; swap them.")
    if end > today:
        raise ServiceError(
            "Period: it has not ended yet. Prepare statements for a period that ends today "
            "or earlier, so no engagement accepted later is left out."
        )
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ServiceError(f"Period: at most {MAX_PERIOD_DAYS} days.")
    return start, end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's days as UTC instants: from the first midnight to the one after the end."""
    return datetime.combine(start, time.min, UTC), datetime.combine(
        end + timedelta(days=1), time.min, UTC
    )


def owed(start: date, end: date, partner_id: int | None = None) -> list[Owed]:
    """Every partner assignment with a fee on an engagement accepted in the period that no
    statement holds yet, by partner, then by acceptance."""
    since, until = _bounds(start, end)
    stmt = (
        select(
            Assignment.id,
            Assignment.partner_id,
            Assignment.partner_fee_minor,
            Engagement.id,
            Engagement.number,
            Engagement.accepted_at,
            ServletVersion.title,
            Organization.name,
        )
        .join(Engagement, Engagement.id == Assignment.engagement_id)
        .join(ServletVersion, ServletVersion.id == Engagement.servlet_version_id)
        .join(Organization, Organization.id == Engagement.customer_id)
        .where(
            Assignment.partner_id.is_not(None),
            Assignment.partner_fee_minor > 0,
            Engagement.state == EngagementState.ACCEPTED,
            Engagement.accepted_at >= since,
            Engagement.accepted_at < until,
            Assignment.id.not_in(select(PayoutLine.assignment_id)),
        )
        .order_by(Assignment.partner_id, Engagement.accepted_at, Assignment.id)
    )
    if partner_id is not None:
        stmt = stmt.where(Assignment.partner_id == partner_id)
    return [
        Owed(
            assignment_id=assignment_id,
            partner_id=partner,
            engagement_id=engagement_id,
            description=f"E-{number:06d} · {title} for {customer}"[:300],
            accepted_on=accepted_at.date(),
            fee_minor=fee,
        )
        for assignment_id, partner, fee, engagement_id, number, accepted_at, title, customer in (
            db.session.execute(stmt)
        )
    ]


def _refuse_unless_books(actor: Actor | None) -> None:
    if not policies.keeps_books(actor):
        raise NotAllowed("You do not have permission to do that.")


def _lock_books(vendor_id: int) -> None:
    """Serialise the vendor's statement-making: the vendor's row, locked until commit (on
    SQLite every writer already holds the database's write lock). ``FOR NO KEY UPDATE``
    so rows that merely point at the vendor are not held up."""
    db.session.execute(
        select(Organization.id).where(Organization.id == vendor_id).with_for_update(key_share=True)
    )


def lock(payout: Payout) -> Payout:
    """Re-read ``payout`` under a row lock, with its lines, as it is now."""
    return db.session.scalar(
        select(Payout)
        .where(Payout.id == payout.id)
        .options(selectinload(Payout.lines))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _put_lines(payout: Payout, lines: Iterable[Owed]) -> None:
    for line in lines:
        payout.lines.append(
            PayoutLine(
                vendor_id=payout.vendor_id,
                assignment_id=line.assignment_id,
                engagement_id=line.engagement_id,
                description=line.description,
                accepted_on=line.accepted_on,
                fee_minor=line.fee_minor,
                currency=payout.currency,
            )
        )
    payout.total_minor = sum(line.fee_minor for line in payout.lines)


def _summary(payout: Payout) -> dict[str, Any]:
    return {
        "partner_id": payout.partner_id,
        "period": [payout.period_start.isoformat(), payout.period_end.isoformat()],
        "lines": len(payout.lines),
        "total": str(payout.total),
    }


@contextmanager
def _each_assignment_once() -> Iterator[None]:
    """Write and commit; a line another transaction put on a statement first (the unique
    assignment) is a conflict with a message, not a 500. The books lock makes this the last
    line of defence."""
    try:
        yield
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise Conflict(
            "Another statement was prepared at the same moment; reload and check the drafts."
        ) from error


def _draft(actor: Actor, vendor: Organization, partner_id: int, start: date, end: date) -> Payout:
    payout = Payout(
        vendor_id=vendor.id,
        partner_id=partner_id,
        period_start=start,
        period_end=end,
        currency=vendor.currency,
        created_by_id=actor.user_id,
        lines=[],
    )
    states.begin(PAYOUT_LIFE, payout, _P.DRAFT)
    db.session.add(payout)
    return payout


def prepare(
    actor: Actor, period_start: date | None, period_end: date | None, today: date | None = None
) -> Prepared:
    """Finance drafts the period's statements: one per partner owed something not yet on a
    statement, each line an assignment at its fee, in the vendor's currency."""
    _refuse_unless_books(actor)
    start, end = check_period(period_start, period_end, today or utcnow().date())
    _lock_books(actor.vendor_id)
    vendor = db.session.get(Organization, actor.vendor_id)
    lines = owed(start, end)
    taken = dict(
        db.session.execute(
            select(Payout.partner_id, Organization.name)
            .join(Organization, Organization.id == Payout.partner_id)
            .where(
                Payout.partner_id.in_({line.partner_id for line in lines}),
                Payout.period_start == start,
            )
        ).all()
    )
    result = Prepared()
    with _each_assignment_once():
        for partner_id, group in groupby(lines, key=lambda line: line.partner_id):
            if partner_id in taken:
                result.skipped.append(taken[partner_id])
                continue
            payout = _draft(actor, vendor, partner_id, start, end)
            _put_lines(payout, group)
            db.session.flush()
            audit.record("payout.prepared", payout, changes=_summary(payout))
            result.payouts.append(payout)
    return result


def _check_draft(payout: Payout) -> None:
    if payout.state is not _P.DRAFT:
        raise InvalidTransition(
            f"This statement is {payout.state.label.lower()}: it no longer changes."
        )


def regenerate(actor: Actor, payout: Payout) -> Payout | None:
    """Rebuild a draft from what its partner is owed for its period now (an engagement
    accepted since, a fee corrected); a draft left with nothing owed is deleted."""
    _refuse_unless_books(actor)
    _lock_books(payout.vendor_id)
    payout = lock(payout)
    _check_draft(payout)
    before = _summary(payout)
    with _each_assignment_once():
        payout.lines.clear()
        db.session.flush()  # the old lines go before the same assignments come back
        lines = owed(payout.period_start, payout.period_end, payout.partner_id)
        if not lines:
            _delete(payout, "payout.deleted", {"reason": "nothing owed on rebuilding", **before})
            return None
        _put_lines(payout, lines)
        db.session.flush()
        audit.record("payout.regenerated", payout, changes={"before": before, **_summary(payout)})
    return payout


def _delete(payout: Payout, action: str, changes: dict[str, Any]) -> None:
    audit.record(action, payout, changes=changes)
    db.session.delete(payout)
    db.session.flush()


def delete_draft(actor: Actor, payout: Payout) -> None:
    """Throw a draft away: its assignments are owed again and a new preparation finds them."""
    _refuse_unless_books(actor)
    payout = lock(payout)
    _check_draft(payout)
    _delete(payout, "payout.deleted", _summary(payout))
    db.session.commit()


def approve(actor: Actor, payout: Payout) -> Payout:
    """Make a draft the final statement: the partner's manager sees it from now on, and its
    PDF is rendered once after commit."""
    _refuse_unless_books(actor)
    payout = lock(payout)
    _check_draft(payout)
    if not payout.lines or payout.total_minor <= 0:
        raise ServiceError("A statement of nothing cannot be approved; delete the draft instead.")
    states.transition(PAYOUT_LIFE, payout, _P.APPROVED, actor, total=str(payout.total))
    queue.enqueue(
        DOCUMENT_JOB,
        f"payout-document:{payout.id}",
        vendor_id=payout.vendor_id,
        payload={"payout_id": payout.id},
    )
    db.session.commit()
    return payout


def mark_paid(
    actor: Actor,
    payout: Payout,
    paid_on: date | None,
    reference: str,
    today: date | None = None,
) -> Payout:
    """Record that the vendor paid an approved statement: the day and the transfer's
    reference, as the bank statement shows them."""
    _refuse_unless_books(actor)
    payout = lock(payout)
    if payout.state is not _P.APPROVED:
        raise InvalidTransition(
            f"This statement is {payout.state.label.lower()}; only an approved statement "
            "can be marked paid."
        )
    reference = (reference or "").strip()
    if not reference:
        raise ServiceError("Reference: enter the transfer's reference from the bank statement.")
    if len(reference) > MAX_REFERENCE:
        raise ServiceError(f"Reference: at most {MAX_REFERENCE} characters.")
    today = today or utcnow().date()
    if paid_on is None:
        raise ServiceError("Paid on: enter the day the money was sent.")
    if paid_on > today:
        raise ServiceError("Paid on: cannot be in the future.")
    approved_on = payout.approved_at.date() if payout.approved_at else payout.period_end
    if paid_on < approved_on:
        raise ServiceError(
            f"Paid on: the statement was approved on {approved_on:%d %b %Y}; "
            "it cannot have been paid before."
        )
    payout.paid_on, payout.paid_reference = paid_on, reference
    states.transition(
        PAYOUT_LIFE, payout, _P.PAID, actor, paid_on=paid_on.isoformat(), reference=reference
    )
    db.session.commit()
    return payout


# --- reading ----------------------------------------------------------------------------


# What a statement's page, PDF and CSV show, loaded with it.
STATEMENT_OPTIONS = (selectinload(Payout.lines), joinedload(Payout.partner))


def with_lines(payout_id: int) -> sa.Select[tuple[Payout]]:
    return select(Payout).where(Payout.id == payout_id).options(*STATEMENT_OPTIONS)


CSV_HEADER = [
    "Partner",
    "Period start",
    "Period end",
    "Description",
    "Accepted on",
    "Fee",
    "Currency",
]


def csv_rows(payout: Payout) -> list[list[Any]]:
    """The statement's lines, then its total, as the PDF prints them (amounts in major
    units, written plainly for a spreadsheet)."""
    head = [payout.partner.name, payout.period_start.isoformat(), payout.period_end.isoformat()]
    rows: list[list[Any]] = [
        [
            *head,
            line.description,
            line.accepted_on.isoformat(),
            str(line.fee.to_decimal()),
            line.currency,
        ]
        for line in payout.lines
    ]
    rows.append([*head, "Total", "", str(payout.total.to_decimal()), payout.currency])
    return rows
