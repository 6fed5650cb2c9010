"""Health pages: the account page's health section, the early-warning list (admins and CSMs)
with its CSV, and the admin's weights per segment and warning thresholds. Every change goes
through ``success.health`` or ``success.early_warning``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from accounts.models import Organization
from core import params
from core.csv_export import csv_download
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import Actor, Role, current_actor, requires
from success import bp, health, policies, queries
from success import early_warning as ew
from success.health_components import LABELS
from success.health_forms import HealthModelForm, RemoveModelForm, ThresholdsForm
from success.health_models import AccountHealth, Band, HealthComponent, HealthHistory
from success.sections import Section, account_section

READERS = policies.ACCOUNT_READERS
PER_PAGE = 25
CSV_LIMIT = 10_000
HISTORY_DAYS = 365

nav_item(
    "Early warning", "success.early_warning", *READERS, group="Success", icon="exclamation-triangle"
)
nav_item("Health score", "success.health_model", Role.ADMIN, group="Success", icon="heart-pulse")


# --- the account page's section ----------------------------------------------------------


@dataclass(frozen=True)
class HistoryChart:
    """The score over a year as a step line (SVG units); 0-100 upwards."""

    width: int
    height: int
    points: str  # "x,y x,y ..." for a polyline
    first: date
    last: date

    def y(self, score: int) -> float:
        return round(self.height - score * self.height / 100, 1)


def history_chart(
    rows: list[tuple[date, int]], today: date, width: int = 300, height: int = 100
) -> HistoryChart | None:
    """A step line through each day's score, held until the next change, to today."""
    if not rows:
        return None
    first = today - timedelta(days=HISTORY_DAYS)
    span = HISTORY_DAYS

    def x(day: date) -> float:
        return round(max((day - first).days, 0) * width / span, 1)

    def y(score: int) -> float:
        return round(height - score * height / 100, 1)

    points = []
    for index, (day, score) in enumerate(rows):
        if index:
            points.append(f"{x(day)},{y(rows[index - 1][1])}")
        points.append(f"{x(day)},{y(score)}")
    points.append(f"{width},{y(rows[-1][1])}")
    return HistoryChart(width, height, " ".join(points), max(rows[0][0], first), today)


@account_section(10)
def health_section(customer: Organization, actor: Actor, today: date) -> Section | None:
    """Score, band, components, the latest changes and a year of history: two statements."""
    current = db.session.scalar(
        sa.select(AccountHealth).where(AccountHealth.customer_id == customer.id)
    )
    history = db.session.execute(
        sa.select(HealthHistory.day, HealthHistory.score, HealthHistory.band, HealthHistory.changes)
        .where(
            HealthHistory.customer_id == customer.id,
            HealthHistory.day > today - timedelta(days=HISTORY_DAYS),
        )
        .order_by(HealthHistory.day)
    ).all()
    components = []
    if current is not None:
        components = [
            {"key": c.value, "label": LABELS[c], **current.components[c.value]}
            for c in HealthComponent
            if c.value in current.components
        ]
    missing = [
        LABELS[c] for c in HealthComponent if current is None or c.value not in current.components
    ]
    return Section(
        "success/_account_health.html",
        {
            "health": current,
            "components": components,
            "rescaled": any(part["share"] != part["weight"] for part in components),
            "missing": missing,
            "changes": history[-1].changes if history else [],
            "changed_on": history[-1].day if history else None,
            "history": list(reversed(history)),
            "chart": history_chart([(row.day, row.score) for row in history], today),
        },
        column="main",
    )


# --- early warning -----------------------------------------------------------------------


def _filters() -> ew.WarningFilters:
    actor = current_actor()
    return ew.WarningFilters(
        who=params.choice("who", (queries.MINE, queries.ALL), queries.default_who(actor)),
        band=params.member("band", Band),
        show=params.choice("show", (ew.WARNINGS, ew.EVERY), ew.WARNINGS),
    )


def _filter_args(filters: ew.WarningFilters) -> dict[str, str]:
    return params.query_args(
        {
            "who": filters.who,
            "band": filters.band,
            "show": filters.show if filters.show != ew.WARNINGS else None,
        }
    )


