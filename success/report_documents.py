"""Value report PDFs: a CSM asks for one customer's period, which makes one ``ValueReport``
row (a double click or two CSMs at once still make one) and queues its rendering; the
queued job prints the same partial as the page (``success/_value_report.html`` inside
``success/value_report_pdf.html``) with the billing documents' stylesheet, after commit and
with no transaction open, and stores the bytes once. Downloads serve the stored file.

A report is of the figures as they were when it was rendered: asking again for the same
period gives the stored one.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from accounts.models import Organization
from billing.documents import render_pdf
from core import audit, queue
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind
from delivery.kpis import Period
from success import policies, value_report
from success.report_models import ValueReport

JOB = "success.value_report"


def filename(customer_name: str, period: Period) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", customer_name.lower()).strip("-")[:60] or "customer"
    return f"value-report-{slug}-{period.start:%Y-%m-%d}-{period.end:%Y-%m-%d}.pdf"


def report_of(customer_id: int, period: Period) -> ValueReport | None:
    return db.session.scalar(
        select(ValueReport).where(
            ValueReport.customer_id == customer_id,
            ValueReport.period_start == period.start,
            ValueReport.period_end == period.end,
        )
    )


def request_report(actor: Actor | None, customer: Organization, period: Period) -> ValueReport:
    """The customer's report of ``period``, asked for once: made and queued the first time,
    found every time after."""
    if customer.kind is not OrgKind.CUSTOMER:
        raise ServiceError("Value reports are made for customers only.")
    if not policies.sees_account(actor, customer):
        raise NotAllowed("Only the vendor's CSMs and admins prepare value reports.")
    period = value_report.checked_period(period.start, period.end, utcnow().date())
    report = report_of(customer.id, period)
    if report is None:
        report = ValueReport(
            vendor_id=customer.tenant_id,
            customer_id=customer.id,
            period_start=period.start,
            period_end=period.end,
            requested_by_id=actor.user_id,
            filename=filename(customer.name, period),
        )
        db.session.add(report)
        try:
            db.session.flush()
        except IntegrityError:  # asked for at the same time by another request
            db.session.rollback()
            report = report_of(customer.id, period)
            db.session.commit()
            return report  # type: ignore[return-value]
        audit.record(
            "success.value_report_requested",
            report,
            changes={"period": [period.start.isoformat(), period.end.isoformat()]},
        )
    queue.enqueue(
        JOB, f"value-report:{report.id}", vendor_id=report.vendor_id, payload={"id": report.id}
    )
    db.session.commit()
    return report


def report_html(customer: Organization, period: Period) -> str:
    """The report as the PDF prints it, from the figures read now."""
    template = current_app.jinja_env.get_template("success/value_report_pdf.html")
    return template.render(
        report=value_report.figures(customer, period), customer=customer, for_print=True
    )


@queue.performs(JOB)
def store_value_report(payload: dict[str, Any]) -> None:
    report = db.session.get(ValueReport, payload["id"])
    if report is None or report.rendered_at is not None:
        db.session.commit()
        return
    customer = db.session.get(Organization, report.customer_id)
    html = report_html(customer, Period(report.period_start, report.period_end))
    report_id = report.id
    db.session.commit()
    pdf = render_pdf(html)
    # Stored once: a run whose lease had passed finds it stored and leaves it.
    db.session.execute(
        update(ValueReport)
        .where(ValueReport.id == report_id, ValueReport.rendered_at.is_(None))
        .values(pdf=pdf, rendered_at=utcnow())
    )
    db.session.commit()
