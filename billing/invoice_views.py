"""Invoice pages: the list (finance's, with filters and the accountant's CSV; a customer's
own issued invoices), the invoice page, and finance's drafts: new, lines, details, issue,
discard. Every change goes through ``billing.invoices``; an issued invoice is refused there."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from billing import bp, invoices, policies, queries
from billing.forms import (
    ConfirmForm,
    FromUninvoicedForm,
    InvoiceDetailsForm,
    InvoiceLineForm,
    NewInvoiceForm,
)
from billing.models import BILLING_STAFF, OPEN_STATES, Invoice, InvoiceState
from billing.payment_views import invoice_payments_context
from core import params
from core.csv_export import csv_download
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import CUSTOMER_ROLES, current_actor, get_or_404, requires

INVOICE_READERS = (*BILLING_STAFF, *CUSTOMER_ROLES)

nav_item("Invoices", "billing.invoices", *INVOICE_READERS, group="Bill", icon="receipt-cutoff")

PER_PAGE = 25
CSV_LIMIT = 10_000


# --- the list ----------------------------------------------------------------------------


def _filters(vendor_view: bool) -> queries.InvoiceFilters:
    """Filters from the query string; a value that does not parse is ignored (``core.params``).
    A customer filters by state and number only: there is one customer, its own."""
    return queries.InvoiceFilters(
        state=params.choice("state", queries.STATE_FILTERS) or None,
        customer_id=params.object_id("customer") if vendor_view else None,
        issued_from=params.day("from"),
        issued_to=params.day("to"),
        number=params.text("number", 40),
    )


def _filter_args(filters: queries.InvoiceFilters) -> dict[str, str]:
    return params.query_args(
        {
            "state": filters.state,
            "customer": filters.customer_id,
            "from": filters.issued_from,
            "to": filters.issued_to,
            "number": filters.number,
        }
    )


@bp.get("/invoices", endpoint="invoices")
@requires(*INVOICE_READERS)
def invoice_list() -> ResponseReturnValue:
    actor = current_actor()
    vendor_view = policies.keeps_books(actor)
    filters = _filters(vendor_view)
    today = utcnow().date()
    page = paginate(queries.invoices(actor, filters, today), PER_PAGE)
    states = [(s.value, s.label) for s in InvoiceState if vendor_view or s != InvoiceState.DRAFT]
    return render_template(
        "billing/invoices.html",
        page=page,
        filters=filters,
        filter_args=_filter_args(filters),
        vendor_view=vendor_view,
        today=today,
        states=[*states, (queries.OVERDUE, "Overdue")],
        customers=queries.customers() if vendor_view else [],
    )


@bp.get("/invoices/export.csv", endpoint="export_invoices")
@requires(*INVOICE_READERS)
def export_invoices() -> ResponseReturnValue:
    """Exactly the rows the list shows, one per invoice, for an accountant's import."""
    actor = current_actor()
    today = utcnow().date()
    stmt = queries.invoices(actor, _filters(policies.keeps_books(actor)), today)
    rows = db.session.scalars(stmt.limit(CSV_LIMIT))
    return csv_download("invoices.csv", queries.CSV_HEADER, queries.csv_rows(rows, today))


# --- one invoice -------------------------------------------------------------------------


def _endpoint(name: str) -> bool:
    """Whether another part of billing offers ``name`` (payments, PDFs, credit notes are
    built beside these pages): a link appears only once its page exists."""
    return name in current_app.view_functions


def _actions(invoice: Invoice) -> dict[str, bool]:
    """What the signed-in person may do with ``invoice`` from its page."""
    books = policies.keeps_books(current_actor())
    open_ = invoice.state in OPEN_STATES
    creditable = invoice.state in (*OPEN_STATES, InvoiceState.PAID)
    return {
        "edit": books and invoice.is_draft,
        "issue": books and invoice.is_draft,
        "discard": books and invoice.is_draft,
        "pdf": not invoice.is_draft and _endpoint("billing.invoice_pdf"),
        "record_payment": books and open_ and _endpoint("billing.record_payment"),
        "credit_note": books
        and creditable
        and invoice.credited_minor < invoice.total_minor
        and _endpoint("billing.new_credit_note"),
    }


def _load(invoice_id: int) -> Invoice:
    return get_or_404(Invoice, invoice_id, *queries.invoice_page_options())


