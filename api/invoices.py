"""``/api/v1/invoices`` and ``/api/v1/payments``: the vendor's bills and the money received,
read as the billing pages show them.

Reach is billing's own (``billing.policies``): finance and the vendor's admin read every
invoice of their vendor (drafts too) and every payment; a customer's buyers, approvers and
viewers the issued invoices of their own organisation and the payments made on them (the
invoice page shows those); everyone else none, and another's id is a 404.

Money is integer minor units with the invoice's currency. ``balance`` is what is still owed
(``total - credited - paid``, as ``Invoice.balance``). The PDF is the one rendered after issue
and stored: served as stored, a ``202`` problem with ``Retry-After`` until the background job
has stored it, a ``409`` for a draft (which has none).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload, undefer
from werkzeug.http import dump_options_header

from api.fields import ApiSchema, Id, MoneyField, Timestamp
from api.pagination import ListArgs, keyset_page, page_of
from api.problems import MEDIA_TYPE, Problem, ProblemSchema, problem_response
from api.rest import ApiBlueprint
from billing import policies, queries
from billing.document_views import RETRY_SECONDS
from billing.documents import INVOICE
from billing.models import Invoice, InvoiceDocument, InvoiceLine, InvoiceState, Payment
from billing.models import PaymentMethod as Method
from core.db import utcnow
from core.errors import Conflict
from core.extensions import db
from core.money import Money
from core.permissions import current_actor, get_or_404, scoped

blp = ApiBlueprint(
    "invoices",
    __name__,
    area="billing",
    description="Invoices and payments: what the vendor bills its customers and receives.",
)


class InvoiceCustomerSchema(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class InvoiceLineSchema(ApiSchema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    description = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price = MoneyField(required=True)
    net = MoneyField(required=True)
    tax_rate = fields.String(
        required=True, metadata={"description": 'Percent as a decimal string, e.g. "19.00".'}
    )
    tax = MoneyField(required=True)
    gross = MoneyField(required=True)


class PaymentSchema(ApiSchema):
    id = fields.Integer(required=True)
    invoice_id = fields.Integer(required=True)
    invoice_number = fields.String(required=True, allow_none=True)
    customer_id = fields.Integer(required=True)
    method = fields.String(required=True, metadata={"enum": [m.value for m in Method]})
    amount = MoneyField(required=True, metadata={"description": "What arrived."})
    applied = MoneyField(
        required=True,
        metadata={"description": "The part that paid the invoice (the rest became credit)."},
    )
    refunded = MoneyField(required=True)
    received_on = fields.Date(required=True)
    reference = fields.String(required=True)
    created_at = Timestamp(required=True)


class InvoiceSchema(ApiSchema):
    id = fields.Integer(required=True)
    number = fields.String(
        required=True, allow_none=True, metadata={"description": "null while a draft."}
    )
    state = fields.String(required=True, metadata={"enum": [s.value for s in InvoiceState]})
    overdue = fields.Boolean(required=True, metadata={"description": "Open and past its due date."})
    customer = fields.Nested(InvoiceCustomerSchema, required=True)
    order_id = fields.Integer(required=True, allow_none=True)
    currency = fields.String(required=True, metadata={"example": "EUR"})
    po_number = fields.String(required=True)
    issued_on = fields.Date(required=True, allow_none=True)
    due_on = fields.Date(required=True, allow_none=True)
    subtotal = MoneyField(required=True, metadata={"description": "Net."})
    tax = MoneyField(required=True)
    total = MoneyField(required=True)
    paid = MoneyField(required=True, metadata={"description": "Payments applied less refunds."})
    credited = MoneyField(required=True, metadata={"description": "By credit notes."})
    balance = MoneyField(required=True, metadata={"description": "Still owed."})
    created_at = Timestamp(required=True)
    issued_at = Timestamp(required=True, allow_none=True)
    paid_at = Timestamp(required=True, allow_none=True)
    voided_at = Timestamp(required=True, allow_none=True)


class InvoiceDetailSchema(InvoiceSchema):
    terms_days = fields.Integer(required=True)
    notes = fields.String(required=True)
    origin = fields.String(required=True, metadata={"description": "Why a policy made it."})
    lines = fields.List(fields.Nested(InvoiceLineSchema), required=True)
    payments = fields.List(fields.Nested(PaymentSchema), required=True)
    pdf_ready = fields.Boolean(
        required=True, metadata={"description": "Whether GET .../pdf serves the PDF yet."}
    )


class InvoiceListArgs(ListArgs):
    state = fields.String(
        load_default=None,
        validate=validate.OneOf(queries.STATE_FILTERS),
        metadata={"description": "A state, or `overdue` (open and past its due date)."},
    )
    customer_id = Id(
        strict=False,  # a query string's number is text
        load_default=None,
        metadata={"description": "Vendor staff: one customer's invoices."},
    )


def _invoice(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "number": invoice.number,
        "state": invoice.state.value,
        "overdue": invoice.overdue_on(utcnow().date()),
        "customer": {"id": invoice.customer.id, "name": invoice.customer.name},
        "order_id": invoice.order_id,
        "currency": invoice.currency,
        "po_number": invoice.po_number,
        "issued_on": invoice.issued_on,
        "due_on": invoice.due_on,
        "subtotal": invoice.subtotal,
        "tax": invoice.tax,
        "total": invoice.total,
        "paid": invoice.paid,
        "credited": invoice.credited,
        "balance": invoice.balance,
        "created_at": invoice.created_at,
        "issued_at": invoice.issued_at,
        "paid_at": invoice.paid_at,
        "voided_at": invoice.voided_at,
    }


def _line(line: InvoiceLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "position": line.position,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "net": line.net,
        "tax_rate": str(line.tax_rate),
        "tax": line.tax,
        "gross": line.gross,
    }


def _payment(payment: Payment, invoice_number: str | None) -> dict[str, Any]:
    return {
        "id": payment.id,
        "invoice_id": payment.invoice_id,
        "invoice_number": invoice_number,
        "customer_id": payment.customer_id,
        "method": payment.method.value,
        "amount": payment.amount,
        "applied": payment.applied,
        "refunded": Money(payment.refunded_minor, payment.currency),
        "received_on": payment.received_on,
        "reference": payment.reference,
        "created_at": payment.created_at,
    }


@blp.route("/invoices", endpoint="list")
@blp.arguments(InvoiceListArgs, location="query")
@blp.response(200, page_of(InvoiceSchema))
def list_invoices(args: dict[str, Any]) -> ResponseReturnValue:
    """Invoices the token's member reaches, by id, a cursor page at a time: finance and
    admins all of the vendor's (drafts too), a customer's people their own issued ones.
    `state` (or `overdue`) and, for vendor staff, `customer_id` filter as the list page's."""
    actor = current_actor()
    filters = queries.InvoiceFilters(
        state=args["state"],
        customer_id=args["customer_id"] if policies.keeps_books(actor) else None,
    )
    stmt = queries.invoices(actor, filters, utcnow().date()).order_by(None)
    page = keyset_page(stmt, args, keys=(Invoice.id,))
    body, headers = page.answer(args)
    body["data"] = [_invoice(invoice) for invoice in page.items]
    return body, headers


