"""What the delivery area puts on role homes: for delivery managers, engagements waiting for
allocation, late ones and time to approve; for those who deliver, their assignments and
their time waiting for approval; for partner managers, engagements to staff; for a
customer, its engagements with their state.

Each figure counts the statement its rows come from (``core.home.count``), so the number
and the list below it never disagree; rows open the engagement page.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import url_for
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from accounts.models import Membership
from core.db import utcnow
from core.extensions import db
from core.home import Figure, Panel, Row, ago, count, home_panel
from core.permissions import CUSTOMER_ROLES, Actor, Role, scoped
from core.templating import date_filter
from delivery import queries
from delivery.models import (
    CLOSED,
    YET_TO_DELIVER,
    YET_TO_START,
    Assignment,
    Engagement,
    EngagementState,
    Resource,
    TimeEntry,
    TimeEntryState,
)

SHOWN = 5
_E = EngagementState
# Time approvals and one's own time are the engagement workspace's pages.
TIME_APPROVALS = "delivery.time_approvals"
MY_TIME = "delivery.my_time"


def _link(engagement: Engagement) -> str:
    return url_for("delivery.engagement", engagement_id=engagement.id)


def _row(engagement: Engagement, detail: str) -> Row:
    return Row(
        label=f"{engagement.reference} · {engagement.servlet_version.title}",
        detail=detail,
        link=_link(engagement),
    )


def _rows(stmt: Select[Any], detail: Any) -> tuple[Row, ...]:
    return tuple(_row(e, detail(e)) for e in db.session.scalars(stmt.limit(SHOWN)))


def _days_late(due: date, today: date) -> str:
    days = (today - due).days
    return f"{days} day{'s' if days != 1 else ''} late"


@home_panel(Role.DELIVERY_MANAGER)
def waiting_for_allocation(actor: Actor) -> Panel:
    requested = queries.engagements(actor, _E.REQUESTED.value)
    waiting = count(requested)
    late = count(requested.where(Engagement.start_by < utcnow().date()))
    listing = url_for("delivery.engagements", state=_E.REQUESTED.value)
    return Panel(
        key="allocation",
        title="Engagements waiting for allocation",
        figures=(
            Figure("Waiting", str(waiting), listing),
            Figure("Past their start date", str(late), listing),
        ),
        rows=_rows(requested, lambda e: f"{e.customer.name} · start by {date_filter(e.start_by)}"),
        more=max(waiting - SHOWN, 0),
        empty="No engagement waits for allocation. Confirmed orders bring new ones here.",
        action=("All engagements", url_for("delivery.engagements")),
    )


@home_panel(Role.DELIVERY_MANAGER)
def late(actor: Actor) -> Panel:
    """Each figure links to the list filtered to the same engagements."""
    today = utcnow().date()
    starting = count(queries.engagements(actor, late="start"))
    delivering = count(queries.engagements(actor, late="deliver"))
    listing = url_for("delivery.engagements")
    either = queries.engagements(actor).where(
        or_(Engagement.late_to_start(today), Engagement.late_to_deliver(today))
    )

    def detail(e: Engagement) -> str:
        if e.state in YET_TO_START and e.start_by < today:
            return f"{e.customer.name} · start {_days_late(e.start_by, today)}"
        return f"{e.customer.name} · delivery {_days_late(e.deliver_by, today)}"

    return Panel(
        key="late",
        title="Late engagements",
        figures=(
            Figure(
                "Not started by their start date",
                str(starting),
                url_for("delivery.engagements", late="start"),
            ),
            Figure(
                "Not delivered by their due date",
                str(delivering),
                url_for("delivery.engagements", late="deliver"),
            ),
        ),
        rows=_rows(either, detail),
        more=max(count(either) - SHOWN, 0),
        empty="Nothing is late: every engagement is within its start and delivery dates.",
        action=("All engagements", listing),
    )


def submitted_time() -> Select[tuple[TimeEntry]]:
    """Time entries of the tenant waiting for a delivery manager's decision, oldest first."""
    return (
        scoped(TimeEntry)
        .where(TimeEntry.state == TimeEntryState.SUBMITTED)
        .options(
            joinedload(TimeEntry.engagement).joinedload(Engagement.servlet_version),
            joinedload(TimeEntry.resource)
            .joinedload(Resource.membership)
            .joinedload(Membership.user),
        )
        .order_by(TimeEntry.created_at, TimeEntry.id)
    )


def _hours(stmt: Select[tuple[TimeEntry]]) -> Decimal:
    total = db.session.scalar(
        select(func.coalesce(func.sum(TimeEntry.hours), 0)).where(
            TimeEntry.id.in_(stmt.with_only_columns(TimeEntry.id).order_by(None))
        )
    )
    return Decimal(str(total))


