"""Invoice pages: the list by role and filter, the accountant's CSV, finance's drafts through
the pages, the refusal to edit an issued invoice, and the billing settings."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from billing import invoices
from billing.models import BillingProfile, Charge, Invoice, InvoiceState
from catalog.models import BillingPolicy
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.billing import factories
from tests.conftest import sign_in

CUSTOMER_PEOPLE = (Role.BUYER, Role.APPROVER, Role.VIEWER)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def draft(tenant, *lines: tuple[str, int, str], customer_id: int | None = None) -> int:
    who = factories.finance(tenant)
    invoice = invoices.draft_for(who, customer_id or tenant.customer_id)
    for description, quantity, price in lines:
        invoices.add_line(who, invoice, description, quantity, usd(price))
    return invoice.id


def rows_of(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# --- the list by role ----------------------------------------------------------------------


@pytest.fixture
def three(tenant_a, unscoped):
    """An issued invoice to the customer, one to its neighbour, and a draft to the customer."""
    with unscoped():
        ours = factories.issued(tenant_a, ("Koala workshop", 1, usd("100")))
        theirs = factories.issued(
            tenant_a, ("Possum audit", 1, usd("200")), customer_id=tenant_a.neighbour_id
        )
        drafted = draft(tenant_a, ("Bandicoot draft line", 1, "300"))
        numbers = {i: db.session.get(Invoice, i).number for i in (ours, theirs)}
    return ours, theirs, drafted, numbers


@pytest.mark.parametrize("role", CUSTOMER_PEOPLE)
def test_a_customer_lists_its_own_issued_invoices_never_a_draft_nor_the_neighbours(
    client, tenant_a, three, role
):
    ours, theirs, drafted, numbers = three
    sign_in(client, tenant_a.people[role])
    page = client.get("/invoices").get_data(as_text=True)
    assert numbers[ours] in page
    assert numbers[theirs] not in page
    assert f"/invoices/{drafted}" not in page
    assert "Draft" not in page
    assert client.get(f"/invoices/{ours}").status_code == 200
    assert client.get(f"/invoices/{theirs}").status_code == 404
    assert client.get(f"/invoices/{drafted}").status_code == 404
    exported = rows_of(client.get("/invoices/export.csv"))
    assert [row["number"] for row in exported] == [numbers[ours]]


def test_finance_lists_every_invoice_with_drafts_and_a_customer_filter(client, tenant_a, three):
    ours, theirs, drafted, numbers = three
    sign_in(client, tenant_a.people[Role.FINANCE])
    page = client.get("/invoices").get_data(as_text=True)
    assert numbers[ours] in page
    assert numbers[theirs] in page
    assert f"/invoices/{drafted}" in page
    assert "3 invoices" in page
    only = client.get(f"/invoices?customer={tenant_a.neighbour_id}").get_data(as_text=True)
    assert numbers[theirs] in only
    assert numbers[ours] not in only
    drafts = client.get("/invoices?state=draft").get_data(as_text=True)
    assert f"/invoices/{drafted}" in drafts
    assert numbers[ours] not in drafts


@pytest.mark.parametrize("role", [Role.CSM, Role.CONSULTANT, Role.PARTNER_MANAGER])
def test_people_who_neither_keep_the_books_nor_are_billed_see_no_invoice(
    client, tenant_a, three, role
):
    ours = three[0]
    sign_in(client, tenant_a.people[role])
    assert client.get("/invoices").status_code == 403
    assert client.get(f"/invoices/{ours}").status_code == 404
    assert b"/invoices" not in client.get("/").data


def test_invoices_sit_in_the_bill_group_of_the_sidebar_for_finance_and_customers(client, tenant_a):
    for role in (Role.FINANCE, Role.BUYER):
        sign_in(client, tenant_a.people[role])
        assert b'href="/invoices"' in client.get("/").data


def test_an_empty_list_says_what_fills_it(client, tenant_a):
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get("/invoices").get_data(as_text=True)
    assert "No invoices yet" in page
    assert 'data-testid="empty-state"' in page
    sign_in(client, tenant_a.people[Role.FINANCE])
    assert "No invoices match these filters" in client.get("/invoices?number=ZZZ").text


# --- filters and the CSV -------------------------------------------------------------------


def test_overdue_is_an_open_invoice_past_its_due_date(client, tenant_a, unscoped):
    with unscoped():
        late = factories.issued(tenant_a)
        on_time = factories.issued(tenant_a)
        paid_late = factories.issued(tenant_a)
        long_ago = utcnow().date() - timedelta(days=40)
        for invoice_id in (late, paid_late):
            db.session.get(Invoice, invoice_id).due_on = long_ago
        db.session.get(Invoice, paid_late).state = InvoiceState.PAID
        db.session.commit()
        numbers = {i: db.session.get(Invoice, i).number for i in (late, on_time, paid_late)}
    sign_in(client, tenant_a.people[Role.FINANCE])
    page = client.get("/invoices?state=overdue").get_data(as_text=True)
    assert numbers[late] in page
    assert numbers[on_time] not in page
    assert numbers[paid_late] not in page
    assert "Overdue" in page
    exported = rows_of(client.get("/invoices/export.csv?state=overdue"))
    assert [(row["number"], row["state"]) for row in exported] == [(numbers[late], "overdue")]


def test_the_list_filters_by_issue_date_and_number(client, tenant_a, unscoped):
    with unscoped():
        old, new = factories.issued(tenant_a), factories.issued(tenant_a)
        db.session.get(Invoice, old).issued_on = utcnow().date() - timedelta(days=100)
        db.session.commit()
        numbers = {i: db.session.get(Invoice, i).number for i in (old, new)}
    sign_in(client, tenant_a.people[Role.FINANCE])
    since = (utcnow().date() - timedelta(days=10)).isoformat()
    recent = client.get(f"/invoices?from={since}").get_data(as_text=True)
    assert numbers[new] in recent
    assert numbers[old] not in recent
    until = client.get(f"/invoices?to={since}").get_data(as_text=True)
    assert numbers[old] in until
    assert numbers[new] not in until
    by_number = client.get(f"/invoices?number={numbers[new][-6:]}").get_data(as_text=True)
    assert numbers[new] in by_number
    assert numbers[old] not in by_number
    assert client.get("/invoices?number=%25").status_code == 200  # a % is text, not a wildcard
    assert numbers[new] not in client.get("/invoices?number=%25").text


def test_bad_filter_values_are_ignored_and_said_so(client, tenant_a):
    sign_in(client, tenant_a.people[Role.FINANCE])
    response = client.get("/invoices?state=bogus&from=2026-13-45&customer=x&page=-1")
    assert response.status_code == 200
    assert "Ignored “state”" in response.text
    assert "Ignored “from”" in response.text


def test_the_csv_is_one_row_per_invoice_with_the_figures_an_accountant_imports(
    client, tenant_a, unscoped
):
    with unscoped():
        factories.set_tax(tenant_a, "19")
        db.session.add(
            BillingProfile(
                vendor_id=tenant_a.vendor_id,
                organization_id=tenant_a.customer_id,
                legal_name='=HYPERLINK("http://evil.example")',
                tax_id="DE123456789",
            )
        )
        db.session.commit()
        invoice_id = factories.issued(
            tenant_a, ("Workshop", 3, usd("19.99")), ("Travel", 1, usd("1,000.10"))
        )
        invoice = db.session.get(Invoice, invoice_id)
        number, issued_on, due_on = invoice.number, invoice.issued_on, invoice.due_on
    sign_in(client, tenant_a.people[Role.FINANCE])
    response = client.get("/invoices/export.csv")
    assert response.mimetype == "text/csv"
    [row] = rows_of(response)
    assert row == {
        "number": number,
        "issue_date": issued_on.isoformat(),
        "due_date": due_on.isoformat(),
        "customer": '\'=HYPERLINK("http://evil.example")',  # never run as a formula
        "customer_tax_id": "DE123456789",
        "currency": "USD",
        "net": "1060.07",  # 59.97 + 1000.10
        "tax": "201.41",  # 11.39 + 190.02 (11.3943 and 190.019, each rounded on its line)
        "total": "1261.48",
        "paid": "0.00",
        "credited": "0.00",
        "balance": "1261.48",
        "state": "issued",
        "po_number": "",
    }


def test_the_list_runs_a_fixed_number_of_queries_however_many_invoices(
    client, tenant_a, unscoped, count_queries
):
    sign_in(client, tenant_a.people[Role.FINANCE])

    def statements(url: str) -> int:
        with count_queries() as counted:
            assert client.get(url).status_code == 200
        return len(counted)

    with unscoped():
        first = factories.issued(tenant_a)
    few = {url: statements(url) for url in ("/invoices", "/invoices/export.csv")}
    page_few = statements(f"/invoices/{first}")
    with unscoped():
        for customer_id in (tenant_a.customer_id, tenant_a.neighbour_id) * 3:
            factories.issued(tenant_a, ("Line", 2, usd("5")), customer_id=customer_id)
        draft(tenant_a, *[(f"Line {n}", 1, "1") for n in range(6)])
    assert {url: statements(url) for url in few} == few
    assert statements(f"/invoices/{first}") == page_few


# --- drafts through the pages --------------------------------------------------------------


def test_finance_drafts_fills_and_issues_an_invoice_through_the_pages(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.FINANCE])
    new = client.get("/invoices/new")
    assert new.status_code == 200
    assert "Start a draft" in new.text
    made = client.post("/invoices/new", data={"customer_id": tenant_a.customer_id})
    assert made.status_code == 302
    assert made.location.endswith("/edit")
    edit_url = made.location
    invoice_id = int(edit_url.split("/")[-2])
    for description, price in (("Audit", "0.29"), ("Review", "19.99"), ("Rollout", "1,000.10")):
        added = client.post(
            f"/invoices/{invoice_id}/lines",
            data={"description": description, "quantity": "1", "unit_price": price},
        )
        assert added.status_code == 302
    refused = client.post(
        f"/invoices/{invoice_id}/lines",
        data={"description": "Too precise", "quantity": "1", "unit_price": "1.234"},
    )
    assert refused.status_code == 400
    assert "at most 2 decimals" in refused.text
    assert 'value="1.234"' in refused.text
    client.post(
        f"/invoices/{invoice_id}/lines",
        data={"description": "Reverse", "quantity": "2", "unit_price": "10", "tax_rate": "0"},
    )
    details = client.post(
        f"/invoices/{invoice_id}/details",
        data={"po_number": "PO-77", "terms_days": "14", "notes": "Thank you."},
    )
    assert details.status_code == 302
    with unscoped():
        invoice = factories.reread(invoice_id)
        assert [line.unit_price_minor for line in invoice.lines] == [29, 1999, 100010, 1000]
        assert invoice.lines[-1].tax_rate == Decimal(0)
        assert (invoice.po_number, invoice.terms_days, invoice.notes) == ("PO-77", 14, "Thank you.")
        rollout = invoice.lines[2].id
    client.post(f"/invoices/{invoice_id}/lines/{rollout}/remove")
    issued = client.post(f"/invoices/{invoice_id}/issue", follow_redirects=True)
    assert "issued, due" in issued.text
    with unscoped():
        invoice = factories.reread(invoice_id)
        assert invoice.state is InvoiceState.ISSUED
        assert invoice.number
        assert invoice.subtotal_minor == 29 + 1999 + 2000
        assert invoice.due_on == invoice.issued_on + timedelta(days=14)
    assert invoice.number in issued.text


def test_an_issued_invoice_cannot_be_edited_by_url_or_form(client, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 1, usd("100")))
        before = factories.reread(invoice_id)
        snapshot = (before.total_minor, before.po_number, before.terms_days, before.state)
        line_id, lines = before.lines[0].id, len(before.lines)
    sign_in(client, tenant_a.people[Role.FINANCE])
    attempts = [
        client.get(f"/invoices/{invoice_id}/edit"),
        client.post(
            f"/invoices/{invoice_id}/lines",
            data={"description": "Sneaky", "quantity": "1", "unit_price": "1"},
        ),
        client.post(f"/invoices/{invoice_id}/lines/{line_id}/remove"),
        client.post(
            f"/invoices/{invoice_id}/details",
            data={"po_number": "CHANGED", "terms_days": "1", "notes": ""},
        ),
        client.post(f"/invoices/{invoice_id}/issue"),
        client.post(f"/invoices/{invoice_id}/discard"),
    ]
    for response in attempts:
        assert response.status_code == 302
        assert response.location.endswith(f"/invoices/{invoice_id}")
    page = client.get(f"/invoices/{invoice_id}").text
    assert "An issued invoice never changes; correct it with a credit note." in page
    assert "Edit draft" not in page
    with unscoped():
        after = factories.reread(invoice_id)
        assert (after.total_minor, after.po_number, after.terms_days, after.state) == snapshot
        assert len(after.lines) == lines


def test_issuing_an_empty_draft_is_refused_with_a_message(client, tenant_a, unscoped):
    with unscoped():
        invoice_id = draft(tenant_a)
    sign_in(client, tenant_a.people[Role.FINANCE])
    response = client.post(f"/invoices/{invoice_id}/issue", follow_redirects=True)
    assert "An invoice needs at least one line before it is issued." in response.text
    with unscoped():
        assert db.session.get(Invoice, invoice_id).state is InvoiceState.DRAFT


def test_a_discarded_draft_gives_its_items_back_to_draft_from_uninvoiced(
    client, tenant_a, unscoped
):
    with unscoped():
        engagement_id = factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE)
        [policy_draft] = factories.drafts_of(engagement_id)
        policy_draft_id = policy_draft.id
        lines = len(factories.reread(policy_draft_id).lines)
    sign_in(client, tenant_a.people[Role.FINANCE])
    page = client.get(f"/invoices/{policy_draft_id}").text
    assert "Issue invoice" in page
    assert "Discard draft" in page
    assert "data-confirm" in page
    assert client.get("/invoices/new").text.count("Draft from uninvoiced items") == 0
    discarded = client.post(f"/invoices/{policy_draft_id}/discard", follow_redirects=True)
    assert "discarded; its items are uninvoiced again" in discarded.text
    new = client.get("/invoices/new").text
    assert "Draft from uninvoiced items" in new
    with unscoped():
        waiting = db.session.scalar(
            select(func.count()).where(
                Charge.customer_id == tenant_a.customer_id, Charge.invoice_line_id.is_(None)
            )
        )
    assert f'data-testid="uninvoiced-count">{waiting}<' in new
    made = client.post("/invoices/from-uninvoiced", data={"customer_id": tenant_a.customer_id})
    assert made.status_code == 302
    with unscoped():
        fresh = factories.reread(int(made.location.rsplit("/", 1)[-1]))
        assert fresh.state is InvoiceState.DRAFT
        assert len(fresh.lines) == lines
    again = client.post(
        "/invoices/from-uninvoiced",
        data={"customer_id": tenant_a.customer_id},
        follow_redirects=True,
    )
    assert "has nothing uninvoiced" in again.text


def test_a_customer_cannot_start_or_change_a_draft(client, tenant_a, unscoped):
    with unscoped():
        invoice_id = draft(tenant_a, ("Line", 1, "5"))
    sign_in(client, tenant_a.people[Role.BUYER])
    assert (
        client.post("/invoices/new", data={"customer_id": tenant_a.customer_id}).status_code == 403
    )
    assert client.post(f"/invoices/{invoice_id}/issue").status_code == 404
    with unscoped():
        assert db.session.get(Invoice, invoice_id).state is InvoiceState.DRAFT


# --- billing settings ----------------------------------------------------------------------

VENDOR_SETTINGS = {
    "legal_name": "Acme Software GmbH",
    "address": "Hauptstrasse 1\n10115 Berlin",
    "tax_id": "DE999999999",
    "bank_details": "IBAN DE00 1234 5678 9000 0000 00",
    "tax_rate": "19",
    "invoice_prefix": "ACME-EU",
    "payment_terms_days": "21",
    "review_days": "3",
}


def test_finance_sets_the_vendors_billing_details_and_the_next_invoice_carries_them(
    client, tenant_a, unscoped
):
    sign_in(client, tenant_a.people[Role.FINANCE])
    assert client.get("/billing/settings").status_code == 200
    saved = client.post("/billing/settings", data=VENDOR_SETTINGS)
    assert saved.status_code == 302
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        assert (vendor.invoice_prefix, vendor.tax_rate, vendor.payment_terms_days) == (
            "ACME-EU",
            Decimal("19"),
            21,
        )
        invoice = factories.reread(factories.issued(tenant_a))
        assert invoice.number.startswith(f"ACME-EU-{invoice.issued_on.year}-")
        assert invoice.seller["legal_name"] == "Acme Software GmbH"
        assert invoice.payment_instructions == VENDOR_SETTINGS["bank_details"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("invoice_prefix", "acme inc", "Capital letters, digits and single dashes"),
        ("invoice_prefix", "ABCDEFGHIJKLM", "Field cannot be longer than 12 characters"),
        ("invoice_prefix", "-ACME", "Capital letters, digits and single dashes"),
        ("tax_rate", "101", "A percentage from 0 to 100."),
        ("tax_rate", "NaN", "Enter a plain number"),
        ("payment_terms_days", "400", "From 0 to 365."),
    ],
)
def test_bad_vendor_settings_are_refused_and_kept_as_typed(
    client, tenant_a, unscoped, field, value, message
):
    sign_in(client, tenant_a.people[Role.FINANCE])
    response = client.post("/billing/settings", data={**VENDOR_SETTINGS, field: value})
    assert response.status_code == 400
    assert message in response.text
    assert VENDOR_SETTINGS["bank_details"] in response.text
    with unscoped():
        assert db.session.get(Organization, tenant_a.vendor_id).invoice_prefix == "INV"


def test_a_customers_tax_override_and_billing_emails_are_checked_and_used(
    client, tenant_a, unscoped
):
    sign_in(client, tenant_a.people[Role.FINANCE])
    url = f"/billing/customers/{tenant_a.customer_id}"
    bad = client.post(url, data={"billing_emails": "ap@quokka.example, not-an-address"})
    assert bad.status_code == 400
    assert "not-an-address" in bad.text
    good = client.post(
        url,
        data={
            "legal_name": "Quokka Holdings Ltd",
            "billing_emails": "AP@quokka.example; ap@quokka.example\ncfo@quokka.example",
            "tax_rate": "0",
            "tax_note": "Reverse charge",
        },
    )
    assert good.status_code == 302
    assert "AP@quokka.example, cfo@quokka.example" in client.get("/billing/customers").text
    with unscoped():
        invoice = factories.reread(factories.issued(tenant_a))
        assert invoice.lines[0].tax_rate == Decimal(0)
        assert invoice.tax_minor == 0
        assert invoice.buyer["legal_name"] == "Quokka Holdings Ltd"
    assert client.get(f"/billing/customers/{tenant_a.partner_id}").status_code == 404


@pytest.mark.parametrize("role", [Role.BUYER, Role.CSM])
def test_only_finance_and_admins_open_billing_settings(client, tenant_a, role):
    sign_in(client, tenant_a.people[role])
    assert client.get("/billing/settings").status_code == 403
    assert client.post("/billing/settings", data=VENDOR_SETTINGS).status_code == 403


def test_the_invoice_page_offers_each_action_only_to_who_may_take_it(client, tenant_a, unscoped):
    with unscoped():
        issued_id = factories.issued(tenant_a, ("Workshop", 1, usd("100")))
        draft_id = draft(tenant_a, ("Workshop", 1, "100"))
    sign_in(client, tenant_a.people[Role.FINANCE])
    issued_page = client.get(f"/invoices/{issued_id}").text
    assert 'data-testid="record-payment"' in issued_page
    assert 'data-testid="invoice-pdf"' in issued_page
    assert 'data-testid="edit-invoice"' not in issued_page
    draft_page = client.get(f"/invoices/{draft_id}").text
    assert 'data-testid="edit-invoice"' in draft_page
    assert 'data-testid="record-payment"' not in draft_page
    assert 'data-testid="invoice-pdf"' not in draft_page
    sign_in(client, tenant_a.people[Role.BUYER])
    customer_page = client.get(f"/invoices/{issued_id}").text
    assert 'data-testid="invoice-pdf"' in customer_page
    assert 'data-testid="record-payment"' not in customer_page
    assert "Issue invoice" not in customer_page