@blp.route("/invoices/<int:invoice_id>", endpoint="show")
@blp.etag
@blp.response(200, InvoiceDetailSchema)
def show_invoice(invoice_id: int) -> ResponseReturnValue:
    """One invoice with its lines, totals and payments, as its page shows it (404 outside
    the token's member's reach)."""
    invoice = get_or_404(Invoice, invoice_id, *queries.invoice_page_options())
    recorded = queries.recorded_against(invoice)
    return _invoice(invoice) | {
        "terms_days": invoice.terms_days,
        "notes": invoice.notes,
        "origin": invoice.origin,
        "lines": [_line(line) for line in invoice.lines],
        "payments": [_payment(payment, invoice.number) for payment in recorded.payments],
        "pdf_ready": recorded.document is not None,
    }


@blp.route("/invoices/<int:invoice_id>/pdf", endpoint="pdf")
@blp.response(
    200, description="The invoice as printed (application/pdf).", content_type="application/pdf"
)
@blp.alt_response(
    202,
    schema=ProblemSchema,
    content_type=MEDIA_TYPE,
    description="Issued, but its PDF is still being rendered: retry after `Retry-After` seconds.",
)
@blp.alt_response(409, schema=ProblemSchema, content_type=MEDIA_TYPE, description="A draft.")
def invoice_pdf(invoice_id: int) -> ResponseReturnValue:
    """The PDF rendered once after issue and stored, served as stored (as the invoice page's
    link does)."""
    invoice = get_or_404(Invoice, invoice_id)
    if invoice.is_draft:
        raise Conflict(f"{invoice.reference} is a draft: its PDF is rendered once it is issued.")
    document = db.session.scalar(
        select(InvoiceDocument)
        .where(InvoiceDocument.kind == INVOICE, InvoiceDocument.object_id == invoice.id)
        .options(undefer(InvoiceDocument.pdf))
    )
    if document is None:
        pending = Problem(
            202,
            "document-pending",
            f"The PDF of {invoice.reference} is being rendered; ask again shortly.",
            headers={"Retry-After": str(RETRY_SECONDS)},
        )
        return problem_response(pending)
    disposition = dump_options_header("inline", {"filename": document.filename})
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-cache"},
    )


@blp.route("/payments", endpoint="payments")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_of(PaymentSchema))
def list_payments(args: dict[str, Any]) -> ResponseReturnValue:
    """Payments received, by id: finance and admins all of the vendor's, a customer's people
    those on their own organisation's invoices."""
    stmt = scoped(Payment).options(joinedload(Payment.invoice))
    page = keyset_page(stmt, args, keys=(Payment.id,))
    body, headers = page.answer(args)
    body["data"] = [_payment(payment, payment.invoice.number) for payment in page.items]
    return body, headers


@blp.route("/payments/<int:payment_id>", endpoint="payment")
@blp.etag
@blp.response(200, PaymentSchema)
def show_payment(payment_id: int) -> ResponseReturnValue:
    """One payment within the token's member's reach (else 404)."""
    payment = get_or_404(Payment, payment_id, joinedload(Payment.invoice))
    return _payment(payment, payment.invoice.number)
