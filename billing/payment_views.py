"""Payment pages: finance records a bank transfer, refunds a payment, applies customer credit;
a customer pays an invoice by card through Stripe Checkout.

Coming back from Stripe records nothing: the payment is recorded when Stripe's webhook says
it went through (``billing.invoice_checkout``); the return only says what happens next.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from billing import bp, invoice_checkout, payments, policies, refunds
from billing.models import BILLING_STAFF, OPEN_STATES, Invoice, Payment, PaymentMethod
from billing.payment_forms import (
    ApplyCreditForm,
    PayInvoiceForm,
    RecordPaymentForm,
    RefundForm,
    one_time_key,
)
from core import params, stripe_gateway
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.permissions import Actor, current_actor, get_or_404, requires

RETURNS = ("done", "cancelled")


def invoice_payments_context(invoice: Invoice, actor: Actor | None) -> dict[str, Any]:
    """What ``_invoice_payments.html`` shows beyond the invoice's payments and refunds:
    sessions Stripe reported with the wrong amount (finance), the customer's credit with the
    form to apply it (finance), and whether the viewer can pay by card. Two queries for
    finance, none for a customer."""
    books = policies.keeps_books(actor)
    open_ = invoice.state in OPEN_STATES and invoice.balance.amount > 0
    context: dict[str, Any] = {
        "payment_problems": [],
        "customer_credit": None,
        "apply_credit_form": None,
        "can_pay_by_card": open_
        and policies.pays_by_card(actor, invoice)
        and stripe_gateway.configured(),
        "can_record_payments": books,
    }
    if books:
        context["payment_problems"] = [
            checkout for checkout in invoice_checkout.checkouts_of(invoice.id) if checkout.problem
        ]
        credit = payments.credit_balance(invoice.customer_id, invoice.currency)
        context["customer_credit"] = credit
        if open_ and credit.amount > 0:
            context["apply_credit_form"] = ApplyCreditForm(
                formdata=None, idempotency_key=one_time_key()
            )
    return context


def _invoice_page(invoice: Invoice) -> ResponseReturnValue:
    return redirect(url_for("billing.invoice", invoice_id=invoice.id))


# --- finance: a bank transfer ----------------------------------------------------------------


def _record_page(invoice: Invoice, form: RecordPaymentForm, status: int = 200) -> Any:
    actor = current_actor()
    return render_template(
        "billing/record_payment.html",
        invoice=invoice,
        form=form,
        payments=payments.payments_of(invoice.id),
        refunds=payments.refunds_of(invoice.id),
        **invoice_payments_context(invoice, actor),
    ), status


@bp.route(
    "/invoices/<int:invoice_id>/payments/new", methods=["GET", "POST"], endpoint="record_payment"
)
@requires(*BILLING_STAFF)
def record_payment(invoice_id: int) -> ResponseReturnValue:
    invoice = get_or_404(Invoice, invoice_id)
    form = RecordPaymentForm(
        currency=invoice.currency, received_on=utcnow().date(), idempotency_key=one_time_key()
    )
    if not form.validate_on_submit():
        if form.is_submitted() and not form.idempotency_key.data:
            form.idempotency_key.data = one_time_key()
        return _record_page(invoice, form, 422 if form.is_submitted() else 200)
    try:
        payment = payments.record_bank_transfer(
            current_actor(),
            invoice,
            form.amount.money,
            form.received_on.data,
            form.reference.data or "",
            form.idempotency_key.data,
        )
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _record_page(db.session.get(Invoice, invoice_id), form, error.status_code)
    _flash_recorded(invoice, payment)
    return _invoice_page(invoice)


def _flash_recorded(invoice: Invoice, payment: Payment) -> None:
    excess = payment.amount - payment.applied
    if excess.amount > 0:
        flash(
            f"Payment of {payment.amount} recorded: {payment.applied} paid invoice "
            f"{invoice.reference} and the excess of {excess} is kept as the customer's credit, "
            "to apply to another invoice or refund.",
            "warning",
        )
    else:
        flash(f"Payment of {payment.amount} recorded against {invoice.reference}.", "success")


# --- finance: customer credit ------------------------------------------------------------------


@bp.post("/invoices/<int:invoice_id>/credit", endpoint="apply_credit")
@requires(*BILLING_STAFF)
def apply_credit(invoice_id: int) -> ResponseReturnValue:
    invoice = get_or_404(Invoice, invoice_id)
    form = ApplyCreditForm()
    if not form.validate_on_submit():
        flash("Your form expired. Reload the page and try again.", "danger")
        return _invoice_page(invoice)
    try:
        payment = payments.apply_credit(
            current_actor(), invoice, idempotency_key=form.idempotency_key.data
        )
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(
            f"{payment.amount} of the customer's credit applied to {invoice.reference}.", "success"
        )
    return _invoice_page(invoice)


# --- finance: refunds ----------------------------------------------------------------------------


@bp.route("/payments/<int:payment_id>/refund", methods=["GET", "POST"], endpoint="refund_payment")
@requires(*BILLING_STAFF)
def refund_payment(payment_id: int) -> ResponseReturnValue:
    payment = get_or_404(Payment, payment_id)
    invoice = db.session.get(Invoice, payment.invoice_id)
    most = refunds.refundable(payment)
    form = RefundForm(refunded_on=utcnow().date(), amount=str(most.to_decimal()))
    form.amount.currency = payment.currency
    status = 200
    if form.validate_on_submit():
        try:
            refund = refunds.refund_payment(
                current_actor(),
                payment,
                form.amount.money,
                form.refunded_on.data,
                form.reason.data,
            )
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            status = error.status_code
            payment = db.session.get(Payment, payment_id)
            invoice = db.session.get(Invoice, payment.invoice_id)
        else:
            flash(
                f"Refund of {refund.amount} recorded against invoice {invoice.reference}.",
                "success",
            )
            return _invoice_page(invoice)
    elif form.is_submitted():
        status = 422
    return render_template(
        "billing/refund_payment.html",
        invoice=invoice,
        payment=payment,
        most=most,
        form=form,
        card=payment.method is PaymentMethod.CARD,
    ), status


# --- the customer: pay by card ---------------------------------------------------------------


@bp.route("/invoices/<int:invoice_id>/pay", methods=["GET", "POST"], endpoint="pay_invoice")
@requires(*policies.CARD_PAYERS)
def pay_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = get_or_404(Invoice, invoice_id)
    actor = current_actor()
    form = PayInvoiceForm()
    if form.is_submitted():
        if not form.validate():
            flash("Your form expired. Try again.", "danger")
            return redirect(url_for("billing.pay_invoice", invoice_id=invoice.id))
        try:
            address = invoice_checkout.start_invoice_payment(actor, invoice)
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return redirect(url_for("billing.pay_invoice", invoice_id=invoice_id))
        return redirect(address, code=303)
    returned = params.choice("returned", RETURNS)
    if returned == "done" and invoice.state in OPEN_STATES:
        flash(
            "Thank you. The invoice shows as paid as soon as Stripe reports the payment, "
            "usually within a minute.",
            "info",
        )
    elif returned == "cancelled":
        flash("The card payment was not completed. You can pay from this page.", "warning")
    return render_template(
        "billing/pay_invoice.html",
        invoice=invoice,
        form=form,
        payable=invoice.state in OPEN_STATES and invoice.balance.amount > 0,
        card_available=stripe_gateway.configured(),
    )