def _time_rows(stmt: Select[tuple[TimeEntry]], who: bool) -> tuple[Row, ...]:
    return tuple(
        Row(
            label=f"{t.engagement.reference} · {t.engagement.servlet_version.title}",
            detail=(f"{t.resource.membership.user.name} · " if who else "")
            + f"{t.hours.normalize():f} h on {date_filter(t.day)} · logged {ago(t.created_at)}",
            link=url_for("delivery.engagement", engagement_id=t.engagement_id),
        )
        for t in db.session.scalars(stmt.limit(SHOWN))
    )


def _time_panel(
    key: str,
    title: str,
    waiting: Select[tuple[TimeEntry]],
    action: tuple[str, str],
    empty: str,
    who: bool,
) -> Panel:
    """Entries and hours waiting for a decision; ``who``: rows name the consultant."""
    entries, listing = count(waiting), action[1]
    return Panel(
        key=key,
        title=title,
        figures=(
            Figure("Entries waiting", str(entries), listing),
            Figure("Hours waiting", f"{_hours(waiting).normalize():f}", listing),
        ),
        rows=_time_rows(waiting, who=who),
        more=max(entries - SHOWN, 0),
        empty=empty,
        action=action,
    )


@home_panel(Role.DELIVERY_MANAGER)
def time_to_approve(actor: Actor) -> Panel:
    return _time_panel(
        "time-approvals",
        "Time to approve",
        submitted_time(),
        ("Approve time", url_for(TIME_APPROVALS)),
        "No time waits for approval. Consultants' logged hours come here.",
        who=True,
    )


def assigned_open(actor: Actor) -> Select[tuple[Engagement]]:
    """The engagements in the actor's reach still to start or finish, next date first."""
    return queries.engagements(actor).where(Engagement.state.in_(YET_TO_DELIVER))


def _next_date(e: Engagement) -> str:
    if e.state in YET_TO_START:
        return f"{e.state.label} · start by {date_filter(e.start_by)}"
    return f"{e.state.label} · deliver by {date_filter(e.deliver_by)}"


@home_panel(Role.CONSULTANT, Role.PARTNER_CONSULTANT)
def my_assignments(actor: Actor) -> Panel:
    mine = assigned_open(actor)
    open_count = count(mine)
    in_progress = count(mine.where(Engagement.state == _E.IN_PROGRESS))
    return Panel(
        key="assignments",
        title="Your assignments",
        figures=(
            Figure("Open", str(open_count), url_for("delivery.engagements")),
            Figure(
                "In progress",
                str(in_progress),
                url_for("delivery.engagements", state=_E.IN_PROGRESS.value),
            ),
        ),
        rows=_rows(mine, _next_date),
        more=max(open_count - SHOWN, 0),
        empty="No open assignment. The delivery manager assigns you engagements.",
        action=("All your engagements", url_for("delivery.engagements")),
    )


@home_panel(Role.CONSULTANT, Role.PARTNER_CONSULTANT)
def my_time_waiting(actor: Actor) -> Panel:
    mine = (
        submitted_time()
        .join(Resource, Resource.id == TimeEntry.resource_id)
        .where(Resource.membership_id == actor.id)
    )
    return _time_panel(
        "my-time",
        "Your time waiting for approval",
        mine,
        ("Your time", url_for(MY_TIME)),
        "None of your time waits for approval.",
        who=False,
    )


def without_consultant(actor: Actor) -> Select[tuple[Engagement]]:
    """Open engagements allocated to the actor's partner with no consultant named yet."""
    unnamed = select(Assignment.engagement_id).where(
        Assignment.partner_id == actor.organization_id, Assignment.resource_id.is_(None)
    )
    return assigned_open(actor).where(Engagement.id.in_(unnamed))


@home_panel(Role.PARTNER_MANAGER)
def partner_engagements(actor: Actor) -> Panel:
    to_staff = without_consultant(actor)
    unstaffed, open_count = count(to_staff), count(assigned_open(actor))
    listing = url_for("delivery.engagements")
    return Panel(
        key="partner-engagements",
        title="Engagements allocated to you",
        figures=(
            Figure("Waiting for a consultant", str(unstaffed), listing),
            Figure("Open", str(open_count), listing),
        ),
        rows=_rows(to_staff, lambda e: f"Name a consultant · {_next_date(e)}"),
        more=max(unstaffed - SHOWN, 0),
        empty="Every engagement allocated to you has a consultant named.",
        action=("All your engagements", listing),
    )


@home_panel(*CUSTOMER_ROLES)
def customer_engagements(actor: Actor) -> Panel:
    running = queries.engagements(actor).where(Engagement.state.not_in(CLOSED))
    waiting = count(running)
    return Panel(
        key="engagements",
        title="Your engagements",
        figures=(
            Figure("Under way or waiting to start", str(waiting), url_for("delivery.engagements")),
        ),
        rows=_rows(running, lambda e: f"{e.state.label} · deliver by {date_filter(e.deliver_by)}"),
        more=max(waiting - SHOWN, 0),
        empty="No engagement is under way. Each confirmed order starts one per servlet bought.",
        action=("All engagements", url_for("delivery.engagements")),
    )
