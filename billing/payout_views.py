"""Payout pages: the statement list (finance: every partner's, filtered; a partner manager:
its own approved and paid ones), a statement with its actions, preparing a period, and the
statement's PDF and CSV."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import undefer

from accounts.models import Organization
from billing import bp, payout_documents, payout_queries, payouts, policies
from billing.models import BILLING_STAFF, InvoiceDocument, Payout, PayoutState
from billing.payout_forms import PaidForm, PrepareForm
from core import params
from core.csv_export import csv_download
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import Role, current_actor, get_or_404, requires
from core.templating import date_filter

READERS = (*BILLING_STAFF, Role.PARTNER_MANAGER)

nav_item("Payouts", "billing.payouts", *READERS, group="Bill", icon="cash-stack")

PER_PAGE = 25
CSV_LIMIT = 10_000


def _filters() -> payout_queries.PayoutFilters:
    """Finance's filters from the query string (a value that does not parse is ignored and
    said so, ``core.params``); a partner manager's list has none."""
    if not policies.keeps_books(current_actor()):
        return payout_queries.PayoutFilters()
    return payout_queries.PayoutFilters(
        partner_id=params.object_id("partner"),
        state=params.member("state", PayoutState),
        period_from=params.day("from"),
        period_to=params.day("to"),
    )


def _filter_args(filters: payout_queries.PayoutFilters) -> dict[str, str]:
    return params.query_args(
        {
            "partner": filters.partner_id,
            "state": filters.state,
            "from": filters.period_from,
            "to": filters.period_to,
        }
    )


@bp.get("/payouts", endpoint="payouts")
@requires(*READERS)
def payout_list() -> ResponseReturnValue:
    books = policies.keeps_books(current_actor())
    filters = _filters()
    context = {
        "page": paginate(payout_queries.payouts(filters), PER_PAGE),
        "filters": filters,
        "filter_args": _filter_args(filters),
        "books": books,
    }
    if books:
        context |= {
            "states": list(PayoutState),
            "partners": db.session.execute(payout_queries.partners()).all(),
        }
    return render_template("billing/payouts.html", **context)


@bp.get("/payouts/export.csv", endpoint="export_payouts")
@requires(*READERS)
def export_payouts() -> ResponseReturnValue:
    """Exactly the rows the list shows, every page of them."""
    rows = db.session.scalars(payout_queries.payouts(_filters()).limit(CSV_LIMIT))
    return csv_download("payouts.csv", payout_queries.CSV_HEADER, payout_queries.csv_rows(rows))


@bp.route("/payouts/prepare", methods=["GET", "POST"], endpoint="prepare_payouts")
@requires(*BILLING_STAFF)
def prepare_payouts() -> ResponseReturnValue:
    form = PrepareForm()
    if not form.is_submitted():
        form.period_start.data, form.period_end.data = payouts.last_month(utcnow().date())
    elif form.validate():
        try:
            result = payouts.prepare(current_actor(), form.period_start.data, form.period_end.data)
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            return _prepared(result, form)
    return render_template("billing/payout_prepare.html", form=form)


def _prepared(result: payouts.Prepared, form: PrepareForm) -> ResponseReturnValue:
    start, end = form.period_start.data, form.period_end.data
    period = f"{date_filter(start)} to {date_filter(end)}"
    for name in result.skipped:
        flash(
            f"{name} already has a statement from {date_filter(start)}: regenerate or delete "
            "that draft instead.",
            "warning",
        )
    if not result.payouts:
        if not result.skipped:
            flash(
                f"Nothing is owed for {period}: no engagement a partner delivered was accepted "
                "then, or every one is on a statement already.",
                "info",
            )
        return render_template("billing/payout_prepare.html", form=form)
    count = len(result.payouts)
    flash(
        f"Prepared {count} draft statement{'s' if count != 1 else ''} for {period}. "
        "Check each one, then approve it.",
        "success",
    )
    return redirect(url_for("billing.payouts", state="draft", **{"from": start, "to": end}))


