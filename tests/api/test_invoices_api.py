"""Invoices and payments through the API reach exactly what billing's pages show: finance and
admins the vendor's (drafts too), a customer's people their own issued invoices and the
payments on them, nobody else anything; money as integer minor units; the PDF as stored."""

from __future__ import annotations

from billing import documents, invoices
from billing.models import Invoice
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.api import answers, factories
from tests.billing import factories as billing_factories

READ = ("read:billing",)


def _money(amount: int) -> dict:
    return {"amount": amount, "currency": "USD"}


def test_each_role_reads_the_invoices_and_payments_billing_shows_it(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        ours = billing_factories.issued(
            tenant_a,
            ("Workshop", 2, Money(50_000, "USD")),
            ("Travel", 1, Money(12_345, "USD")),
        )
        paid = billing_factories.bank_payment(tenant_a, Money(40_000, "USD"), invoice_id=ours)
        neighbours = billing_factories.issued(tenant_a, customer_id=tenant_a.neighbour_id)
        theirs_paid = billing_factories.bank_payment(tenant_a, invoice_id=neighbours)
        draft = invoices.draft_for(billing_factories.finance(tenant_a), tenant_a.customer_id).id
        elsewhere = billing_factories.issued(tenant_b)
        elsewhere_paid = billing_factories.bank_payment(tenant_b, invoice_id=elsewhere)
        token = {
            role: factories.personal(tenant_a.people[role], READ).headers
            for role in (Role.FINANCE, Role.ADMIN, Role.BUYER, Role.VIEWER, Role.CSM)
        }
        other_finance = factories.personal(tenant_b.people[Role.FINANCE], READ).headers

    for books in (Role.FINANCE, Role.ADMIN):
        assert answers.ids(client.get("/api/v1/invoices", headers=token[books])) == [
            ours,
            neighbours,
            draft,
        ]
        assert answers.ids(client.get("/api/v1/payments", headers=token[books])) == [
            paid,
            theirs_paid,
        ]
    for customer in (Role.BUYER, Role.VIEWER):
        assert answers.ids(client.get("/api/v1/invoices", headers=token[customer])) == [ours]
        assert answers.ids(client.get("/api/v1/payments", headers=token[customer])) == [paid]
    assert answers.ids(client.get("/api/v1/invoices", headers=token[Role.CSM])) == []
    assert answers.ids(client.get("/api/v1/payments", headers=token[Role.CSM])) == []
    assert answers.ids(client.get("/api/v1/invoices", headers=other_finance)) == [elsewhere]

    for hidden in (neighbours, draft, elsewhere):
        answers.problem(client.get(f"/api/v1/invoices/{hidden}", headers=token[Role.BUYER]), 404)
        answers.problem(
            client.get(f"/api/v1/invoices/{hidden}/pdf", headers=token[Role.BUYER]), 404
        )
    for hidden in (theirs_paid, elsewhere_paid):
        answers.problem(client.get(f"/api/v1/payments/{hidden}", headers=token[Role.BUYER]), 404)
    answers.problem(client.get(f"/api/v1/invoices/{ours}", headers=token[Role.CSM]), 404)
    answers.problem(client.get(f"/api/v1/invoices/{ours}", headers=other_finance), 404)
    answers.problem(client.get(f"/api/v1/payments/{paid}", headers=other_finance), 404)

    shown = client.get(f"/api/v1/invoices/{ours}", headers=token[Role.BUYER])
    assert shown.status_code == 200
    invoice = shown.json
    assert invoice["state"] == "partially_paid"
    assert invoice["number"]
    assert invoice["customer"]["id"] == tenant_a.customer_id
    assert [(line["quantity"], line["unit_price"], line["net"]) for line in invoice["lines"]] == [
        (2, _money(50_000), _money(100_000)),
        (1, _money(12_345), _money(12_345)),
    ]
    assert invoice["subtotal"] == _money(112_345)
    assert invoice["total"]["amount"] == invoice["subtotal"]["amount"] + invoice["tax"]["amount"]
    assert invoice["paid"] == _money(40_000)
    assert invoice["balance"]["amount"] == invoice["total"]["amount"] - 40_000
    assert invoice["due_on"] >= invoice["issued_on"]
    assert [p["id"] for p in invoice["payments"]] == [paid]
    assert invoice["pdf_ready"] is False
    cached = client.get(
        f"/api/v1/invoices/{ours}",
        headers={**token[Role.BUYER], "If-None-Match": shown.headers["ETag"]},
    )
    assert cached.status_code == 304

    payment = client.get(f"/api/v1/payments/{paid}", headers=token[Role.FINANCE]).json
    assert payment["amount"] == _money(40_000)
    assert payment["method"] == "bank_transfer"
    assert payment["invoice_number"] == invoice["number"]


def test_the_list_filters_as_the_list_page_and_needs_a_billing_scope(client, tenant_a, unscoped):
    with unscoped():
        ours = billing_factories.issued(tenant_a)
        neighbours = billing_factories.issued(tenant_a, customer_id=tenant_a.neighbour_id)
        draft = invoices.draft_for(billing_factories.finance(tenant_a), tenant_a.customer_id).id
        finance = factories.personal(tenant_a.people[Role.FINANCE], READ).headers
        buyer = factories.personal(tenant_a.people[Role.BUYER], READ).headers
        delivery_only = factories.personal(tenant_a.people[Role.FINANCE], ["write:delivery"])

    assert answers.ids(client.get("/api/v1/invoices?state=draft", headers=finance)) == [draft]
    customer = f"/api/v1/invoices?customer_id={tenant_a.neighbour_id}"
    assert answers.ids(client.get(customer, headers=finance)) == [neighbours]
    assert answers.ids(client.get(customer, headers=buyer)) == [ours]  # a customer has one: its own
    assert answers.ids(client.get("/api/v1/invoices?state=overdue", headers=finance)) == []
    assert answers.ids(client.get("/api/v1/invoices?limit=1", headers=finance)) == [ours]
    bad = answers.problem(
        client.get("/api/v1/invoices?state=late&customer_id=0", headers=finance), 422
    )
    assert {error["parameter"] for error in bad["errors"]} == {"state", "customer_id"}
    for url in ("/api/v1/invoices", f"/api/v1/invoices/{ours}", "/api/v1/payments"):
        refused = answers.problem(client.get(url, headers=delivery_only.headers), 403)
        assert "read:billing" in refused["detail"]
    answers.problem(client.post("/api/v1/invoices", json={}, headers=finance), 405)


def test_the_pdf_is_served_as_stored_once_rendered(client, tenant_a, unscoped):
    with unscoped():
        invoice_id = billing_factories.issued(tenant_a)
        draft = invoices.draft_for(billing_factories.finance(tenant_a), tenant_a.customer_id).id
        finance = factories.personal(tenant_a.people[Role.FINANCE], READ).headers
        buyer = factories.personal(tenant_a.people[Role.BUYER], READ).headers
    url = f"/api/v1/invoices/{invoice_id}/pdf"

    pending = answers.problem(client.get(url, headers=buyer), 202)
    assert client.get(url, headers=buyer).headers["Retry-After"] == "10"
    assert "being rendered" in pending["detail"]
    assert (
        "rendered once it is issued"
        in answers.problem(client.get(f"/api/v1/invoices/{draft}/pdf", headers=finance), 409)[
            "detail"
        ]
    )

    with unscoped():  # what the background job does after issue: one real render
        documents.store_invoice_document({"invoice_id": invoice_id})
        number = db.session.get(Invoice, invoice_id).number
    served = client.get(url, headers=buyer)
    assert served.status_code == 200
    assert served.mimetype == "application/pdf"
    assert served.data.startswith(b"%PDF")
    assert number in served.headers["Content-Disposition"]
    assert client.get(f"/api/v1/invoices/{invoice_id}", headers=buyer).json["pdf_ready"] is True
