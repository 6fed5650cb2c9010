"""Neutral payments against invoices: bank transfers finance records, overpayment kept as
credit, credit applied, refunds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing import payments, refunds
from billing.models import CreditEntry, Invoice, InvoiceState, Payment, PaymentMethod, Refund
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.billing import factories
from tests.conftest import sign_in

State = InvoiceState
TODAY = utcnow().date()


@pytest.fixture
def finance(client, tenant_a):
    return sign_in(client, tenant_a.people[Role.FINANCE])


def record(client, invoice_id: int, amount: str, key: str = "key-1", **fields: str):
    data = {
        "currency": "USD",
        "amount": amount,
        "received_on": TODAY.isoformat(),
        "reference": "Bank transfer 0042",
        "idempotency_key": key,
        **fields,
    }
    return client.post(f"/invoices/{invoice_id}/payments/new", data=data)


def invoice_now(invoice_id: int) -> Invoice:
    return factories.reread(invoice_id)


def credit_of(tenant) -> Money:
    return payments.credit_balance(tenant.customer_id, "USD")


def payment_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Payment))


def test_a_partial_payment_leaves_the_invoice_partially_paid(finance, invoice_id, unscoped):
    response = record(finance, invoice_id, "400")
    assert response.status_code == 302
    assert response.location.endswith(f"/invoices/{invoice_id}")
    with unscoped():
        invoice = invoice_now(invoice_id)
        assert invoice.state is State.PARTIALLY_PAID
        assert (invoice.paid_minor, invoice.balance.amount) == (40_000, 60_000)


def test_paying_exactly_what_is_owed_pays_the_invoice(finance, invoice_id, unscoped):
    record(finance, invoice_id, "1,000.00")
    with unscoped():
        invoice = invoice_now(invoice_id)
        assert invoice.state is State.PAID
        assert invoice.paid_at is not None
        assert payments.credit_balance(invoice.customer_id, "USD") == Money(0, "USD")


def test_an_overpayment_pays_the_invoice_and_the_excess_becomes_credit(
    finance, tenant_a, invoice_id, unscoped
):
    response = record(finance, invoice_id, "1,200.50")
    page = finance.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "the excess of $200.50 is kept as the customer&#39;s credit" in page
    with unscoped():
        invoice = invoice_now(invoice_id)
        assert invoice.state is State.PAID
        assert invoice.paid_minor == 100_000
        assert credit_of(tenant_a) == Money(20_050, "USD")
        [payment] = db.session.scalars(select(Payment)).all()
        assert (payment.amount_minor, payment.applied_minor) == (120_050, 100_000)
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("typed", "minor"), [("0.29", 29), ("19.99", 1_999), ("1,000.10", 100_010)]
)
def test_typed_amounts_are_stored_to_the_cent(
    finance, tenant_a, invoice_id, unscoped, typed, minor
):
    record(finance, invoice_id, typed)
    with unscoped():
        assert db.session.scalar(select(Payment.amount_minor)) == minor


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "-50"}, "Amount: more than zero."),
        ({"amount": "0"}, "Amount: more than zero."),
        ({"amount": "100", "currency": "EUR"}, "is in USD, not EUR."),
        ({"amount": "10.001"}, "USD amounts have at most 2 decimals."),
        ({"amount": "ten"}, "is not an amount."),
        ({"amount": "100", "currency": "ZZZ"}, "Enter a currency such as USD or EUR."),
        (
            {"amount": "100", "received_on": (TODAY + timedelta(days=1)).isoformat()},
            "Received on: cannot be in the future.",
        ),
        ({"amount": ""}, "Enter an amount."),
    ],
)
def test_a_payment_that_does_not_fit_is_refused_with_its_reason_and_changes_nothing(
    finance, invoice_id, unscoped, fields, message
):
    response = record(finance, invoice_id, **{"amount": "100", **fields})
    page = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500
    assert message in page.replace("&#34;", '"')
    assert 'value="Bank transfer 0042"' in page  # what was typed is kept
    with unscoped():
        assert payment_count() == 0
        assert invoice_now(invoice_id).state is State.ISSUED


def test_a_paid_invoice_takes_no_further_payment(finance, invoice_id, unscoped):
    record(finance, invoice_id, "1000", key="first")
    response = record(finance, invoice_id, "10", key="second")
    assert response.status_code == 409
    assert "is paid; it takes no payment" in response.get_data(as_text=True)
    with unscoped():
        assert payment_count() == 1


def test_a_double_submit_records_one_payment(finance, invoice_id, unscoped):
    first = record(finance, invoice_id, "250", key="same-form")
    second = record(finance, invoice_id, "250", key="same-form")
    assert (first.status_code, second.status_code) == (302, 302)
    with unscoped():
        assert payment_count() == 1
        assert invoice_now(invoice_id).paid_minor == 25_000


def test_the_form_carries_a_fresh_one_time_key_each_time(finance, invoice_id):
    keys = {
        finance.get(f"/invoices/{invoice_id}/payments/new")
        .get_data(as_text=True)
        .split('name="idempotency_key" type="hidden" value="')[1][:32]
        for _ in range(2)
    }
    assert len(keys) == 2


def test_customers_and_other_vendor_roles_cannot_record_payments(
    client, tenant_a, invoice_id, unscoped
):
    for role in (Role.BUYER, Role.CSM, Role.DELIVERY_MANAGER):
        sign_in(client, tenant_a.people[role])
        assert client.get(f"/invoices/{invoice_id}/payments/new").status_code == 404
        assert record(client, invoice_id, "100", key=f"k-{role}").status_code == 404
    with unscoped():
        assert payment_count() == 0


# --- refunds -------------------------------------------------------------------------------


def refund(client, payment_id: int, amount: str, **fields: str):
    data = {"amount": amount, "refunded_on": TODAY.isoformat(), "reason": "Paid twice", **fields}
    return client.post(f"/payments/{payment_id}/refund", data=data)


def test_a_refund_moves_a_paid_invoice_back_to_partially_paid(
    finance, tenant_a, invoice_id, unscoped
):
    record(finance, invoice_id, "1000")
    with unscoped():
        payment_id = db.session.scalar(select(Payment.id))
    page = finance.get(f"/payments/{payment_id}/refund").get_data(as_text=True)
    assert "owed again" in page  # what will happen is said before it happens
    response = refund(finance, payment_id, "300")
    assert response.status_code == 302
    with unscoped():
        invoice = invoice_now(invoice_id)
        assert invoice.state is State.PARTIALLY_PAID
        assert invoice.balance == Money(30_000, "USD")
        [made] = db.session.scalars(select(Refund)).all()
        assert (made.amount_minor, made.from_invoice_minor) == (30_000, 30_000)
        assert db.session.get(Payment, payment_id).refunded_minor == 30_000
    shown = finance.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "Paid twice" in shown


def test_a_refund_takes_back_the_overpayments_credit_first(finance, tenant_a, invoice_id, unscoped):
    record(finance, invoice_id, "1,200")
    with unscoped():
        payment_id = db.session.scalar(select(Payment.id))
    refund(finance, payment_id, "250")
    with unscoped():
        invoice = invoice_now(invoice_id)
        assert invoice.state is State.PARTIALLY_PAID  # 200 from credit, 50 from the invoice
        assert invoice.balance == Money(5_000, "USD")
        assert credit_of(tenant_a) == Money(0, "USD")
        made = db.session.scalar(select(Refund))
        assert made.from_invoice_minor == 5_000


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1000.01", "at most $1,000.00, what is left of this payment"),
        ("0", "Amount: more than zero."),
        ("-5", "Amount: more than zero."),
    ],
)
def test_a_refund_above_what_is_left_of_the_payment_is_refused(
    finance, invoice_id, unscoped, amount, message
):
    record(finance, invoice_id, "1000")
    with unscoped():
        payment_id = db.session.scalar(select(Payment.id))
    response = refund(finance, payment_id, amount)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
        assert invoice_now(invoice_id).state is State.PAID


def test_credit_spent_elsewhere_cannot_be_refunded_again(tenant_a, invoice_id, unscoped):
    with unscoped():
        who = factories.finance(tenant_a)
        over = payments.record_bank_transfer(
            who, db.session.get(Invoice, invoice_id), Money(120_000, "USD"), TODAY, "Over"
        )
        other = factories.issued(tenant_a)
        payments.apply_credit(who, db.session.get(Invoice, other))
        assert refunds.refundable(db.session.get(Payment, over.id)) == Money(100_000, "USD")
        with pytest.raises(ServiceError, match="the rest of its credit was spent"):
            refunds.refund_payment(
                who, db.session.get(Payment, over.id), Money(120_000, "USD"), TODAY, "All back"
            )


# --- customer credit -----------------------------------------------------------------------


def test_credit_from_an_overpayment_pays_another_invoice(finance, tenant_a, invoice_id, unscoped):
    record(finance, invoice_id, "1,300")
    with unscoped():
        second = factories.issued(tenant_a)
    page = finance.get(f"/invoices/{second}/payments/new").get_data(as_text=True)
    assert "$300.00</strong> of credit" in page
    key = page.split('name="idempotency_key" type="hidden" value="')[-1].split('"')[0]
    response = finance.post(f"/invoices/{second}/credit", data={"idempotency_key": key})
    assert response.status_code == 302
    with unscoped():
        invoice = invoice_now(second)
        assert invoice.state is State.PARTIALLY_PAID
        assert invoice.balance == Money(70_000, "USD")
        assert credit_of(tenant_a) == Money(0, "USD")
        credit_payment = db.session.scalar(
            select(Payment).where(Payment.method == PaymentMethod.CREDIT)
        )
        assert credit_payment.amount_minor == 30_000


def test_credit_is_never_applied_beyond_the_balance_or_what_is_owed(tenant_a, invoice_id, unscoped):
    with unscoped():
        who = factories.finance(tenant_a)
        payments.record_bank_transfer(
            who, db.session.get(Invoice, invoice_id), Money(150_000, "USD"), TODAY, "Over"
        )
        small = factories.issued(tenant_a, ("Call", 1, Money(20_000, "USD")))
        with pytest.raises(ServiceError, match=re.escape("has $500.00 of credit, not $500.01")):
            payments.apply_credit(who, db.session.get(Invoice, small), Money(50_001, "USD"))
        with pytest.raises(ServiceError, match=re.escape("owes $200.00, not $300.00")):
            payments.apply_credit(who, db.session.get(Invoice, small), Money(30_000, "USD"))
        payments.apply_credit(who, db.session.get(Invoice, small))
        assert invoice_now(small).state is State.PAID
        assert credit_of(tenant_a) == Money(30_000, "USD")
        entries = db.session.scalars(select(CreditEntry.amount_minor).order_by(CreditEntry.id))
        assert list(entries) == [50_000, -20_000]
        with pytest.raises(ServiceError, match="takes no payment"):
            payments.apply_credit(who, db.session.get(Invoice, small))


def test_the_payment_page_reads_the_same_number_of_queries_however_many_payments(
    finance, tenant_a, invoice_id, unscoped, count_queries
):
    def queries_of_page() -> int:
        with count_queries() as counted:
            assert finance.get(f"/invoices/{invoice_id}/payments/new").status_code == 200
        return len(counted)

    record(finance, invoice_id, "10", key="a")
    with unscoped():
        payment_id = db.session.scalar(select(Payment.id))
    refund(finance, payment_id, "1")
    one = queries_of_page()
    for n in range(4):
        record(finance, invoice_id, "10", key=f"more-{n}")
    assert queries_of_page() == one
