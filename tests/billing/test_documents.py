"""Invoice and credit note PDFs: the same text as the HTML view, rendered once after issue
and then served as stored, mailed to the customer's billing contacts, and nobody else's.

Two tests render with WeasyPrint (three documents in all, about a tenth of a second each);
the others replace the renderer with fixed bytes, which is also how they see that it is not
called again."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from accounts.models import Membership
from billing import documents, invoices
from billing.models import BillingProfile, CreditNote, Invoice, InvoiceDocument
from core.extensions import db
from core.mail import Attachment, OutboxEmail, deliver_pending, send_mail
from core.money import Money
from core.permissions import Role
from core.templating import date_filter
from tests.billing import factories
from tests.conftest import sign_in
from tests.smtp import free_port, smtp_server

SMTP_PORT = free_port()
FAKE_PDF = b"%PDF-1.7 rendered once"


@pytest.fixture
def fake_render(monkeypatch):
    """WeasyPrint replaced by fixed bytes; the list holds one entry per render."""
    renders = []

    def render(html: str) -> bytes:
        renders.append(html)
        return FAKE_PDF

    monkeypatch.setattr(documents, "render_pdf", render)
    return renders


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pdf_text(pdf: bytes) -> str:
    return words(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def stored_pdf(kind: str, object_id: int) -> bytes | None:
    return db.session.scalar(
        select(InvoiceDocument.pdf).where(
            InvoiceDocument.kind == kind, InvoiceDocument.object_id == object_id
        )
    )


def two_rate_invoice(tenant) -> int:
    """An invoice at the vendor's 20 % and one line at 7 %, with a PO number, issued."""
    factories.set_tax(tenant, "20")
    who = factories.finance(tenant)
    draft = invoices.draft_for(who, tenant.customer_id)
    invoices.update_draft(who, draft, po_number="PO-77120", notes="", terms_days=14)
    invoices.add_line(who, draft, "Security review workshop", 2, Money(125_050, "USD"))
    invoices.add_line(who, draft, "Onsite day", 1, Money(80_000, "USD"))
    invoices.add_line(who, draft, "Printed handbooks", 3, Money(1_999, "USD"), Decimal("7"))
    return invoices.issue(who, draft).id


def test_the_pdf_holds_the_invoice_text_exactly_as_the_html_view_shows_it(
    app, tenant_a, unscoped, run_jobs
):
    with unscoped():
        invoice_id = two_rate_invoice(tenant_a)
    run_jobs()
    with unscoped():
        invoice = factories.reread(invoice_id)
        pdf = stored_pdf("invoice", invoice_id)
        with app.test_request_context():
            html = app.jinja_env.get_template("billing/_invoice_document.html").render(
                invoice=invoice
            )
        expected = [
            invoice.number,
            date_filter(invoice.issued_on),
            date_filter(invoice.due_on),
            "PO-77120",
            "Net 14 days",
            *(line.description for line in invoice.lines),
            *(str(line.unit_price) for line in invoice.lines),
            *(str(line.tax) for line in invoice.lines),
            *(str(line.net) for line in invoice.lines),
            "Tax 7% on $59.97",
            "Tax 20% on $3,301.00",
            str(invoice.subtotal),
            str(invoice.total),
        ]
    # The figures themselves, worked by hand: tax per line rounded half-up.
    assert str(invoice.subtotal) == "$3,360.97"
    assert [str(line.tax) for line in invoice.lines] == ["$500.20", "$160.00", "$4.20"]
    assert str(invoice.total) == "$4,025.37"
    page_text = words(re.sub(r"<[^>]+>", " ", html))
    printed = pdf_text(pdf)
    for text in expected:
        assert text in page_text, text
        assert text in printed, text


