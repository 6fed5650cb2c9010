"""Payments under real concurrency (threads, each with its own client and connection, on the
lane's database): a form submitted at once by two finance users records one payment, and
credit is never spent twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from billing import payments
from billing.models import Invoice, Payment, PaymentMethod
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests import factories as people
from tests.billing import factories
from tests.ordering.test_concurrency import race

RACERS = 10


@pytest.fixture
def app_config() -> dict[str, object]:
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RACERS + 2, "max_overflow": 0}}


@pytest.fixture
def two_finance_users(tenant_a, unscoped) -> list[people.Person]:
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        return [tenant_a.people[Role.FINANCE], people.person(vendor, Role.FINANCE)]


def submit(invoice_id: int, amount: str, key: str):
    data = {
        "currency": "USD",
        "amount": amount,
        "received_on": utcnow().date().isoformat(),
        "reference": "Transfer 77",
        "idempotency_key": key,
    }
    return lambda client: client.post(f"/invoices/{invoice_id}/payments/new", data=data).status_code


def test_the_same_form_sent_by_two_finance_users_at_once_records_one_payment(
    app, two_finance_users, invoice_id, unscoped
):
    answers = race(
        app, [(user, submit(invoice_id, "400", "one-form")) for user in two_finance_users] * 5
    )
    assert set(answers) == {302}
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert factories.reread(invoice_id).paid_minor == 40_000


def test_payments_racing_each_other_pay_the_invoice_once_and_keep_the_rest_as_credit(
    app, tenant_a, two_finance_users, invoice_id, unscoped
):
    answers = race(
        app,
        [(two_finance_users[n % 2], submit(invoice_id, "300", f"form-{n}")) for n in range(4)],
    )
    assert sorted(answers) == [302, 302, 302, 302]
    with unscoped():
        invoice = factories.reread(invoice_id)
        assert (invoice.paid_minor, invoice.state.value) == (100_000, "paid")
        assert payments.credit_balance(tenant_a.customer_id, "USD") == Money(20_000, "USD")


def test_credit_applied_twice_at_once_is_spent_once(
    app, tenant_a, two_finance_users, invoice_id, unscoped
):
    with unscoped():
        factories.bank_payment(tenant_a, Money(130_000, "USD"), invoice_id)
        others = [factories.issued(tenant_a) for _ in range(2)]
    requests = [
        (
            user,
            lambda client, other=other, n=n: (
                client.post(
                    f"/invoices/{other}/credit", data={"idempotency_key": f"credit-{other}-{n}"}
                ).status_code
            ),
        )
        for other in others
        for n, user in enumerate(two_finance_users * 2)
    ]
    assert set(race(app, requests)) == {302}
    with unscoped():
        spent = db.session.scalar(
            select(func.sum(Payment.amount_minor)).where(Payment.method == PaymentMethod.CREDIT)
        )
        assert spent == 30_000
        assert payments.credit_balance(tenant_a.customer_id, "USD") == Money(0, "USD")
        assert sum(db.session.get(Invoice, other).paid_minor for other in others) == 30_000
