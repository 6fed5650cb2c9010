"""Card payment at checkout: offered only with Stripe keys, off to Stripe Checkout with the
order in the metadata and an idempotency key, and nothing confirmed by coming back."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.db import utcnow
from core.errors import Conflict, InvalidTransition
from core.extensions import db
from core.permissions import Role
from core.queue import QueuedJob
from ordering import payments
from ordering.models import Order, OrderState, PaymentRoute
from ordering.payment_models import CardPayment
from tests.conftest import sign_in
from tests.ordering import card_orders, factories
from tests.ordering.card_orders import deliver, snapshot


def checkout_fields(client) -> dict[str, str]:
    html = client.get("/checkout").data.decode()
    token = re.search(r'name="checkout_token" type="hidden" value="([^"]+)"', html).group(1)
    terms = re.search(r'name="terms_version" type="hidden" value="([^"]*)"', html).group(1)
    return {"checkout_token": token, "terms_version": terms, "accept_terms": "y"}


def payments_count(unscoped) -> int:
    with unscoped():
        return db.session.scalar(select(func.count()).select_from(CardPayment))


class TestWithoutStripeKeys:
    def test_card_payment_is_not_offered_and_cannot_be_forced(self, client, tenant_a, unscoped):
        with unscoped():
            factories.cart_line(tenant_a)
        sign_in(client, tenant_a.people[Role.BUYER])
        page = client.get("/checkout").data.decode()
        assert 'value="invoice"' in page
        assert 'value="card"' not in page
        response = client.post(
            "/checkout", data={**checkout_fields(client), "payment_route": "card"}
        )
        assert response.status_code == 200  # the form again, with a message
        with unscoped():
            assert db.session.scalar(select(func.count()).select_from(Order)) == 0

    def test_the_webhook_endpoint_is_not_there(self, client):
        assert client.post("/webhooks/stripe", data=b"{}").status_code == 404


class TestWithStripeKeys:
    @pytest.fixture
    def app_config(self, stripe_fake):
        return stripe_fake.app_config

    def test_the_buyer_is_sent_to_stripe_checkout_for_the_order(
        self, client, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            factories.cart_line(tenant_a, quantity=2)
        sign_in(client, tenant_a.people[Role.BUYER])
        assert 'value="card"' in client.get("/checkout").data.decode()
        response = client.post(
            "/checkout", data={**checkout_fields(client), "payment_route": "card"}
        )
        assert response.status_code == 303
        assert response.location.startswith("https://checkout.stripe.test/c/pay/cs_test_")
        with unscoped():
            order = db.session.scalar(select(Order))
            payment = db.session.scalar(select(CardPayment))
            assert order.state == OrderState.AWAITING_PAYMENT
            assert (payment.state.value, payment.amount_minor) == ("open", order.total_minor)
        (created,) = stripe_fake.posts()
        assert created.path == "/v1/checkout/sessions"
        assert created.headers["idempotency-key"] == f"order-{order.id}-checkout-1"
        assert created.params["metadata"]["order_id"] == str(order.id)
        assert created.params["client_reference_id"] == str(order.id)
        assert created.params["line_items"]["0"]["price_data"]["unit_amount"] == str(
            order.total_minor
        )
        assert created.params["success_url"].endswith(f"/orders/{order.id}/payment/done")
        assert created.params["cancel_url"].endswith(f"/orders/{order.id}/payment/cancelled")

    def test_coming_back_from_stripe_confirms_nothing(
        self, client, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            card_order = card_orders.awaiting_payment(tenant_a)
        stripe_fake.pay(card_order.session_id)  # paid, but no webhook yet
        sign_in(client, tenant_a.people[Role.BUYER])
        response = client.get(f"/orders/{card_order.order_id}/payment/done", follow_redirects=True)
        assert "as soon as Stripe reports the payment" in response.data.decode()
        with unscoped():
            assert snapshot(card_order.order_id).order_state == "awaiting_payment"
        client.get(f"/orders/{card_order.order_id}/payment/cancelled")
        with unscoped():
            assert snapshot(card_order.order_id).order_state == "awaiting_payment"

    def test_paying_twice_reuses_the_open_session(self, client, stripe_fake, tenant_a, unscoped):
        with unscoped():
            card_order = card_orders.awaiting_payment(tenant_a)
        sign_in(client, tenant_a.people[Role.BUYER])
        page = client.get(f"/orders/{card_order.order_id}").data.decode()
        assert 'data-testid="pay-form"' in page
        first = client.post(f"/orders/{card_order.order_id}/pay")
        second = client.post(f"/orders/{card_order.order_id}/pay")
        assert first.location == second.location
        assert card_order.session_id in first.location
        assert len(stripe_fake.posts()) == 1
        assert payments_count(unscoped) == 1

    def test_after_the_session_expired_a_new_attempt_opens_a_new_one(
        self, client, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            card_order = card_orders.awaiting_payment(tenant_a)
        stripe_fake.expire(card_order.session_id)
        deliver(client, stripe_fake, "checkout.session.expired", card_order.session_id)
        sign_in(client, tenant_a.people[Role.BUYER])
        response = client.post(f"/orders/{card_order.order_id}/pay")
        assert response.status_code == 303
        assert stripe_fake.posts()[-1].headers["idempotency-key"] == (
            f"order-{card_order.order_id}-checkout-2"
        )
        new_session = response.location.rsplit("/", 1)[-1]
        stripe_fake.pay(new_session)
        deliver(client, stripe_fake, "checkout.session.completed", new_session)
        with unscoped():
            after = snapshot(card_order.order_id)
        assert after.order_state == "confirmed"
        assert after.payments == ((1, "expired", 0, False), (2, "paid", 0, False))

    def test_when_stripe_is_unreachable_the_order_waits_and_offers_to_pay_again(
        self, client, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            factories.cart_line(tenant_a)
        sign_in(client, tenant_a.people[Role.BUYER])
        fields = checkout_fields(client)
        stripe_fake.down = True
        response = client.post("/checkout", data={**fields, "payment_route": "card"})
        with unscoped():
            order_id = db.session.scalar(select(Order.id))
        assert response.location.endswith(f"/orders/{order_id}")
        page = client.get(response.location).data.decode()
        assert "unavailable right now" in page
        assert 'data-testid="pay-form"' in page
        assert payments_count(unscoped) == 0
        stripe_fake.down = False
        assert client.post(f"/orders/{order_id}/pay").status_code == 303
        assert payments_count(unscoped) == 1

    def test_a_card_order_above_the_threshold_is_paid_after_approval(
        self, client, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            factories.set_threshold(tenant_a, 100)
            factories.cart_line(tenant_a)
            order_id = factories.place(tenant_a, route=PaymentRoute.CARD)
        sign_in(client, tenant_a.people[Role.BUYER])
        assert 'data-testid="pay-form"' not in client.get(f"/orders/{order_id}").data.decode()
        assert client.post(f"/orders/{order_id}/pay").status_code == 302  # refused, back
        assert payments_count(unscoped) == 0
        sign_in(client, tenant_a.people[Role.APPROVER])
        client.post(f"/orders/{order_id}/approve", data={"reason": ""})
        sign_in(client, tenant_a.people[Role.BUYER])
        assert client.post(f"/orders/{order_id}/pay").status_code == 303

    def test_other_people_cannot_pay_or_see_payment_pages_of_an_order(
        self, client, stripe_fake, tenant_a, tenant_b, unscoped
    ):
        with unscoped():
            card_order = card_orders.awaiting_payment(tenant_a)
        for role in (Role.BUYER, Role.ADMIN):
            sign_in(client, tenant_b.people[role])
            assert client.post(f"/orders/{card_order.order_id}/pay").status_code == 404
            assert client.get(f"/orders/{card_order.order_id}/payment/done").status_code == 404
        sign_in(client, tenant_a.people[Role.FINANCE])  # the vendor's staff do not pay
        assert client.post(f"/orders/{card_order.order_id}/pay").status_code == 404
        assert len(stripe_fake.posts()) == 1


def test_every_outgoing_stripe_post_carries_our_idempotency_key(
    app, client, stripe_fake, tenant_a, unscoped, run_jobs
):
    """A whole life: pay, a second attempt, a refund, a cancellation refund and an expiry."""
    app.config.update(stripe_fake.app_config)
    with unscoped():
        refunded = card_orders.awaiting_payment(tenant_a)
        cancelled = card_orders.awaiting_payment(tenant_a)
        abandoned = card_orders.awaiting_payment(tenant_a)
    for card_order in (refunded, cancelled):
        stripe_fake.pay(card_order.session_id)
        deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    sign_in(client, tenant_a.people[Role.FINANCE])
    client.post(f"/orders/{refunded.order_id}/refund", data={"reason": "Goodwill"})
    client.post(f"/orders/{cancelled.order_id}/cancel", data={"reason": "Customer asked"})
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post(f"/orders/{abandoned.order_id}/cancel", data={"reason": ""})
    run_jobs()
    posts = stripe_fake.posts()
    assert {post.path.split("/")[2] for post in posts} >= {"checkout", "refunds"}
    assert any(post.path.endswith("/expire") for post in posts)
    for post in posts:
        key = post.headers.get("idempotency-key", "")
        assert re.fullmatch(r"order-\d+-checkout-\d+|card-payment-\d+-(refund|expire)", key), (
            post.path,
            key,
        )
    assert len(stripe_fake.refunds) == 2


class TestTheCheckoutSession:
    @pytest.fixture
    def app_config(self, stripe_fake):
        return stripe_fake.app_config

    def test_stripe_is_asked_for_the_order_total_named_by_its_servlets_and_the_buyers_email(
        self, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            for title in ("Zeta Review", "Alpha Audit"):
                factories.cart_line(tenant_a, factories.offered_servlet(tenant_a, title=title))
            order_id = factories.place(tenant_a, route=PaymentRoute.CARD)
            order = db.session.get(Order, order_id)
            reference = order.reference
            url = payments.start_card_payment(factories.actor(tenant_a), order)
            payment = db.session.scalar(select(CardPayment))
            assert (payment.attempt, payment.amount_minor, payment.currency) == (
                1,
                1_000_000,
                "USD",
            )
            assert url == payment.checkout_url
            assert payment.expires_at is not None
            started = db.session.scalar(
                select(AuditEvent).where(AuditEvent.action == "card_payment.started")
            )
            assert started.changes == {
                "order_id": order_id,
                "attempt": 1,
                "session": payment.checkout_session_id,
            }
        (created,) = stripe_fake.posts()
        metadata = {
            "purpose": "order_payment",
            "order_id": str(order_id),
            "vendor_id": str(tenant_a.vendor_id),
            "attempt": "1",
        }
        assert created.params["mode"] == "payment"
        assert created.params["metadata"] == metadata
        assert created.params["payment_intent_data"] == {
            "metadata": metadata,
            "description": f"Order {reference}",
        }
        assert created.params["customer_email"] == tenant_a.people[Role.BUYER].email
        assert created.params["line_items"] == {
            "0": {
                "quantity": "1",
                "price_data": {
                    "currency": "usd",
                    "unit_amount": "1000000",
                    "product_data": {
                        "name": f"Order {reference}",
                        "description": "Alpha Audit, Zeta Review",
                    },
                },
            }
        }

    def test_a_session_about_to_expire_is_not_handed_out_again(
        self, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            card_order = card_orders.awaiting_payment(tenant_a)
            payment = db.session.scalar(select(CardPayment))
            payment.expires_at = utcnow() + timedelta(minutes=11)
            db.session.commit()
            order = db.session.get(Order, card_order.order_id)
            buyer = factories.actor(tenant_a)
            assert card_order.session_id in payments.start_card_payment(buyer, order)
            payment = db.session.scalar(select(CardPayment))
            payment.expires_at = utcnow() + timedelta(minutes=9)
            db.session.commit()
            url = payments.start_card_payment(buyer, order)
            assert card_order.session_id not in url
            assert [p.attempt for p in payments.payments_of(order)] == [1, 2]
            expiry = db.session.scalar(
                select(QueuedJob).where(QueuedJob.kind == "card_payment.expire")
            )
            assert expiry.payload == {"session_id": card_order.session_id, "payment_id": payment.id}

    def test_card_payment_refuses_with_the_reason_when_it_cannot_start(
        self, stripe_fake, tenant_a, unscoped
    ):
        with unscoped():
            card_order = card_orders.awaiting_payment(tenant_a)
            order = db.session.get(Order, card_order.order_id)
            buyer = factories.actor(tenant_a)
            stripe_fake.pay(card_order.session_id, delayed=True)
            payments.sync_checkout_session(card_order.session_id)
            with pytest.raises(Conflict) as refused:
                payments.start_card_payment(buyer, order)
            assert refused.value.message == (
                f"Your payment of order {card_order.reference} is being processed; the order "
                "is confirmed as soon as it clears."
            )
            db.session.rollback()
            invoice_order = db.session.get(Order, factories.order(tenant_a))
            with pytest.raises(InvalidTransition) as refused:
                payments.start_card_payment(buyer, invoice_order)
            assert refused.value.message == (
                f"Order {invoice_order.reference} does not wait for a card payment."
            )