@pytest.mark.parametrize(
    ("app_config", "linked"),
    [
        ({"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}, True),
        ({"STRIPE_SECRET_KEY": "", "STRIPE_WEBHOOK_SECRET": ""}, False),
    ],
)
def test_the_document_links_card_payment_only_when_it_is_configured(
    app, tenant_a, unscoped, linked
):
    with unscoped():
        invoice = factories.reread(factories.issued(tenant_a))
        html = documents.invoice_html(invoice)  # as the job prints it: no request
    pay_url = f"http://desk.test/invoices/{invoice.id}/pay"
    assert (pay_url in html) is linked
    assert "quoting " + invoice.number in html


def test_the_document_is_rendered_once_and_then_served_as_stored(
    app, client, tenant_a, unscoped, run_jobs, fake_render
):
    with unscoped():
        invoice_id = factories.issued(tenant_a)
    run_jobs()
    with unscoped():
        documents.store_invoice_document({"invoice_id": invoice_id})  # the job run once more
        db.session.execute(update(InvoiceDocument).values(pdf=b"%PDF-1.7 as stored"))
        db.session.commit()
        number = db.session.get(Invoice, invoice_id).number
    assert len(fake_render) == 1
    response = sign_in(client, tenant_a.people[Role.BUYER]).get(f"/invoices/{invoice_id}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data == b"%PDF-1.7 as stored"
    assert response.headers["Content-Disposition"] == f"inline; filename={number}.pdf"
    assert len(fake_render) == 1


def test_until_the_pdf_is_stored_its_download_says_it_is_being_prepared(
    app, client, tenant_a, unscoped
):
    with unscoped():
        invoice_id = factories.issued(tenant_a)
        draft_id = invoices.draft_for(factories.finance(tenant_a), tenant_a.customer_id).id
    sign_in(client, tenant_a.people[Role.FINANCE])
    waiting = client.get(f"/invoices/{invoice_id}/pdf")
    assert waiting.status_code == 202
    assert "The PDF is being prepared" in waiting.text
    draft = client.get(f"/invoices/{draft_id}/pdf")
    assert draft.status_code == 200
    assert "A draft has no PDF" in draft.text


@pytest.mark.parametrize("app_config", [{"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": SMTP_PORT}])
def test_issuing_mails_each_billing_contact_the_pdf(app, tenant_a, unscoped, run_jobs, fake_render):
    with unscoped():
        db.session.add(
            BillingProfile(
                vendor_id=tenant_a.vendor_id,
                organization_id=tenant_a.customer_id,
                billing_emails="ap@customer.example, controller@customer.example",
            )
        )
        db.session.commit()
        invoice_id = factories.issued(tenant_a)
        number = db.session.get(Invoice, invoice_id).number
    with smtp_server(SMTP_PORT) as inbox:
        run_jobs()
    mailed = [m for m in inbox.messages if m["To"].endswith("@customer.example")]
    assert sorted(message["To"] for message in mailed) == [
        "ap@customer.example",
        "controller@customer.example",
    ]
    for message in mailed:
        assert message["Subject"].startswith(f"Invoice {number} from ")
        [attachment] = [part for part in message.walk() if part.get_filename()]
        assert attachment.get_filename() == f"{number}.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_payload(decode=True) == FAKE_PDF
    with smtp_server(SMTP_PORT) as inbox:
        run_jobs()
    assert inbox.messages == []  # sent once


@pytest.mark.parametrize("app_config", [{"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": SMTP_PORT}])
def test_a_mail_whose_document_is_not_stored_waits_in_the_outbox(app, tenant_a, unscoped):
    with unscoped():
        send_mail(
            "ap@customer.example",
            "Invoice",
            "Attached.",
            vendor_id=tenant_a.vendor_id,
            attachments=[Attachment(documents.ATTACHMENT_SOURCE, 999, "INV-1.pdf")],
        )
        db.session.commit()
        with smtp_server(SMTP_PORT) as inbox:
            assert deliver_pending() == 0
        [waiting] = db.session.scalars(select(OutboxEmail)).all()
    assert inbox.messages == []
    assert waiting.sent_at is None
    assert "INV-1.pdf" in waiting.last_error


def test_without_billing_emails_the_customers_active_buyers_and_approvers_get_it(
    app, tenant_a, unscoped, run_jobs, fake_render
):
    with unscoped():
        db.session.execute(
            update(Membership)
            .where(Membership.id == tenant_a.people[Role.APPROVER].membership_id)
            .values(active=False)
        )
        db.session.commit()
        factories.issued(tenant_a)
    run_jobs()
    with unscoped():
        mailed = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
        to_customer = [email for email in mailed if email.attachments]
    assert [email.recipient for email in to_customer] == [tenant_a.people[Role.BUYER].email]
    assert [ref["filename"] for ref in to_customer[0].attachments] == [
        to_customer[0].subject.split()[1] + ".pdf"
    ]


def test_an_issued_credit_note_gets_its_own_pdf(app, tenant_a, unscoped, run_jobs):
    with unscoped():
        credit_note_id = factories.credit_note(tenant_a, reason="Goodwill for a late start")
        note = db.session.get(CreditNote, credit_note_id)
        number, total = note.number, str(note.total)
    run_jobs()
    with unscoped():
        printed = pdf_text(stored_pdf("credit_note", credit_note_id))
    assert "Credit note" in printed
    assert number in printed
    assert total in printed
    assert "Goodwill for a late start" in printed


def test_another_customers_people_get_404_for_the_pdfs(
    app, client, tenant_a, unscoped, run_jobs, fake_render
):
    with unscoped():
        credit_note_id = factories.credit_note(tenant_a)
        invoice_id = db.session.get(CreditNote, credit_note_id).invoice_id
    run_jobs()
    urls = [f"/invoices/{invoice_id}/pdf", f"/credit-notes/{credit_note_id}/pdf"]
    for person in [*tenant_a.neighbours.values(), tenant_a.people[Role.CONSULTANT]]:
        sign_in(client, person)
        assert [client.get(url).status_code for url in urls] == [404, 404], person.role
    sign_in(client, tenant_a.people[Role.VIEWER])
    assert client.get(urls[0]).status_code in (200, 202)