@bp.get("/payouts/<int:payout_id>", endpoint="payout")
@requires(*READERS)
def payout_page(payout_id: int) -> ResponseReturnValue:
    payout = get_or_404(Payout, payout_id, *payouts.STATEMENT_OPTIONS)
    paid_form = PaidForm()
    if not paid_form.is_submitted():
        paid_form.paid_on.data = utcnow().date()
    return render_template(
        "billing/payout.html",
        payout=payout,
        vendor=db.session.get(Organization, payout.vendor_id),
        document=db.session.scalar(payout_documents.stored(payout_id)),
        books=policies.keeps_books(current_actor()),
        paid_form=paid_form,
    )


@bp.get("/payouts/<int:payout_id>/statement.pdf", endpoint="payout_pdf")
@requires(*READERS)
def payout_pdf(payout_id: int) -> ResponseReturnValue:
    """The PDF stored when the statement was approved, as it was made."""
    get_or_404(Payout, payout_id)
    document = db.session.scalar(
        payout_documents.stored(payout_id).options(undefer(InvoiceDocument.pdf))
    )
    if document is None:
        abort(404, "The PDF of this statement is not ready yet; try again in a moment.")
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename={document.filename}"},
    )


@bp.get("/payouts/<int:payout_id>/statement.csv", endpoint="payout_csv")
@requires(*READERS)
def payout_csv(payout_id: int) -> ResponseReturnValue:
    payout = get_or_404(Payout, payout_id, *payouts.STATEMENT_OPTIONS)
    name = payout_documents.filename(payout).removesuffix(".pdf") + ".csv"
    return csv_download(name, payouts.CSV_HEADER, payouts.csv_rows(payout))


def _back(payout_id: int) -> ResponseReturnValue:
    return redirect(url_for("billing.payout", payout_id=payout_id))


def _refused(error: ServiceError, payout_id: int) -> ResponseReturnValue:
    """A refusal goes back to the statement with its message (not to the referrer, which a
    form posted from elsewhere may not have)."""
    db.session.rollback()
    flash(error.message, "danger")
    return _back(payout_id)


@bp.post("/payouts/<int:payout_id>/approve", endpoint="approve_payout")
@requires(*BILLING_STAFF)
def approve_payout(payout_id: int) -> ResponseReturnValue:
    try:
        payout = payouts.approve(current_actor(), get_or_404(Payout, payout_id))
    except ServiceError as error:
        return _refused(error, payout_id)
    flash(
        f"Statement approved: {payout.total.format()} owed. The partner's manager can see it "
        "now; its PDF is being prepared.",
        "success",
    )
    return _back(payout_id)


@bp.post("/payouts/<int:payout_id>/paid", endpoint="mark_payout_paid")
@requires(*BILLING_STAFF)
def mark_payout_paid(payout_id: int) -> ResponseReturnValue:
    payout = get_or_404(Payout, payout_id)
    form = PaidForm()
    if not form.validate_on_submit():
        errors = [error for field in (form.paid_on, form.reference) for error in field.errors]
        flash(" ".join(errors) or "Enter the day paid and the transfer's reference.", "danger")
        return _back(payout_id)
    try:
        payouts.mark_paid(current_actor(), payout, form.paid_on.data, form.reference.data)
    except ServiceError as error:
        return _refused(error, payout_id)
    flash(f"Statement marked paid on {date_filter(form.paid_on.data)}.", "success")
    return _back(payout_id)


@bp.post("/payouts/<int:payout_id>/regenerate", endpoint="regenerate_payout")
@requires(*BILLING_STAFF)
def regenerate_payout(payout_id: int) -> ResponseReturnValue:
    try:
        payout = payouts.regenerate(current_actor(), get_or_404(Payout, payout_id))
    except ServiceError as error:
        return _refused(error, payout_id)
    if payout is None:
        flash("Nothing is owed for that period any more, so the draft was deleted.", "info")
        return redirect(url_for("billing.payouts"))
    flash("Draft rebuilt from what the partner is owed for its period now.", "success")
    return _back(payout_id)


@bp.post("/payouts/<int:payout_id>/delete", endpoint="delete_payout")
@requires(*BILLING_STAFF)
def delete_payout(payout_id: int) -> ResponseReturnValue:
    try:
        payouts.delete_draft(current_actor(), get_or_404(Payout, payout_id))
    except ServiceError as error:
        return _refused(error, payout_id)
    flash("Draft deleted. Its engagements will be on the next statement prepared.", "info")
    return redirect(url_for("billing.payouts"))
