"""Demo books, through the services finance would use, so every billing page has something
true to show: both parties' legal details and the vendor's bank details; the invoices the
billing policies issued for the demo orders, dated when their orders were placed, and the
drafts accepted work made, issued the day after acceptance but the newest (finance's
"invoices to issue"); against them a bank transfer, a card payment, a part payment of an
invoice now overdue with its 1-, 7- and 14-day reminders, and a credit note; for the second
customer a workshop credited in full (void) and a training it overpaid (kept as credit);
and the partner's payout statement for the delivered quarter, approved.

Services stamp the present; dates are then moved back to when things happened, which only a
seed may do. Skips a vendor that has its billing details already.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import select, update

from accounts.models import Membership, Organization
from accounts.seed import first_member, vendors
from billing import credit_notes, dunning, invoices, payments, payouts, profiles
from billing.models import (
    BillingProfile,
    Charge,
    DunningReminder,
    Invoice,
    InvoiceLine,
    InvoiceState,
    Payment,
    PaymentMethod,
)
from core.db import utcnow
from core.demo import Login, seeder
from core.extensions import db
from core.money import Money
from core.permissions import OrgKind, Role
from core.tenancy import tenant_scope
from delivery.models import Engagement
from ordering.models import Order

_I = InvoiceState


@seeder
def seed_billing(logins: list[Login]) -> None:
    for vendor in vendors():
        if db.session.scalar(
            select(BillingProfile.id).where(BillingProfile.organization_id == vendor.id)
        ):
            continue
        finance = first_member(vendor.id, Role.FINANCE)
        if finance is not None:
            with tenant_scope(vendor.id):
                _seed_vendor(vendor, finance)


def _seed_vendor(vendor: Organization, finance: Membership) -> None:
    today = utcnow().date()
    _details(vendor, finance)
    _date_order_invoices(vendor.id)
    _issue_reviewed_drafts(finance, today)
    _collect(finance, today)
    _second_customer(vendor, finance, today)
    _statement(finance, today)


def _details(vendor: Organization, finance: Membership) -> None:
    profiles.update_vendor_billing(
        finance,
        profiles.VendorBilling(
            legal=profiles.LegalDetails(
                legal_name=f"{vendor.name} Ltd",
                address=f"1 Market Street\nSuite 400\n{vendor.name} City 10001",
                tax_id=f"GB{vendor.id:03d} 4567 89",
            ),
            bank_details=(
                f"Bank: First Demo Bank\nAccount name: {vendor.name} Ltd\n"
                f"IBAN: GB{vendor.id:02d} DEMO 0000 1234 5678 90\nBIC: DEMOGB2L"
            ),
            tax_rate=vendor.tax_rate,
            invoice_prefix=vendor.invoice_prefix,
            payment_terms_days=vendor.payment_terms_days,
            review_days=2,
        ),
    )
    customers = db.session.scalars(
        select(Organization)
        .where(Organization.vendor_id == vendor.id, Organization.kind == OrgKind.CUSTOMER)
        .order_by(Organization.id)
    )
    for number, customer in enumerate(customers, start=1):
        profiles.update_customer_billing(
            finance,
            customer,
            profiles.CustomerBilling(
                legal=profiles.LegalDetails(
                    legal_name=f"{customer.name} Inc.",
                    address=f"{number * 10} Harbour Road\nFloor {number}\nPort Demo 2000",
                    tax_id=f"US-{customer.id:05d}",
                ),
                billing_emails="",  # the customer's buyers and approvers receive invoices
                tax_rate=None,
                tax_note="",
            ),
        )


def _date_order_invoices(vendor_id: int) -> None:
    """Give the invoices issued at order confirmation their orders' dates (the ordering seed
    backdated the orders)."""
    rows = db.session.execute(
        select(Invoice, Order.created_at)
        .join(Order, Order.id == Invoice.order_id)
        .where(Invoice.vendor_id == vendor_id, Invoice.state != _I.DRAFT)
        .order_by(Order.created_at, Invoice.id)
    ).all()
    for invoice, placed_at in rows:
        _backdate(invoice, placed_at.date())
    db.session.commit()


def _backdate(invoice: Invoice, issued_on: date) -> None:
    invoice.issued_on = issued_on
    invoice.due_on = issued_on + timedelta(days=invoice.terms_days)
    invoice.issued_at = utcnow().replace(
        year=issued_on.year, month=issued_on.month, day=issued_on.day
    )


def _collect(finance: Membership, today: date) -> None:
    """The first customer's invoices, oldest first: paid by bank transfer; paid by card; paid
    in part and overdue, with its reminders; partly credited; the rest open."""
    issued = db.session.scalars(
        select(Invoice)
        .where(Invoice.state == _I.ISSUED, Invoice.order_id.is_not(None))
        .order_by(Invoice.issued_on, Invoice.id)
    ).all()
    plan = [_paid_by_bank, _paid_by_card, _part_paid_and_reminded, _credited]
    for invoice, step in zip(issued, plan, strict=False):
        step(finance, invoice, today)


def _second_customer(vendor: Organization, finance: Membership, today: date) -> None:
    """Two invoices finance typed for the vendor's second customer: a workshop cancelled by
    agreement (credited in full, so void) and a training the customer overpaid (the excess
    kept as its credit)."""
    customer = db.session.scalar(
        select(Organization)
        .where(Organization.vendor_id == vendor.id, Organization.kind == OrgKind.CUSTOMER)
        .order_by(Organization.id)
        .offset(1)
        .limit(1)
    )
    if customer is None:
        return
    price = Money.parse("1800", vendor.currency)
    cancelled = _typed(finance, customer.id, "Executive workshop (half day)", price, today, 40)
    credit_notes.issue_credit_note(finance, cancelled, "Workshop cancelled by mutual agreement.")
    training = _typed(finance, customer.id, "Admin training, remote (2 sessions)", price, today, 8)
    _overpaid(finance, training, today)


def _typed(
    finance: Membership, customer_id: int, what: str, price: Money, today: date, days_ago: int
) -> Invoice:
    draft = invoices.draft_for(finance, customer_id)
    invoices.add_line(finance, draft, what, 1, price)
    invoice = invoices.issue(finance, draft)
    _backdate(invoice, today - timedelta(days=days_ago))
    db.session.commit()
    return invoice


def _paid_by_bank(finance: Membership, invoice: Invoice, today: date) -> None:
    received = min(invoice.issued_on + timedelta(days=24), today)
    payments.record_bank_transfer(
        finance, invoice, invoice.balance, received, f"Transfer {invoice.number}"
    )


def _paid_by_card(finance: Membership, invoice: Invoice, today: date) -> None:
    """As if the customer paid the invoice's pay link: the demo has no Stripe account, so the
    payment Stripe would report is written as the webhook would."""
    invoice = invoices.lock(invoice)
    payment = Payment(
        vendor_id=invoice.vendor_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        method=PaymentMethod.CARD,
        amount_minor=invoice.balance.amount,
        applied_minor=0,
        currency=invoice.currency,
        received_on=min(invoice.issued_on + timedelta(days=3), today),
        reference=f"pi_demo_{invoice.id:06d}",
        payment_intent_id=f"pi_demo_{invoice.id:06d}",
    )
    db.session.add(payment)
    payments.apply_payment(invoice, payment)
    db.session.commit()


def _part_paid_and_reminded(finance: Membership, invoice: Invoice, today: date) -> None:
    """Half paid, then past due: the reminders at 1, 7 and 14 days went out on their days."""
    half = Money(invoice.balance.amount // 2, invoice.currency)
    payments.record_bank_transfer(
        finance, invoice, half, invoice.issued_on + timedelta(days=5), "Part payment"
    )
    # Overdue by more than 14 days: on shorter terms where it was issued long enough ago,
    # else issued earlier (an invoice is never dated before what it bills, where possible).
    terms = (today - invoice.issued_on).days - 15
    issued_on = invoice.issued_on if terms >= 0 else today - timedelta(days=15)
    terms_days = min(invoice.terms_days, max(terms, 0))
    due_on = issued_on + timedelta(days=terms_days)
    for step in dunning.STEPS:
        invoice = invoices.lock(invoice)
        invoice.due_on = today - timedelta(days=step)
        dunning.remind(invoice.id, step, today)
        db.session.commit()
    invoice = invoices.lock(invoice)
    invoice.issued_on, invoice.terms_days, invoice.due_on = issued_on, terms_days, due_on
    for step in dunning.STEPS:
        db.session.execute(
            update(DunningReminder)
            .where(DunningReminder.invoice_id == invoice.id, DunningReminder.days_overdue == step)
            .values(created_at=utcnow() - timedelta(days=(today - due_on).days - step))
        )
    db.session.commit()


def _overpaid(finance: Membership, invoice: Invoice, today: date) -> None:
    """The customer rounded up: the excess is kept as its credit."""
    extra = Money.parse("100", invoice.currency)
    payments.record_bank_transfer(
        finance,
        invoice,
        invoice.balance + extra,
        min(invoice.issued_on + timedelta(days=20), today),
        "Transfer, rounded up",
    )


def _credited(finance: Membership, invoice: Invoice, today: date) -> None:
    """A goodwill credit of a tenth of the first line."""
    line = invoices.lock(invoice).lines[0]
    tenth = Money(max(line.net_minor // 10, 1), invoice.currency)
    credit_notes.issue_credit_note(
        finance, invoice, "Goodwill: the kick-off moved by a week.", {line.id: tenth}
    )


def _issue_reviewed_drafts(finance: Membership, today: date) -> None:
    """The drafts accepted work made, issued by finance on the day after the acceptance,
    except the newest, which waits for finance (and for the browser test)."""
    drafts = db.session.execute(
        select(Invoice.id, sa.func.max(Engagement.accepted_at))
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .join(Charge, Charge.invoice_line_id == InvoiceLine.id)
        .join(Engagement, Engagement.id == Charge.engagement_id)
        .where(Invoice.state == _I.DRAFT)
        .group_by(Invoice.id)
        .order_by(Invoice.id)
    ).all()
    for invoice_id, accepted_at in drafts[:-1]:
        invoice = invoices.issue(finance, db.session.get(Invoice, invoice_id))
        accepted_on = accepted_at.date() if accepted_at is not None else today
        _backdate(invoice, min(accepted_on + timedelta(days=1), today))
        db.session.commit()


def _statement(finance: Membership, today: date) -> None:
    """The partner's statement for the delivered quarter, approved."""
    prepared = payouts.prepare(finance, today - timedelta(days=120), today - timedelta(days=1))
    db.session.commit()
    for payout in prepared.payouts:
        payouts.approve(finance, payout)
