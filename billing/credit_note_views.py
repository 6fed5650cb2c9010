"""Credit note pages: finance's form that credits an issued invoice (in full or per line), one
credit note, and the list of them (finance: all; a customer's people: their own), with CSV."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from accounts.models import Organization
from billing import bp, credit_notes, policies
from billing.credit_note_forms import FULL, CreditNoteForm, form_for
from billing.models import BILLING_STAFF, CreditNote, Invoice
from core import params
from core.csv_export import csv_download
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import CUSTOMER_ROLES, current_actor, get_or_404, requires, scoped

READERS = (*BILLING_STAFF, *CUSTOMER_ROLES)
PER_PAGE = 25
CSV_LIMIT = 10_000
nav_item(
    "Credit notes", "billing.credit_notes", *BILLING_STAFF, group="Bill", icon="receipt-cutoff"
)

CSV_HEADER = [
    "number",
    "issued_on",
    "invoice",
    "customer",
    "reason",
    "currency",
    "net",
    "tax",
    "total",
]


def _invoice(invoice_id: int) -> Invoice:
    return get_or_404(Invoice, invoice_id, selectinload(Invoice.lines))


def _form_page(invoice: Invoice, form: CreditNoteForm, status: int = 200) -> ResponseReturnValue:
    left = credit_notes.left_by_line(invoice)
    rows = [
        {
            "line": line,
            "field": getattr(form, f"line_{line.id}"),
            "net_left": Money(left[line.id][0], invoice.currency),
            "gross_left": Money(sum(left[line.id]), invoice.currency),
        }
        for line in invoice.lines
    ]
    return render_template(
        "billing/credit_note_new.html",
        invoice=invoice,
        form=form,
        rows=rows,
        left=Money(invoice.total_minor - invoice.credited_minor, invoice.currency),
        creditable=invoice.state in credit_notes.CREDITABLE
        and invoice.credited_minor < invoice.total_minor,
    ), status


@bp.route(
    "/invoices/<int:invoice_id>/credit-notes/new",
    methods=["GET", "POST"],
    endpoint="new_credit_note",
)
@requires(*BILLING_STAFF)
def new_credit_note(invoice_id: int) -> ResponseReturnValue:
    invoice = _invoice(invoice_id)
    form = form_for(invoice)
    if not form.validate_on_submit():
        return _form_page(invoice, form, 400 if form.is_submitted() else 200)
    nets = None if form.scope.data == FULL else form.nets(invoice.currency)
    if form.scope.data != FULL and nets is None:
        return _form_page(invoice, form, 400)
    try:
        note = credit_notes.issue_credit_note(current_actor(), invoice, form.reason.data, nets)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _form_page(_invoice(invoice_id), form, error.status_code)
    flash(f"Credit note {note.number} issued for {note.total} on {invoice.number}.", "success")
    return redirect(url_for("billing.credit_note", credit_note_id=note.id))


@bp.get("/credit-notes/<int:credit_note_id>", endpoint="credit_note")
@requires(*READERS)
def credit_note(credit_note_id: int) -> ResponseReturnValue:
    note = get_or_404(CreditNote, credit_note_id, *credit_notes.page_options())
    return render_template(
        "billing/credit_note.html",
        note=note,
        invoice=note.invoice,
        vendor_view=policies.keeps_books(current_actor()),
        pdf="billing.credit_note_pdf" in current_app.view_functions,
    )


# --- the list ------------------------------------------------------------------------------


def _listed() -> tuple[Select[tuple[CreditNote]], int | None]:
    """Credit notes within reach, newest first; finance may narrow to one customer."""
    customer_id = params.object_id("customer") if policies.keeps_books(current_actor()) else None
    stmt = scoped(CreditNote).options(selectinload(CreditNote.invoice))
    if customer_id is not None:
        stmt = stmt.where(CreditNote.customer_id == customer_id)
    order = (CreditNote.sequence_year.desc(), CreditNote.sequence_number.desc())
    return stmt.order_by(*order), customer_id


@bp.get("/credit-notes", endpoint="credit_notes")
@requires(*READERS)
def credit_note_list() -> ResponseReturnValue:
    stmt, customer_id = _listed()
    vendor_view = policies.keeps_books(current_actor())
    return render_template(
        "billing/credit_notes.html",
        page=paginate(stmt, PER_PAGE),
        vendor_view=vendor_view,
        customer_id=customer_id,
        customers=_customers() if vendor_view else [],
        filter_args=params.query_args({"customer": customer_id}),
    )


def _customers() -> list[tuple[int, str]]:
    """Customers that have credit notes, for the filter (one query)."""
    return list(
        db.session.execute(
            select(Organization.id, Organization.name)
            .where(Organization.id.in_(select(CreditNote.customer_id)))
            .order_by(Organization.name)
        )
    )


@bp.get("/credit-notes/export.csv", endpoint="export_credit_notes")
@requires(*READERS)
def export_credit_notes() -> ResponseReturnValue:
    stmt, _ = _listed()
    notes = db.session.scalars(stmt.limit(CSV_LIMIT))
    return csv_download("credit-notes.csv", CSV_HEADER, (_csv_row(note) for note in notes))


def _csv_row(note: CreditNote) -> list[Any]:
    invoice = note.invoice
    return [
        note.number,
        note.issued_on.isoformat(),
        invoice.number,
        invoice.buyer.get("legal_name") or invoice.buyer.get("name", ""),
        note.reason,
        note.currency,
        Money(note.subtotal_minor, note.currency).to_decimal(),
        Money(note.tax_minor, note.currency).to_decimal(),
        note.total.to_decimal(),
    ]