def _warning_page(status: int = 200, form: ThresholdsForm | None = None) -> ResponseReturnValue:
    actor = current_actor()
    filters = _filters()
    limits = ew.thresholds()
    today = utcnow().date()
    stmt = ew.listing(actor, filters, limits, today)
    page = paginate(stmt.with_only_columns(AccountHealth), PER_PAGE)
    if form is None and actor.role is Role.ADMIN:
        form = ThresholdsForm(formdata=None, data=asdict(limits))
    return render_template(
        "success/early_warning.html",
        page=page,
        rows=ew.rows_of(ew.page_results(stmt, page.items), limits, today),
        filters=filters,
        filter_args=_filter_args(filters),
        limits=limits,
        bands=list(Band),
        restricted=policies.restricted_to_own(actor),
        form=form,
    ), status


@bp.get("/accounts/early-warning", endpoint="early_warning")
@requires(*READERS)
def early_warning() -> ResponseReturnValue:
    return _warning_page()


@bp.get("/accounts/early-warning.csv", endpoint="export_early_warning")
@requires(*READERS)
def export_early_warning() -> ResponseReturnValue:
    """Exactly the rows the list shows with the same filters."""
    limits = ew.thresholds()
    today = utcnow().date()
    stmt = ew.listing(current_actor(), _filters(), limits, today).limit(CSV_LIMIT)
    rows = ew.rows_of(db.session.execute(stmt).all(), limits, today)
    return csv_download("early-warning.csv", ew.CSV_HEADER, ew.csv_rows(rows))


@bp.post("/accounts/early-warning/thresholds", endpoint="save_warning_thresholds")
@requires(Role.ADMIN)
def save_warning_thresholds() -> ResponseReturnValue:
    form = ThresholdsForm()
    if not form.validate_on_submit():
        return _warning_page(400, form)
    try:
        ew.save_thresholds(current_actor(), form.warning_below.data, form.warning_drop.data)
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _warning_page(400, form)
    flash("Early-warning thresholds saved.", "success")
    return redirect(url_for("success.early_warning"))


# --- weights per segment -----------------------------------------------------------------


def _model_form(models: dict[str, health.Weights], segment: str) -> HealthModelForm:
    weights = health.weights_for(models, segment)
    data: dict[str, Any] = {
        "segment": segment,
        "red_below": weights.red_below,
        "green_from": weights.green_from,
    }
    for component in HealthComponent:
        data[f"weight_{component.value}"] = weights.weights.get(component.value, 0)
    return HealthModelForm(formdata=None, data=data)


def _model_page(
    segment: str, status: int = 200, form: HealthModelForm | None = None
) -> ResponseReturnValue:
    actor = current_actor()
    models = health.models_of(actor.vendor_id)
    segments = sorted(set(queries.segments()) | set(models) - {""})
    return render_template(
        "success/health_model.html",
        models=models,
        segments=segments,
        segment=segment,
        own=segment in models,
        form=form or _model_form(models, segment),
        remove_form=RemoveModelForm(formdata=None, data={"segment": segment}),
        components=list(HealthComponent),
        labels=LABELS,
    ), status


@bp.get("/accounts/health-model", endpoint="health_model")
@requires(Role.ADMIN)
def health_model() -> ResponseReturnValue:
    return _model_page(params.text("segment", health.MAX_SEGMENT))


@bp.post("/accounts/health-model", endpoint="save_health_model")
@requires(Role.ADMIN)
def save_health_model() -> ResponseReturnValue:
    form = HealthModelForm()
    segment = " ".join((form.segment.data or "").split())[: health.MAX_SEGMENT]
    if not form.validate_on_submit():
        return _model_page(segment, 400, form)
    change = health.ModelChange(
        segment=form.segment.data or "",
        weights={c.value: form[f"weight_{c.value}"].data for c in HealthComponent},
        red_below=form.red_below.data,
        green_from=form.green_from.data,
    )
    try:
        health.save_model(current_actor(), change)
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _model_page(segment, 400, form)
    flash(f"Weights of {segment or 'the default'} saved; scores are being recomputed.", "success")
    return redirect(url_for("success.health_model", segment=segment or None))


@bp.post("/accounts/health-model/remove", endpoint="remove_health_model")
@requires(Role.ADMIN)
def remove_health_model() -> ResponseReturnValue:
    form = RemoveModelForm()
    if not form.validate_on_submit():
        return _model_page("", 400)
    try:
        health.remove_model(current_actor(), form.segment.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("success.health_model"))
    flash(f"{form.segment.data} uses the default weights again.", "success")
    return redirect(url_for("success.health_model"))
