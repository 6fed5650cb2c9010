"""The PDFs of issued invoices and credit notes: rendered once after issue, stored, mailed.

Issuing only queues the work (``invoices.freeze`` queues "invoice.document";
``queue_credit_note_document`` is the credit notes' way). The job reads what it prints in a
short read, renders (WeasyPrint) with no transaction open, then in one transaction stores
the ``InvoiceDocument`` and queues one email per billing contact with the stored PDF
attached (``core.mail`` reads it at delivery): a second run finds the document stored and
does nothing, so the customer gets each document once.

The PDF is printed from the same partial as the HTML page (``billing/_invoice_document.html``
inside ``billing/invoice_pdf.html``), so both show the same words and figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from billing.models import BillingProfile, CreditNote, Invoice, InvoiceDocument, InvoiceState
from core import mail, queue
from core.extensions import db
from core.mail import Attachment
from core.permissions import Role
from core.templating import date_filter
from delivery import recipients

ATTACHMENT_SOURCE = "invoice_document"
INVOICE, CREDIT_NOTE = "invoice", "credit_note"
# In the static folder: the page links the first too; the second is the PDF's page.
STYLESHEETS = ("css/document.css", "css/document-print.css")


# --- rendering ---------------------------------------------------------------------------


def load_invoice(invoice_id: int) -> Invoice | None:
    """The invoice with what its document shows."""
    return db.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .options(selectinload(Invoice.lines))
        .execution_options(populate_existing=True)
    )


def load_credit_note(credit_note_id: int) -> CreditNote | None:
    """The credit note with its lines and its invoice (whose parties it prints)."""
    return db.session.scalar(
        select(CreditNote)
        .where(CreditNote.id == credit_note_id)
        .options(selectinload(CreditNote.lines), selectinload(CreditNote.invoice))
        .execution_options(populate_existing=True)
    )


def invoice_html(invoice: Invoice) -> str:
    # The Jinja environment directly, not render_template: the job has no request and the
    # document needs none of the page context.
    template = current_app.jinja_env.get_template("billing/invoice_pdf.html")
    return template.render(invoice=invoice, for_print=True)


def credit_note_html(credit_note: CreditNote) -> str:
    template = current_app.jinja_env.get_template("billing/credit_note_pdf.html")
    return template.render(credit_note=credit_note, for_print=True)


def render_pdf(html: str) -> bytes:
    """The PDF of a document's HTML, with the documents' stylesheet (the page's own)."""
    fonts, stylesheets = _print_setup()
    return HTML(string=html).write_pdf(stylesheets=stylesheets, font_config=fonts)


def _print_setup() -> tuple[FontConfiguration, list[CSS]]:
    """Fonts and the parsed stylesheets, made once per app: made afresh they cost about a
    quarter of a one-page render (Pango also caches the fonts' metrics per configuration).
    Documents render in the queue's one job at a time, so nothing else uses them meanwhile."""
    cached = current_app.extensions.get("billing_print")
    if cached is None:
        fonts = FontConfiguration()
        stylesheets = [
            CSS(filename=str(Path(current_app.static_folder) / name), font_config=fonts)
            for name in STYLESHEETS
        ]
        cached = current_app.extensions["billing_print"] = (fonts, stylesheets)
    return cached


# --- the jobs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """What a job needs after its read: the HTML to print and the mail to send with it."""

    vendor_id: int
    filename: str
    html: str
    recipients: list[str]
    subject: str
    body: str


def stored(kind: str, object_id: int) -> InvoiceDocument | None:
    return db.session.scalar(
        select(InvoiceDocument).where(
            InvoiceDocument.kind == kind, InvoiceDocument.object_id == object_id
        )
    )


def queue_credit_note_document(credit_note: CreditNote) -> None:
    """Ask for the credit note's PDF (and its mail) once the caller's transaction commits."""
    queue.enqueue(
        "credit_note.document",
        f"credit-note-document:{credit_note.id}",
        vendor_id=credit_note.vendor_id,
        payload={"credit_note_id": credit_note.id},
    )


@queue.performs("invoice.document")
def store_invoice_document(payload: dict[str, Any]) -> None:
    _store(INVOICE, payload["invoice_id"], _prepare_invoice)


@queue.performs("credit_note.document")
def store_credit_note_document(payload: dict[str, Any]) -> None:
    _store(CREDIT_NOTE, payload["credit_note_id"], _prepare_credit_note)


def _store(kind: str, object_id: int, prepare: Callable[[int], Prepared | None]) -> None:
    """Render and keep one document, and queue its mail, unless it is stored already."""
    prepared = None if stored(kind, object_id) else prepare(object_id)
    db.session.commit()
    if prepared is None:
        return
    pdf = render_pdf(prepared.html)
    document = InvoiceDocument(
        vendor_id=prepared.vendor_id,
        kind=kind,
        object_id=object_id,
        filename=prepared.filename,
        pdf=pdf,
    )
    db.session.add(document)
    try:
        db.session.flush()
    except IntegrityError:  # a run whose lease had passed stored (and mailed) it meanwhile
        db.session.rollback()
        return
    attachment = Attachment(ATTACHMENT_SOURCE, document.id, prepared.filename)
    for recipient in prepared.recipients:
        mail.send_mail(
            recipient,
            prepared.subject,
            prepared.body,
            vendor_id=prepared.vendor_id,
            attachments=[attachment],
        )
    db.session.commit()


@mail.attachment_source(ATTACHMENT_SOURCE)
def document_pdf(document_id: int) -> bytes | None:
    """The stored file, read by the outbox when it sends the mail (tenant-scoped)."""
    return db.session.scalar(select(InvoiceDocument.pdf).where(InvoiceDocument.id == document_id))


# --- who gets it, and what the mail says -------------------------------------------------


def billing_contacts(customer_id: int) -> list[str]:
    """The customer's billing emails; when it named none, its active buyers and approvers."""
    profile = db.session.scalar(
        select(BillingProfile).where(BillingProfile.organization_id == customer_id)
    )
    if profile is not None and profile.emails:
        return list(dict.fromkeys(profile.emails))
    people = recipients.with_roles(customer_id, Role.BUYER, Role.APPROVER)
    return [person.email for person in people]


def _link(endpoint: str, **values: Any) -> str:
    """An absolute link to a page another part of billing offers, once it exists."""
    if endpoint not in current_app.view_functions:
        return ""
    return recipients.link(endpoint, **values)


def _seller_name(invoice: Invoice) -> str:
    return invoice.seller.get("legal_name") or invoice.seller.get("name", "")


def _mail_body(online: str, *news: str) -> str:
    """The mail a document is sent with: the news, then its page when that exists."""
    parts = ("Hello,", *news, f"View it online: {online}" if online else "", "Thank you.")
    return "\n\n".join(part for part in parts if part)


def _prepare_invoice(invoice_id: int) -> Prepared | None:
    invoice = load_invoice(invoice_id)
    if invoice is None or invoice.state is InvoiceState.DRAFT:
        return None
    seller = _seller_name(invoice)
    if invoice.state is InvoiceState.PAID:
        owed = "It is paid in full: keep it for your records."
    else:
        due = date_filter(invoice.due_on)
        owed = f"Please pay {invoice.balance} by {due}, quoting {invoice.number}."
    body = _mail_body(
        _link("billing.invoice", invoice_id=invoice.id),
        f"{seller} has issued invoice {invoice.number} of {date_filter(invoice.issued_on)} "
        f"for {invoice.total}; the PDF is attached.",
        owed,
    )
    return Prepared(
        vendor_id=invoice.vendor_id,
        filename=f"{invoice.number}.pdf",
        html=invoice_html(invoice),
        recipients=billing_contacts(invoice.customer_id),
        subject=f"Invoice {invoice.number} from {seller}",
        body=body,
    )


def _prepare_credit_note(credit_note_id: int) -> Prepared | None:
    note = load_credit_note(credit_note_id)
    if note is None:
        return None
    invoice = note.invoice
    seller = _seller_name(invoice)
    body = _mail_body(
        _link("billing.credit_note", credit_note_id=note.id),
        f"{seller} has issued credit note {note.number} of {date_filter(note.issued_on)} "
        f"for {note.total}, crediting invoice {invoice.number}; the PDF is attached.",
    )
    return Prepared(
        vendor_id=note.vendor_id,
        filename=f"{note.number}.pdf",
        html=credit_note_html(note),
        recipients=billing_contacts(note.customer_id),
        subject=f"Credit note {note.number} from {seller}",
        body=body,
    )
