"""What the catalog area puts on role homes: a CSM's open recommendations and conversion."""

from __future__ import annotations

from flask import url_for

from catalog import queries, recommendations
from catalog.models import Recommendation, RecommendationState
from core.extensions import db
from core.home import Figure, Panel, Row, ago, count, home_panel
from core.permissions import Actor, Role

SHOWN = 5
OPEN = (RecommendationState.PROPOSED, RecommendationState.VIEWED)


@home_panel(Role.CSM)
def open_recommendations(actor: Actor) -> Panel:
    mine = queries.vendor_recommendations(recommended_by_id=actor.user_id).where(
        Recommendation.state.in_(OPEN)
    )
    listed = count(mine)
    rows = db.session.scalars(mine.limit(SHOWN)).all()
    rate = recommendations.conversion(actor.user_id).rate
    listing = url_for("catalog.recommendations", who="mine")
    return Panel(
        key="recommendations",
        title="Your open recommendations",
        figures=(
            Figure("Open", str(listed), listing),
            Figure("Conversion", "—" if rate is None else f"{rate:.0%}", listing),
        ),
        rows=tuple(
            Row(
                label=f"{r.servlet.published.title} · {r.customer.name}",
                detail=f"{r.state.label} · sent {ago(r.created_at)}",
                link=listing,
            )
            for r in rows
        ),
        more=max(listed - SHOWN, 0),
        empty="No recommendation is waiting for a customer's answer.",
        action=("Recommend a servlet", url_for("catalog.new_recommendation")),
    )
