"""Invoice pages: the list (finance's, with filters and the accountant's CSV; a customer's
own issued invoices), the invoice page, and finance's drafts: new, lines, details, issue,
discard. Every change goes through ``billing.invoices``; an issued invoice is refused there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

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
from core.permissions import CUSTOMER_ROLES, Actor, current_actor, get_or_404, requires
from core.templating import date_filter

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


def _save_draft(
    invoice_id: int, form_name: str, form: FlaskForm, change: Callable[[], object], done: str
) -> ResponseReturnValue:
    """Run one change of a draft from its edit page; refused, the page shows why with the
    form as it was posted."""
    try:
        change()
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _edit_page(_load(invoice_id), 400, **{form_name: form})
    flash(done, "success")
    return redirect(url_for("billing.edit_invoice", invoice_id=invoice_id))


def _confirmed_draft_change(
    invoice_id: int, change: Callable[[Invoice], ResponseReturnValue], back: str
) -> ResponseReturnValue:
    """A draft's one-click change (remove a line, issue, discard): refused on an issued
    invoice, on an expired form (back to ``back``) or by the service; ``change`` calls the
    service and says what it did."""
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return redirect(url_for(back, invoice_id=invoice_id))
    try:
        return change(invoice)
    except ServiceError as error:
        return _refused(invoice, error)


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


def _start_draft(
    start: Callable[[Actor, int], Invoice], done: str, then: str
) -> ResponseReturnValue:
    """Both ways to start a draft post one field, the customer's id; ``then`` is the page
    the new draft opens on."""
    form = FromUninvoicedForm()
    if not form.validate_on_submit():
        flash("Choose one of your customers.", "danger")
        return redirect(url_for("billing.new_invoice"))
    try:
        invoice = start(current_actor(), form.customer_id.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("billing.new_invoice"))
    flash(done, "success")
    return redirect(url_for(then, invoice_id=invoice.id))


@bp.post("/invoices/new", endpoint="create_invoice")
@requires(*BILLING_STAFF)
def create_invoice() -> ResponseReturnValue:
    return _start_draft(
        invoices.draft_for, "Draft started. Add its lines, then issue it.", "billing.edit_invoice"
    )


@bp.post("/invoices/from-uninvoiced", endpoint="draft_from_uninvoiced")
@requires(*BILLING_STAFF)
def draft_from_uninvoiced() -> ResponseReturnValue:
    return _start_draft(
        invoices.draft_from_uninvoiced,
        "Draft made from the uninvoiced items. Check it, then issue it.",
        "billing.invoice",
    )


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
    return _save_draft(
        invoice_id,
        "line_form",
        form,
        lambda: invoices.add_line(
            current_actor(),
            invoice,
            form.description.data,
            form.quantity.data,
            price,
            form.tax_rate.data,
        ),
        "Line added.",
    )


@bp.post(
    "/invoices/<int:invoice_id>/lines/<int:invoice_line_id>/remove",
    endpoint="remove_invoice_line",
)
@requires(*BILLING_STAFF)
def remove_invoice_line(invoice_id: int, invoice_line_id: int) -> ResponseReturnValue:
    def remove(invoice: Invoice) -> ResponseReturnValue:
        invoices.remove_line(current_actor(), invoice, invoice_line_id)
        flash("Line removed.", "info")
        return redirect(url_for("billing.edit_invoice", invoice_id=invoice_id))

    return _confirmed_draft_change(invoice_id, remove, "billing.edit_invoice")


@bp.post("/invoices/<int:invoice_id>/details", endpoint="update_invoice")
@requires(*BILLING_STAFF)
def update_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    if not invoice.is_draft:
        return _immutable(invoice)
    form = InvoiceDetailsForm()
    if not form.validate_on_submit():
        return _edit_page(invoice, 400, details_form=form)
    return _save_draft(
        invoice_id,
        "details_form",
        form,
        lambda: invoices.update_draft(
            current_actor(),
            invoice,
            po_number=form.po_number.data or "",
            notes=form.notes.data or "",
            terms_days=form.terms_days.data,
        ),
        "Details saved.",
    )


@bp.post("/invoices/<int:invoice_id>/issue", endpoint="issue_invoice")
@requires(*BILLING_STAFF)
def issue_invoice(invoice_id: int) -> ResponseReturnValue:
    def issue(invoice: Invoice) -> ResponseReturnValue:
        invoice = invoices.issue(current_actor(), invoice)
        flash(
            f"Invoice {invoice.number} issued, due {date_filter(invoice.due_on)}. Its PDF is "
            "being prepared and will be emailed to the customer's billing contacts.",
            "success",
        )
        return _to_invoice(invoice)

    return _confirmed_draft_change(invoice_id, issue, "billing.invoice")


@bp.post("/invoices/<int:invoice_id>/discard", endpoint="discard_invoice")
@requires(*BILLING_STAFF)
def discard_invoice(invoice_id: int) -> ResponseReturnValue:
    def discard(invoice: Invoice) -> ResponseReturnValue:
        invoices.discard(current_actor(), invoice)
        flash(f"{invoice.reference} discarded; its items are uninvoiced again.", "info")
        return redirect(url_for("billing.invoices"))

    return _confirmed_draft_change(invoice_id, discard, "billing.invoice")
