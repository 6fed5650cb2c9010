"""What account health puts on home pages: a CSM's accounts by band and the top of their
early-warning list; an admin's health distribution across every account. Figures come from
the statements of the lists they link to (``success.early_warning``)."""

from __future__ import annotations

from flask import url_for

from core.db import utcnow
from core.extensions import db
from core.home import Figure, Panel, Row, count, home_panel
from core.permissions import Actor, Role
from success import early_warning as ew
from success import queries
from success.health_models import Band

SHOWN = 5


def _figures(actor: Actor, who: str) -> tuple[Figure, ...]:
    counts = ew.band_counts(actor, mine=who == queries.MINE)
    figures = tuple(
        Figure(
            band.label,
            str(counts[band]),
            url_for("success.early_warning", who=who, show=ew.EVERY, band=band.value),
        )
        for band in (Band.RED, Band.AMBER, Band.GREEN)
    )
    unscored = Figure("No score yet", str(counts[None]), url_for("success.accounts", who=who))
    return (*figures, unscored)


@home_panel(Role.CSM)
def accounts_by_health(actor: Actor) -> Panel:
    return Panel(
        key="accounts-by-health",
        title="Accounts by health",
        figures=_figures(actor, queries.MINE),
        action=(
            "Every account by score",
            url_for("success.early_warning", who=queries.MINE, show=ew.EVERY),
        ),
    )


@home_panel(Role.CSM)
def early_warning(actor: Actor) -> Panel:
    today = utcnow().date()
    limits = ew.thresholds()
    filters = ew.WarningFilters(who=queries.MINE)
    listed = ew.listing(actor, filters, limits, today)
    total = count(listed)
    rows = ew.rows_of(db.session.execute(listed.limit(SHOWN)).all(), limits, today)
    return Panel(
        key="early-warning",
        title="Early warning",
        figures=(
            Figure(
                "Need attention", str(total), url_for("success.early_warning", who=queries.MINE)
            ),
        ),
        rows=tuple(
            Row(
                label=f"{row.customer.name}: {row.health.score} ({row.health.band.label.lower()})",
                detail="; ".join(row.reasons)
                + (f". Suggested: {', '.join(row.suggestions)}" if row.suggestions else ""),
                link=url_for("success.account", account_id=row.customer.id),
                action="Open account",
            )
            for row in rows
        ),
        more=max(total - SHOWN, 0),
        empty="None of your accounts needs attention now.",
        action=("Early-warning list", url_for("success.early_warning", who=queries.MINE)),
    )


@home_panel(Role.ADMIN)
def health_distribution(actor: Actor) -> Panel:
    counts = ew.band_counts(actor, mine=False)
    scored = sum(counts[band] for band in Band)
    return Panel(
        key="health-distribution",
        title="Account health",
        figures=_figures(actor, queries.ALL),
        empty=(
            f"{scored} of {scored + counts[None]} accounts have a score."
            if scored + counts[None]
            else "No customer yet."
        ),
        action=("Early-warning list", url_for("success.early_warning", who=queries.ALL)),
    )
