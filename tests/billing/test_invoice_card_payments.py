"""Card payments against invoices through Stripe (the local fake): an invoice's own pay link,
reconciled by the webhook exactly once, and the card payment of an order as its invoice's."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from billing import payments
from billing.models import Invoice, InvoiceCheckout, InvoiceState, Payment, PaymentMethod, Refund
from core import scheduler
from core.audit import AuditEvent
from core.extensions import db
from core.money import Money
from core.permissions import Role
from ordering.models import Order, OrderState
from tests.billing import factories
from tests.conftest import sign_in
from tests.ordering import card_orders
from tests.ordering.card_orders import deliver, post_event

State = InvoiceState


@pytest.fixture
def app_config(stripe_fake):
    return stripe_fake.app_config


@pytest.fixture
def buyer(client, tenant_a):
    return sign_in(client, tenant_a.people[Role.BUYER])


def open_session(client, invoice_id: int) -> str:
    """The buyer clicks "Pay by card"; the session id Stripe opened."""
    response = client.post(f"/invoices/{invoice_id}/pay")
    assert response.status_code == 303
    return response.location.rsplit("/", 1)[-1]


def payments_of(invoice_id: int) -> list[Payment]:
    db.session.expire_all()
    return payments.payments_of(invoice_id)


def test_the_buyer_sees_what_is_owed_and_is_sent_to_stripe_checkout_once(
    buyer, stripe_fake, invoice_id, unscoped
):
    page = buyer.get(f"/invoices/{invoice_id}/pay").get_data(as_text=True)
    assert "Pay $1,000.00 by card" in page
    assert "Pay $1,000.00 by card" in buyer.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    first = buyer.post(f"/invoices/{invoice_id}/pay")
    second = buyer.post(f"/invoices/{invoice_id}/pay")  # a second click, or a second tab
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert first.location.startswith("https://checkout.stripe.test/")
    [opened] = [r for r in stripe_fake.posts() if r.path == "/v1/checkout/sessions"]
    assert opened.params["metadata"]["purpose"] == "invoice_payment"
    assert opened.params["line_items"]["0"]["price_data"]["unit_amount"] == "100000"
    assert opened.headers["idempotency-key"] == f"invoice-{invoice_id}-checkout-1-100000"
    with unscoped():
        assert payments_of(invoice_id) == []  # only Stripe's word records a payment


def test_paying_the_session_pays_the_invoice(buyer, stripe_fake, invoice_id, unscoped):
    session_id = open_session(buyer, invoice_id)
    stripe_fake.pay(session_id)
    response = deliver(buyer, stripe_fake, "checkout.session.completed", session_id)
    assert response.json["status"] == "queued"
    with unscoped():
        [payment] = payments_of(invoice_id)
        assert (payment.method, payment.amount_minor, payment.checkout_session_id) == (
            PaymentMethod.CARD,
            100_000,
            session_id,
        )
        assert factories.reread(invoice_id).state is State.PAID
    page = buyer.get(f"/invoices/{invoice_id}/pay?returned=done").get_data(as_text=True)
    assert "Nothing is owed on this invoice." in page


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_events_for_an_invoice_and_an_order_five_times_in_any_order_pay_each_once(
    client, stripe_fake, tenant_a, invoice_id, unscoped, seed
):
    with unscoped():
        order = card_orders.awaiting_payment(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    invoice_session = open_session(client, invoice_id)
    for session_id in (invoice_session, order.session_id):
        stripe_fake.pay(session_id)
    events = [
        stripe_fake.event(kind, session_id)
        for session_id in (invoice_session, order.session_id)
        for kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded")
    ]
    deliveries = [event for event in events for _ in range(5)]
    random.Random(seed).shuffle(deliveries)
    answers = []
    for body, headers in deliveries:
        response = client.post(
            "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
        )
        answers.append(response.json["status"])
        if len(answers) % 3 == 0:  # the scheduler runs now and then between deliveries
            deliver_pending(client)
    deliver_pending(client)
    assert answers.count("queued") == len(events)
    assert answers.count("duplicate") == len(deliveries) - len(events)
    with unscoped():
        [paid_by_link] = payments_of(invoice_id)
        assert paid_by_link.checkout_session_id == invoice_session
        assert factories.reread(invoice_id).state is State.PAID
        [order_invoice] = factories.invoices_of_order(order.order_id)
        [paid_by_order] = payments_of(order_invoice.id)
        assert paid_by_order.card_payment_id is not None
        assert order_invoice.state is State.PAID
        assert db.session.get(Order, order.order_id).state is OrderState.CONFIRMED
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 2


def deliver_pending(client) -> None:
    """What the scheduler does with the events recorded so far."""
    for job in card_orders.WEBHOOK_WORK:
        scheduler.run_job(client.application, job)


def test_a_payment_one_cent_short_never_pays_the_invoice_and_finance_sees_it(
    client, stripe_fake, tenant_a, invoice_id, unscoped
):
    sign_in(client, tenant_a.people[Role.BUYER])
    session_id = open_session(client, invoice_id)
    stripe_fake.sessions[session_id]["amount_total"] = 99_999
    stripe_fake.pay(session_id)
    deliver(client, stripe_fake, "checkout.session.completed", session_id)
    assert card_orders.last_outcome(unscoped).startswith("ignored: paid amount differs")
    with unscoped():
        assert payments_of(invoice_id) == []
        assert factories.reread(invoice_id).state is State.ISSUED
        flagged = db.session.scalar(select(InvoiceCheckout))
        assert flagged.problem.startswith("Stripe reported $999.99 paid for $1,000.00 asked")
        assert db.session.scalar(
            select(func.count()).where(AuditEvent.action == "invoice_payment.amount_mismatch")
        )
    sign_in(client, tenant_a.people[Role.FINANCE])
    page = client.get(f"/invoices/{invoice_id}/payments/new").get_data(as_text=True)
    assert "Card payments not applied." in page
    assert "Stripe reported $999.99 paid for $1,000.00 asked" in page


def test_a_card_payment_after_the_invoice_was_paid_by_bank_becomes_credit(
    client, stripe_fake, tenant_a, invoice_id, unscoped
):
    sign_in(client, tenant_a.people[Role.BUYER])
    session_id = open_session(client, invoice_id)
    with unscoped():
        factories.bank_payment(tenant_a, Money(100_000, "USD"), invoice_id)
    stripe_fake.pay(session_id)
    deliver(client, stripe_fake, "checkout.session.completed", session_id)
    with unscoped():
        _bank, card = payments_of(invoice_id)
        assert (card.amount_minor, card.applied_minor) == (100_000, 0)
        assert factories.reread(invoice_id).state is State.PAID
        assert payments.credit_balance(tenant_a.customer_id, "USD") == Money(100_000, "USD")


def test_a_refund_in_stripes_dashboard_is_recorded_against_the_invoice_once(
    client, stripe_fake, tenant_a, invoice_id, unscoped
):
    sign_in(client, tenant_a.people[Role.BUYER])
    session_id = open_session(client, invoice_id)
    charge = stripe_fake.pay(session_id)
    deliver(client, stripe_fake, "checkout.session.completed", session_id)
    stripe_fake.refund_in_dashboard(charge, 25_000)
    for _ in range(2):
        deliver(client, stripe_fake, "charge.refunded", charge)
    with unscoped():
        [made] = db.session.scalars(select(Refund)).all()
        assert (made.amount_minor, made.from_invoice_minor) == (25_000, 25_000)
        invoice = factories.reread(invoice_id)
        assert invoice.state is State.PARTIALLY_PAID
        assert invoice.balance == Money(25_000, "USD")


def test_without_stripe_keys_the_invoice_is_paid_by_bank_only(
    app, buyer, stripe_fake, invoice_id, unscoped
):
    app.config["STRIPE_SECRET_KEY"] = ""
    page = buyer.get(f"/invoices/{invoice_id}/pay").get_data(as_text=True)
    assert "Card payment is not available" in page
    assert "by card</a>" not in buyer.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    response = buyer.post(f"/invoices/{invoice_id}/pay", follow_redirects=True)
    assert "Card payment is not available; pay by bank transfer instead." in response.get_data(
        as_text=True
    )
    assert stripe_fake.posts() == []


def test_only_the_customers_buyer_or_approver_pay_by_card(
    client, stripe_fake, tenant_a, tenant_b, invoice_id
):
    for person in (tenant_a.people[Role.VIEWER], tenant_a.people[Role.FINANCE]):
        sign_in(client, person)
        assert client.post(f"/invoices/{invoice_id}/pay").status_code == 404
    sign_in(client, tenant_b.people[Role.BUYER])
    assert client.get(f"/invoices/{invoice_id}/pay").status_code == 404
    assert stripe_fake.posts() == []


def test_a_card_orders_payment_is_the_payment_of_its_invoice_and_its_refund_too(
    client, stripe_fake, tenant_a, unscoped
):
    with unscoped():
        card_order = card_orders.awaiting_payment(tenant_a)
    charge = stripe_fake.pay(card_order.session_id)
    for _ in range(2):
        deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        [invoice] = factories.invoices_of_order(card_order.order_id)
        [payment] = payments_of(invoice.id)
        total = db.session.get(Order, card_order.order_id).total_minor
        assert invoice.state is State.PAID
        assert (payment.method, payment.amount_minor, payment.applied_minor) == (
            PaymentMethod.CARD,
            total,
            total,
        )
    stripe_fake.refund_in_dashboard(charge, 1_000)
    for _ in range(2):
        deliver(client, stripe_fake, "charge.refunded", charge)
    with unscoped():
        invoice = factories.reread(invoice.id)
        [made] = db.session.scalars(select(Refund)).all()
        assert (made.amount_minor, made.from_invoice_minor) == (1_000, 1_000)
        assert made.stripe_refund_key == f"card-payment:{payment.card_payment_id}:1000"
        assert invoice.state is State.PARTIALLY_PAID
        assert invoice.balance == Money(1_000, invoice.currency)
    sign_in(client, tenant_a.people[Role.FINANCE])
    page = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "Refunds" in page


def test_a_session_of_another_invoice_pays_nothing(
    client, stripe_fake, tenant_a, invoice_id, unscoped
):
    sign_in(client, tenant_a.people[Role.BUYER])
    session_id = open_session(client, invoice_id)
    stripe_fake.sessions[session_id]["metadata"] = {
        **stripe_fake.sessions[session_id]["metadata"],
        "invoice_id": "999999",
    }
    stripe_fake.pay(session_id)
    post_event(client, stripe_fake, "checkout.session.completed", session_id)
    deliver_pending(client)
    assert card_orders.last_outcome(unscoped) == "ignored: session belongs to another invoice"
    with unscoped():
        assert payments_of(invoice_id) == []
        assert db.session.get(Invoice, invoice_id).state is State.ISSUED
