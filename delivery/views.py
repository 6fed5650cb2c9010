"""Delivery pages: the engagement list for delivery staff and for the customer's people."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from core import params
from core.csv_export import csv_download
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import CUSTOMER_ROLES, current_actor, requires
from delivery import bp, policies, queries
from delivery.models import ASSIGNEES, ENGAGEMENT_VIEWERS, EngagementState

# Those who deliver see the engagements assigned to them (``Engagement.reach``).
READERS = (*ENGAGEMENT_VIEWERS, *CUSTOMER_ROLES, *ASSIGNEES)
nav_item("Engagements", "delivery.engagements", *READERS, group="Deliver", icon="kanban")

PER_PAGE = 25
CSV_LIMIT = 10_000


def _state() -> str:
    """The list's state filter (``""``: any state); another value is ignored, and said so."""
    return params.choice("state", [s.value for s in EngagementState])


def _late() -> str:
    """``start`` or ``deliver``: only the engagements late to do so (``""``: all)."""
    return params.choice("late", list(queries.LATE))


@bp.get("/engagements")
@requires(*READERS)
def engagements() -> ResponseReturnValue:
    actor = current_actor()
    state, late = _state(), _late()
    page = paginate(queries.engagements(actor, state, late), PER_PAGE)
    return render_template(
        "delivery/engagements.html",
        page=page,
        state=state,
        states=list(EngagementState),
        late=late,
        lates=queries.LATE,
        vendor_view=policies.sees_vendor_side(actor),
        order_links=policies.sees_orders(actor),
    )


@bp.get("/engagements/export.csv")
@requires(*READERS)
def export_engagements() -> ResponseReturnValue:
    """The rows the list shows, with its state filter."""
    stmt = queries.engagements(current_actor(), _state(), _late())
    rows = db.session.scalars(stmt.limit(CSV_LIMIT))
    return csv_download("engagements.csv", queries.CSV_HEADER, queries.csv_rows(rows))
