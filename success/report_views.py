"""Value report (QBR) pages: one customer's period as a page for the vendor's CSMs and
admins and for the customer's own people, the PDFs prepared of it, and the account page's
section listing them. The figures come from ``success.value_report``; the PDFs from
``success.report_documents``."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import undefer
from werkzeug.http import dump_options_header
from werkzeug.wrappers import Response
from wtforms.validators import InputRequired

from accounts.models import Organization
from core.bounds import OutOfBounds, parse_day
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.form_fields import DayField
from core.navigation import nav_item
from core.permissions import CUSTOMER_ROLES, Actor, current_actor, get_or_404, requires
from delivery.kpis import Period
from success import bp, policies, report_documents, value_report
from success.report_models import ValueReport
from success.sections import Section, account_section

READERS = policies.ACCOUNT_READERS
REPORT_READERS = (*READERS, *CUSTOMER_ROLES)
LISTED_REPORTS = 12
RETRY_SECONDS = 10

nav_item(
    "Value report",
    "success.customer_value_report",
    *CUSTOMER_ROLES,
    group="Success",
    icon="graph-up-arrow",
)


class PrepareReportForm(FlaskForm):
    start = DayField("From", validators=[InputRequired()])
    end = DayField("To", validators=[InputRequired()])


def _asked_period(today: date) -> tuple[Period | None, str]:
    """The period in the address (the last full quarter when none), or why it is refused."""
    raw = {name: request.args.get(name, "").strip()[:40] for name in ("start", "end")}
    try:
        start, end = (parse_day(raw[n]) if raw[n] else None for n in ("start", "end"))
        return value_report.checked_period(start, end, today), ""
    except OutOfBounds as error:
        return None, f"Dates: expected {error}."
    except ServiceError as error:
        return None, error.message


def reports_of(customer_id: int) -> list[ValueReport]:
    """The PDFs prepared for the customer, newest period first (their bytes not loaded)."""
    return list(
        db.session.scalars(
            select(ValueReport)
            .where(ValueReport.customer_id == customer_id)
            .order_by(ValueReport.period_start.desc(), ValueReport.period_end.desc())
            .limit(LISTED_REPORTS)
        )
    )


def _report_page(
    customer: Organization,
    period: Period | None,
    error: str = "",
    status: int = 200,
    form: PrepareReportForm | None = None,
) -> ResponseReturnValue:
    actor = current_actor()
    for_customer = actor.role in CUSTOMER_ROLES
    today = utcnow().date()
    shown = period or value_report.last_full_quarter(today)
    if not for_customer and form is None:
        form = PrepareReportForm(formdata=None, data={"start": shown.start, "end": shown.end})
    return render_template(
        "success/value_report.html",
        customer=customer,
        report=value_report.figures(customer, period) if period is not None else None,
        period=shown,
        error=error,
        for_customer=for_customer,
        form=form,
        reports=reports_of(customer.id),
        earliest=value_report.earliest_day(today),
        latest=value_report.latest_day(today),
    ), status


@bp.get("/accounts/<int:account_id>/value-report", endpoint="value_report")
@requires(*READERS)
def account_value_report(account_id: int) -> ResponseReturnValue:
    customer = policies.account_or_404(account_id)
    period, error = _asked_period(utcnow().date())
    return _report_page(customer, period, error, 400 if error else 200)


@bp.get("/value-report", endpoint="customer_value_report")
@requires(*CUSTOMER_ROLES)
def customer_value_report() -> ResponseReturnValue:
    """The signed-in customer's own report."""
    customer = db.session.get(Organization, current_actor().organization_id)
    period, error = _asked_period(utcnow().date())
    return _report_page(customer, period, error, 400 if error else 200)


@bp.post("/accounts/<int:account_id>/value-reports", endpoint="prepare_value_report")
@requires(*READERS)
def prepare_value_report(account_id: int) -> ResponseReturnValue:
    customer = policies.account_or_404(account_id)
    form = PrepareReportForm()
    if not form.validate_on_submit():
        message = "Give the period's first and last day as dates."
        return _report_page(customer, None, message, 400, form)
    period = Period(form.start.data, form.end.data)
    try:
        report = report_documents.request_report(current_actor(), customer, period)
    except ServiceError as error:
        db.session.rollback()
        customer = db.session.get(Organization, account_id)
        return _report_page(customer, None, error.message, error.status_code, form)
    ready = "is ready below" if report.rendered_at else "is being prepared; it is listed below"
    flash(f"The PDF of {customer.name}'s value report {ready}.", "success")
    return redirect(
        url_for(
            "success.value_report",
            account_id=customer.id,
            start=report.period_start.isoformat(),
            end=report.period_end.isoformat(),
        )
    )


@bp.get("/value-reports/<int:value_report_id>/pdf", endpoint="value_report_pdf")
@requires(*REPORT_READERS)
def value_report_pdf(value_report_id: int) -> ResponseReturnValue:
    """The stored PDF; until the job stored it, a page that says it is on its way."""
    report = get_or_404(ValueReport, value_report_id, undefer(ValueReport.pdf))
    customer = db.session.get(Organization, report.customer_id)
    if current_actor().role not in CUSTOMER_ROLES and not policies.sees_account(
        current_actor(), customer
    ):
        abort(404)
    if report.pdf is None:
        page = render_template(
            "success/value_report_pending.html", report=report, customer=customer
        )
        return page, 202, {"Retry-After": str(RETRY_SECONDS), "Refresh": str(RETRY_SECONDS)}
    disposition = dump_options_header("inline", {"filename": report.filename})
    return Response(
        report.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-cache"},
    )


@account_section(60)
def reports_section(customer: Organization, actor: Actor, today: date) -> Section:
    """The PDFs made for the account, and the form that prepares another."""
    period = value_report.last_full_quarter(today)
    form: Any = PrepareReportForm(formdata=None, data={"start": period.start, "end": period.end})
    return Section(
        "success/_account_reports.html",
        {"reports": reports_of(customer.id), "form": form, "period": period},
        "side",
    )
