"""What the delivery area puts on role homes: engagements waiting for allocation, and a
customer's engagements with their state."""

from __future__ import annotations

from flask import url_for

from core.db import utcnow
from core.extensions import db
from core.home import Figure, Panel, Row, count, home_panel
from core.permissions import CUSTOMER_ROLES, Actor, Role
from core.templating import date_filter
from delivery import queries
from delivery.models import CLOSED, Engagement, EngagementState

SHOWN = 5


def _row(engagement: Engagement, detail: str) -> Row:
    return Row(
        label=f"{engagement.reference} · {engagement.servlet_version.title}",
        detail=detail,
        link=url_for("delivery.engagements", state=engagement.state.value),
    )


@home_panel(Role.DELIVERY_MANAGER)
def waiting_for_allocation(actor: Actor) -> Panel:
    requested = queries.engagements(actor, EngagementState.REQUESTED.value)
    waiting = count(requested)
    late = count(requested.where(Engagement.start_by < utcnow().date()))
    listing = url_for("delivery.engagements", state=EngagementState.REQUESTED.value)
    return Panel(
        key="allocation",
        title="Engagements waiting for allocation",
        figures=(
            Figure("Waiting", str(waiting), listing),
            Figure("Past their start date", str(late), listing),
        ),
        rows=tuple(
            _row(e, f"{e.customer.name} · start by {date_filter(e.start_by)}")
            for e in db.session.scalars(requested.limit(SHOWN))
        ),
        more=max(waiting - SHOWN, 0),
        empty="No engagement waits for allocation. Confirmed orders bring new ones here.",
        action=("All engagements", url_for("delivery.engagements")),
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
        rows=tuple(
            _row(e, f"{e.state.label} · deliver by {date_filter(e.deliver_by)}")
            for e in db.session.scalars(running.limit(SHOWN))
        ),
        more=max(waiting - SHOWN, 0),
        empty="No engagement is under way. Each confirmed order starts one per servlet bought.",
        action=("All engagements", url_for("delivery.engagements")),
    )
