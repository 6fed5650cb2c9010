"""What payouts put on the partner manager's home: the latest statement the vendor approved
for the partner, with what it owes and whether it is paid."""

from __future__ import annotations

from flask import url_for

from billing import payout_queries
from core.extensions import db
from core.home import Figure, Panel, Row, home_panel
from core.permissions import Actor, Role
from core.templating import date_filter


@home_panel(Role.PARTNER_MANAGER)
def latest_statement(actor: Actor) -> Panel:
    """The partner's newest approved or paid statement (``Payout.reach`` hides drafts); the
    figure is the same total its page and PDF show."""
    latest = db.session.scalar(payout_queries.payouts().limit(1))
    listing = url_for("billing.payouts")
    if latest is None:
        return Panel(
            key="payouts",
            title="Your payout statements",
            empty="No statement yet: one appears when the vendor approves a period in which "
            "your engagements were accepted.",
            action=("Payout statements", listing),
        )
    period = f"{date_filter(latest.period_start)} to {date_filter(latest.period_end)}"
    paid = f"paid {date_filter(latest.paid_on)}" if latest.paid_on else "approved, not paid yet"
    link = url_for("billing.payout", payout_id=latest.id)
    return Panel(
        key="payouts",
        title="Your payout statements",
        figures=(Figure("Latest statement", latest.total.format(), link),),
        rows=(Row(f"Statement {period}", f"{latest.total.format()} · {paid}", link),),
        action=("All statements", listing),
    )
