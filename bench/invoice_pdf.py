"""``make bench``, fourth part: how long one invoice's PDF takes to render, in process.

Builds a typical one-page invoice in memory (issued, four lines, both parties' legal details,
bank details; nothing is stored), renders it as the background job does (the page's HTML,
then WeasyPrint), a few times after a warm-up, and prints the median as ``name: value``.
WeasyPrint subsets the fonts it embeds; with Debian's ``libharfbuzz-subset0`` installed that
is several times faster (``make install`` adds it where it can).
"""

from __future__ import annotations

import statistics
import time
from datetime import date
from decimal import Decimal

from billing.documents import invoice_html, render_pdf
from billing.invoices import line_amounts
from billing.models import Invoice, InvoiceLine, InvoiceState
from core.app import create_app

RUNS = 15
# What this product's invoices hold: an order's or an engagement's servlets, a change
# order, the odd item finance adds by hand. One description wraps onto a second line.
LINES = (
    ("Single Sign-On Rollout: unit 1 of 2, on acceptance of engagement E-000412", 1, 1_250_000),
    ("Data Migration Health Check", 2, 480_000),
    ("Change order CO-000031: second SSO provider", 1, 320_000),
    ("Admin training, per seat", 12, 9_500),
)


def invoice() -> Invoice:
    rate = Decimal("20.00")
    lines = []
    for position, (description, quantity, unit_price) in enumerate(LINES, start=1):
        net, tax = line_amounts(quantity, unit_price, rate, "EUR")
        lines.append(
            InvoiceLine(
                id=position,
                position=position,
                description=description,
                quantity=quantity,
                unit_price_minor=unit_price,
                net_minor=net,
                tax_rate=rate,
                tax_minor=tax,
                currency="EUR",
            )
        )
    subtotal, tax = sum(line.net_minor for line in lines), sum(line.tax_minor for line in lines)
    return Invoice(
        id=1,
        vendor_id=1,
        customer_id=2,
        state=InvoiceState.ISSUED,
        number="NW-2026-000042",
        currency="EUR",
        po_number="PO-88213",
        terms_days=30,
        issued_on=date(2026, 3, 2),
        due_on=date(2026, 4, 1),
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
        paid_minor=0,
        credited_minor=0,
        notes="",
        seller={
            "name": "Northwind Services",
            "legal_name": "Northwind Services GmbH",
            "address": "Friedrichstraße 68\n10117 Berlin\nGermany",
            "tax_id": "DE 312 456 789",
            "tax_note": "",
        },
        buyer={
            "name": "Blue Yonder Logistics",
            "legal_name": "Blue Yonder Logistics B.V.",
            "address": "Keizersgracht 221\n1016 DV Amsterdam\nNetherlands",
            "tax_id": "NL 8204.31.552.B01",
            "tax_note": "",
        },
        payment_instructions=(
            "Northwind Services GmbH\nIBAN DE89 3704 0044 0532 0130 00\nBIC COBADEFFXXX"
        ),
        lines=lines,
    )


def median_ms() -> float:
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench-secret-key"})
    with app.app_context():
        document = invoice()
        render_pdf(invoice_html(document))  # warm-up: templates, fonts, stylesheet
        timings = []
        for _ in range(RUNS):
            began = time.perf_counter()
            render_pdf(invoice_html(document))
            timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def main() -> None:
    print(f"invoice_pdf_ms: {median_ms():.0f}")


if __name__ == "__main__":
    main()
