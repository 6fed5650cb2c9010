"""What NPS follow-ups and renewals put on the CSM's home: the follow-ups waiting for them,
overdue first, and the accounts renewing this quarter with the ARR at stake."""

from __future__ import annotations

from flask import url_for

from core.db import utcnow
from core.extensions import db
from core.home import Figure, Panel, Row, count, home_panel
from core.permissions import Actor, Role
from core.templating import date_filter, money_filter
from success import follow_ups, queries, renewals

SHOWN = 5


@home_panel(Role.CSM)
def my_follow_ups(actor: Actor) -> Panel:
    today = utcnow().date()
    waiting = follow_ups.tasks(actor, follow_ups.TaskFilters(who=follow_ups.MINE))
    total = count(waiting)
    listing = url_for("success.follow_ups", who=follow_ups.MINE)
    shown = db.session.scalars(waiting.limit(SHOWN)).all()
    names = follow_ups.customer_names({task.customer_id for task in shown})
    return Panel(
        key="follow-ups",
        title="Follow-ups",
        figures=(Figure("Open", str(total), listing),),
        rows=tuple(
            Row(
                label=f"{names.get(task.customer_id, '')}: {task.title}",
                detail=("Overdue since " if task.due_on < today else "Due ")
                + date_filter(task.due_on),
                link=listing,
                action="Follow up",
            )
            for task in shown
        ),
        more=max(total - SHOWN, 0),
        empty="No follow-up waiting: detractors, passives and low CSAT ratings open one here.",
        action=("All follow-ups", listing),
    )


@home_panel(Role.CSM)
def my_renewals_this_quarter(actor: Actor) -> Panel:
    today = utcnow().date()
    filters = renewals.RenewalFilters(who=queries.MINE, window=renewals.QUARTER)
    listing = url_for("success.renewals", who=queries.MINE, window=renewals.QUARTER)
    stmt = renewals.renewals(actor, filters, today)
    due = count(stmt)
    forecast = renewals.forecast(actor, filters, today)
    rows = renewals.rows_of(db.session.scalars(stmt.limit(SHOWN)).all())
    return Panel(
        key="renewals-quarter",
        title="Renewals this quarter",
        figures=(
            Figure("Renewing", str(due), listing),
            *(
                Figure(f"ARR ({currency})", money_filter(forecast.total(currency)), listing)
                for currency in forecast.currencies
            ),
        ),
        rows=tuple(
            Row(
                label=row.customer,
                detail=f"{row.band_label}, {money_filter(row.account.arr)}, renews "
                f"{date_filter(row.account.renewal_date)}",
                link=url_for("success.account", account_id=row.account.organization_id),
            )
            for row in rows
        ),
        more=max(due - SHOWN, 0),
        empty="None of your accounts renews this quarter.",
        action=("All renewals", url_for("success.renewals", who=queries.MINE)),
    )
