"""The stored PDFs of invoices and credit notes, served as stored and never rendered again
here; until the background job has stored one, a page says it is on its way."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import undefer
from werkzeug.http import dump_options_header
from werkzeug.wrappers import Response

from billing import bp
from billing.documents import CREDIT_NOTE, INVOICE
from billing.models import BILLING_STAFF, CreditNote, Invoice, InvoiceDocument
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, get_or_404, requires

READERS = (*BILLING_STAFF, *CUSTOMER_ROLES)
RETRY_SECONDS = 10


def _page_url(endpoint: str, **values: int) -> str | None:
    """The object's own page, once the part of billing that offers it is there."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


def _serve(
    kind: str, object_id: int, title: str, reference: str, back: str | None
) -> ResponseReturnValue:
    document = db.session.scalar(
        select(InvoiceDocument)
        .where(InvoiceDocument.kind == kind, InvoiceDocument.object_id == object_id)
        .options(undefer(InvoiceDocument.pdf))
    )
    if document is None:
        page = render_template(
            "billing/document_pending.html", title=title, reference=reference, back=back
        )
        return page, 202, {"Retry-After": str(RETRY_SECONDS)}
    disposition = dump_options_header("inline", {"filename": document.filename})
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-cache"},
    )


@bp.get("/invoices/<int:invoice_id>/pdf", endpoint="invoice_pdf")
@requires(*READERS)
def invoice_pdf(invoice_id: int) -> ResponseReturnValue:
    invoice = get_or_404(Invoice, invoice_id)
    back = _page_url("billing.invoice", invoice_id=invoice.id)
    if invoice.is_draft:
        return render_template(
            "billing/document_pending.html",
            title="Invoice",
            reference=invoice.reference,
            back=back,
            draft=True,
        )
    return _serve(INVOICE, invoice.id, "Invoice", invoice.reference, back)


@bp.get("/credit-notes/<int:credit_note_id>/pdf", endpoint="credit_note_pdf")
@requires(*READERS)
def credit_note_pdf(credit_note_id: int) -> ResponseReturnValue:
    note = get_or_404(CreditNote, credit_note_id)
    back = _page_url("billing.credit_note", credit_note_id=note.id)
    return _serve(CREDIT_NOTE, note.id, "Credit note", note.reference, back)