@bp.get("/invoices/<int:invoice_id>", endpoint="invoice")
@requires(*INVOICE_READERS)
def invoice_page(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    recorded = queries.recorded_against(invoice)
    return render_template(
        "billing/invoice.html",
        invoice=invoice,
        payments=recorded.payments,
        refunds=recorded.refunds,
        credit_notes=recorded.credit_notes,
        document=recorded.document,
        vendor_view=policies.keeps_books(current_actor()),
        today=utcnow().date(),
        actions=_actions(invoice),
        confirm_form=ConfirmForm(),
        **invoice_payments_context(invoice, current_actor()),
    )


# --- drafts ------------------------------------------------------------------------------


def _to_invoice(invoice: Invoice) -> ResponseReturnValue:
    return redirect(url_for("billing.invoice", invoice_id=invoice.id))


def _refused(invoice: Invoice, error: ServiceError) -> ResponseReturnValue:
    db.session.rollback()
    flash(error.message, "danger")
    return _to_invoice(invoice)


def _immutable(invoice: Invoice) -> ResponseReturnValue:
    flash(
        f"Invoice {invoice.reference} is {invoice.state.label.lower()}. {invoices.IMMUTABLE}",
        "danger",
    )
    return _to_invoice(invoice)


def _edit_page(invoice: Invoice, status: int = 200, **forms: Any) -> ResponseReturnValue:
    forms.setdefault("line_form", InvoiceLineForm(formdata=None))
    forms.setdefault("details_form", InvoiceDetailsForm(formdata=None, obj=invoice))
    return render_template(
        "billing/invoice_edit.html",
        invoice=invoice,
        confirm_form=ConfirmForm(),
        **forms,
    ), status


@bp.get("/invoices/new", endpoint="new_invoice")
@requires(*BILLING_STAFF)
def new_invoice() -> ResponseReturnValue:
    customers = queries.customers()
    form = NewInvoiceForm()
    form.customer_id.choices = [(c.id, c.name) for c in customers if c.active]
    return render_template(
        "billing/invoice_new.html",
        form=form,
        customers=customers,
        uninvoiced=queries.uninvoiced_counts(),
        from_uninvoiced_form=FromUninvoicedForm(formdata=None),
    )


@bp.post("/invoices/new", endpoint="create_invoice")
@requires(*BILLING_STAFF)
def create_invoice() -> ResponseReturnValue:
    form = FromUninvoicedForm()  # the same one field: the customer's id
    if not form.validate_on_submit():
        flash("Choose one of your customers.", "danger")
        return redirect(url_for("billing.new_invoice"))
    try:
        invoice = invoices.draft_for(current_actor(), form.customer_id.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("billing.new_invoice"))
    flash("Draft started. Add its lines, then issue it.", "success")
    return redirect(url_for("billing.edit_invoice", invoice_id=invoice.id))


@bp.post("/invoices/from-uninvoiced", endpoint="draft_from_uninvoiced")
@requires(*BILLING_STAFF)
def draft_from_uninvoiced() -> ResponseReturnValue:
    form = FromUninvoicedForm()
    if not form.validate_on_submit():
        flash("Choose one of your customers.", "danger")
        return redirect(url_for("billing.new_invoice"))
    try:
        invoice = invoices.draft_from_uninvoiced(current_actor(), form.customer_id.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("billing.new_invoice"))
    flash("Draft made from the uninvoiced items. Check it, then issue it.", "success")
    return _to_invoice(invoice)


@bp.get("/invoices/<int:invoice_id>/edit", endpoint="edit_invoice")
@requires(*BILLING_STAFF)
def edit_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    return _edit_page(invoice)


@bp.post("/invoices/<int:invoice_id>/lines", endpoint="add_invoice_line")
@requires(*BILLING_STAFF)
def add_invoice_line(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    form = InvoiceLineForm()
    if not form.validate_on_submit():
        return _edit_page(invoice, 400, line_form=form)
    try:
        price = Money.parse(form.unit_price.data, invoice.currency)
    except ValueError as error:
        form.unit_price.errors = [f"{error}."]
        return _edit_page(invoice, 400, line_form=form)
    try:
        invoices.add_line(
            current_actor(),
            invoice,
            form.description.data,
            form.quantity.data,
            price,
            form.tax_rate.data,
        )
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _edit_page(_load(invoice_id), 400, line_form=form)
    flash("Line added.", "success")
    return redirect(url_for("billing.edit_invoice", invoice_id=invoice_id))


@bp.post(
    "/invoices/<int:invoice_id>/lines/<int:invoice_line_id>/remove",
    endpoint="remove_invoice_line",
)
@requires(*BILLING_STAFF)
def remove_invoice_line(invoice_id: int, invoice_line_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
    else:
        try:
            invoices.remove_line(current_actor(), invoice, invoice_line_id)
        except ServiceError as error:
            return _refused(invoice, error)
        flash("Line removed.", "info")
    return redirect(url_for("billing.edit_invoice", invoice_id=invoice_id))


@bp.post("/invoices/<int:invoice_id>/details", endpoint="update_invoice")
@requires(*BILLING_STAFF)
def update_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    form = InvoiceDetailsForm()
    if not form.validate_on_submit():
        return _edit_page(invoice, 400, details_form=form)
    try:
        invoices.update_draft(
            current_actor(),
            invoice,
            po_number=form.po_number.data or "",
            notes=form.notes.data or "",
            terms_days=form.terms_days.data,
        )
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _edit_page(_load(invoice_id), 400, details_form=form)
    flash("Details saved.", "success")
    return redirect(url_for("billing.edit_invoice", invoice_id=invoice_id))


@bp.post("/invoices/<int:invoice_id>/issue", endpoint="issue_invoice")
@requires(*BILLING_STAFF)
def issue_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return _to_invoice(invoice)
    try:
        invoice = invoices.issue(current_actor(), invoice)
    except ServiceError as error:
        return _refused(invoice, error)
    flash(
        f"Invoice {invoice.number} issued, due {invoice.due_on.isoformat()}. Its PDF is being "
        "prepared and will be emailed to the customer's billing contacts.",
        "success",
    )
    return _to_invoice(invoice)


@bp.post("/invoices/<int:invoice_id>/discard", endpoint="discard_invoice")
@requires(*BILLING_STAFF)
def discard_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return _to_invoice(invoice)
    try:
        invoices.discard(current_actor(), invoice)
    except ServiceError as error:
        return _refused(invoice, error)
    flash(f"{invoice.reference} discarded; its items are uninvoiced again.", "info")
    return redirect(url_for("billing.invoices"))
