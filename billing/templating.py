"""Template helpers of the invoice and credit note documents, shared by the HTML page and the
PDF so that both print the same words and figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from flask import current_app, url_for

from accounts.models import Organization
from billing import bp, invoices
from billing.models import OPEN_STATES, Invoice
from core import stripe_gateway
from core.extensions import db
from core.money import Money

PAY_ENDPOINT = "billing.pay_invoice"


@dataclass(frozen=True)
class Parties:
    """Seller, buyer and payment instructions as the document prints them."""

    seller: dict[str, str]
    buyer: dict[str, str]
    payment_instructions: str


@dataclass(frozen=True)
class TaxAtRate:
    rate: Decimal
    net: Money
    tax: Money


@bp.app_template_filter("tax_rate")
def tax_rate_filter(rate: Decimal | None) -> str:
    """``Decimal("20.00")`` → "20%", ``Decimal("7.50")`` → "7.5%"."""
    return "—" if rate is None else f"{format_decimal(rate, locale='en')}%"


@bp.app_template_filter("tax_by_rate")
def tax_by_rate(document: Any) -> list[TaxAtRate]:
    """The net and tax of a document's lines per tax rate, lowest rate first."""
    sums: dict[Decimal, tuple[int, int]] = {}
    for line in document.lines:
        net, tax = sums.get(Decimal(line.tax_rate), (0, 0))
        sums[Decimal(line.tax_rate)] = (net + line.net_minor, tax + line.tax_minor)
    return [
        TaxAtRate(rate, Money(net, document.currency), Money(tax, document.currency))
        for rate, (net, tax) in sorted(sums.items())
    ]


@bp.app_template_filter("document_parties")
def document_parties(invoice: Invoice) -> Parties:
    """An issued invoice prints what was frozen at issue; a draft shows what issuing would
    copy today (two organisations and their billing profiles: a few queries, whatever its
    size)."""
    if not invoice.is_draft:
        return Parties(invoice.seller, invoice.buyer, invoice.payment_instructions)
    seller = db.session.get(Organization, invoice.vendor_id)
    profile = invoices.profile_of(seller.id)
    return Parties(
        invoices._party(seller),
        invoices._party(db.session.get(Organization, invoice.customer_id)),
        profile.bank_details if profile else "",
    )


@bp.app_template_global()
def invoice_pay_url(invoice: Invoice) -> str | None:
    """The card pay link of an open invoice, when card payment is configured and a host is
    known to build it (a job without SERVER_NAME has none)."""
    if (
        invoice.state not in OPEN_STATES
        or invoice.balance.amount <= 0
        or PAY_ENDPOINT not in current_app.view_functions
        or not stripe_gateway.configured()
    ):
        return None
    try:
        return url_for(PAY_ENDPOINT, invoice_id=invoice.id, _external=True)
    except RuntimeError:
        return None
