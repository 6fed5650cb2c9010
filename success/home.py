"""What the success area puts on the CSM's home: their accounts and the renewals coming up."""

from __future__ import annotations

from flask import url_for

from core.db import utcnow
from core.extensions import db
from core.home import Figure, Panel, Row, count, home_panel
from core.permissions import Actor, Role
from core.templating import date_filter
from success import queries

SHOWN = 5


@home_panel(Role.CSM)
def my_accounts(actor: Actor) -> Panel:
    today = utcnow().date()
    mine = count(queries.accounts(actor, queries.AccountFilters(who=queries.MINE), today))
    renewing = queries.AccountFilters(who=queries.MINE, renewing=True)
    renewals = queries.accounts(actor, renewing, today)
    due = count(renewals)
    listing = url_for("success.accounts", who=queries.MINE)
    renewal_listing = url_for("success.accounts", who=queries.MINE, renewing="90")
    return Panel(
        key="accounts",
        title="Your accounts",
        figures=(
            Figure("Accounts", str(mine), listing),
            Figure(f"Renewing in {queries.RENEWAL_WINDOW_DAYS} days", str(due), renewal_listing),
        ),
        rows=tuple(
            Row(
                label=row.customer.name,
                detail=f"{row.account.stage.label}, renews {date_filter(row.account.renewal_date)}",
                link=url_for("success.account", account_id=row.customer.id),
            )
            for row in queries.rows_of(db.session.scalars(renewals.limit(SHOWN)).all())
        ),
        more=max(due - SHOWN, 0),
        empty=(
            "No renewal in the next 90 days."
            if mine
            else "No customer accounts are assigned to you yet; an admin assigns them."
        ),
        action=("All accounts", url_for("success.accounts", who=queries.ALL)),
    )
