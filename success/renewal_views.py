"""The renewals page (admins and CSMs): accounts renewing in a window with their ARR, health
band and open recommendations, the ARR forecast by band, time to first value per account and
the median per segment; and its CSV."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from core import params
from core.csv_export import csv_download
from core.db import utcnow
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import current_actor, requires
from success import bp, policies, queries, renewals

READERS = policies.ACCOUNT_READERS
PER_PAGE = 25
CSV_LIMIT = 10_000

nav_item("Renewals", "success.renewals", *READERS, group="Success", icon="calendar-check")


def _filters() -> renewals.RenewalFilters:
    return renewals.RenewalFilters(
        who=params.choice("who", (queries.MINE, queries.ALL), queries.default_who(current_actor())),
        window=params.choice("window", tuple(renewals.WINDOWS), renewals.DEFAULT_WINDOW),
        segment=params.text("segment", 60),
    )


def _filter_args(filters: renewals.RenewalFilters) -> dict[str, str]:
    return params.query_args(
        {"who": filters.who, "window": filters.window, "segment": filters.segment}
    )


@bp.get("/accounts/renewals", endpoint="renewals")
@requires(*READERS)
def renewal_list() -> ResponseReturnValue:
    actor, today = current_actor(), utcnow().date()
    filters = _filters()
    page = paginate(renewals.renewals(actor, filters, today), PER_PAGE)
    return render_template(
        "success/renewals.html",
        page=page,
        rows=renewals.rows_of(page.items),
        forecast=renewals.forecast(actor, filters, today),
        segment_values=renewals.by_segment(actor),
        filters=filters,
        filter_args=_filter_args(filters),
        windows=renewals.WINDOWS,
        window_end=renewals.window_end(filters.window, today),
        segments=queries.segments(),
        bands=renewals.BANDS,
        band_labels=renewals.BAND_LABELS,
        now=utcnow(),
    )


@bp.get("/accounts/renewals.csv", endpoint="export_renewals")
@requires(*READERS)
def export_renewals() -> ResponseReturnValue:
    """Exactly the accounts the page lists with the same filters."""
    stmt = renewals.renewals(current_actor(), _filters(), utcnow().date()).limit(CSV_LIMIT)
    rows = renewals.rows_of(db.session.scalars(stmt).all())
    return csv_download("renewals.csv", renewals.CSV_HEADER, renewals.csv_rows(rows))
