"""Check-then-act under real concurrency: each race ends in exactly one outcome.

Every request runs in a thread of its own with its own test client and database connection,
all released at once by a barrier, against the lane's database: a SQLite file (where writers
queue on ``BEGIN IMMEDIATE``) or the throwaway PostgreSQL server (row locks). Whatever the
interleaving, one approval confirms, one cancellation cancels, one payment is recorded, the
last credit is spent once; the losers get the usual message, never a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from threading import Barrier

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from accounts.models import Organization
from catalog.models import Recommendation, ServletKind
from core import scheduler
from core.audit import AuditEvent
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import Role
from core.stripe_webhooks import process_events
from delivery.models import Engagement
from ordering.models import Entitlement, Order, OrderState
from tests import factories as people
from tests.catalog import factories as catalog_factories
from tests.conftest import sign_in
from tests.ordering import card_orders, factories

RACERS = 20

Request = Callable[[FlaskClient], int]


@pytest.fixture
def app_config(stripe_fake) -> dict[str, object]:
    return {
        **stripe_fake.app_config,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RACERS + 2, "max_overflow": 0},
    }


def race(app, requests: list[tuple[people.Person, Request]]) -> list[int]:
    """Run each (person, request) in its own thread, all at once; their status codes."""
    clients = [sign_in(app.test_client(), person) for person, _ in requests]
    barrier = Barrier(len(requests))

    def run(index: int) -> int:
        barrier.wait(timeout=30)
        return requests[index][1](clients[index])

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, range(len(requests))))


def post(path: str, **data: str) -> Request:
    return lambda client: client.post(path, data=data).status_code


def count(*criteria) -> int:
    return db.session.scalar(select(func.count()).where(*criteria))


def audits(action: str, order_id: int) -> int:
    return count(AuditEvent.action == action, AuditEvent.object_id == order_id)


def emails(subject: str) -> int:
    return count(OutboxEmail.subject == subject)


@pytest.fixture
def waiting_order(tenant_a, unscoped) -> tuple[int, str]:
    """An order on account above the customer's threshold: it waits for an approver."""
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        order_id = factories.order(tenant_a, quantity=2)
        return order_id, db.session.get(Order, order_id).reference


def test_twenty_simultaneous_approvals_confirm_once(app, tenant_a, unscoped, waiting_order):
    order_id, reference = waiting_order
    approver = tenant_a.people[Role.APPROVER]
    answers = race(app, [(approver, post(f"/orders/{order_id}/approve"))] * RACERS)
    assert set(answers) == {302}
    with unscoped():
        assert db.session.get(Order, order_id).state == OrderState.CONFIRMED
        assert audits("order.approved", order_id) == 1
        assert audits("order.confirmed", order_id) == 1
        assert emails(f"Order {reference} approved") == 1
        assert emails(f"Order {reference} confirmed") == 1
        assert count(Engagement.id.is_not(None)) == 2


def test_approvals_racing_rejections_decide_once(app, tenant_a, unscoped, waiting_order):
    order_id, reference = waiting_order
    approver = tenant_a.people[Role.APPROVER]
    requests = [(approver, post(f"/orders/{order_id}/approve"))] * (RACERS // 2) + [
        (approver, post(f"/orders/{order_id}/reject", reason="Not this quarter"))
    ] * (RACERS // 2)
    answers = race(app, requests)
    assert set(answers) == {302}
    with unscoped():
        state = db.session.get(Order, order_id).state
        approved, rejected = (
            emails(f"Order {reference} approved"),
            emails(f"Order {reference} rejected"),
        )
        assert (approved, rejected) in {(1, 0), (0, 1)}
        if approved:
            assert state == OrderState.CONFIRMED
            assert (audits("order.approved", order_id), audits("order.cancelled", order_id)) == (
                1,
                0,
            )
            assert count(Engagement.id.is_not(None)) == 2
        else:
            assert state == OrderState.CANCELLED
            assert (audits("order.approved", order_id), audits("order.cancelled", order_id)) == (
                0,
                1,
            )
            assert count(Engagement.id.is_not(None)) == 0


def test_approvals_racing_cancellations_cancel_once(app, tenant_a, unscoped, waiting_order):
    order_id, reference = waiting_order
    requests = [(tenant_a.people[Role.APPROVER], post(f"/orders/{order_id}/approve"))] * (
        RACERS // 2
    ) + [(tenant_a.people[Role.BUYER], post(f"/orders/{order_id}/cancel"))] * (RACERS // 2)
    answers = race(app, requests)
    assert set(answers) == {302}
    with unscoped():
        assert db.session.get(Order, order_id).state == OrderState.CANCELLED
        assert audits("order.cancelled", order_id) == 1
        assert emails(f"Order {reference} cancelled") == 1
        assert audits("order.approved", order_id) <= 1
        assert emails(f"Order {reference} confirmed") == audits("order.approved", order_id)


def test_twenty_cancellations_cancel_once(app, tenant_a, unscoped):
    with unscoped():
        order_id = factories.order(tenant_a)
        reference = db.session.get(Order, order_id).reference
    answers = race(app, [(tenant_a.people[Role.BUYER], post(f"/orders/{order_id}/cancel"))] * 20)
    assert set(answers) == {302}
    with unscoped():
        assert audits("order.cancelled", order_id) == 1
        assert emails(f"Order {reference} cancelled") == 1


def test_twenty_checkouts_of_one_cart_place_one_order(app, tenant_a, unscoped):
    buyer = tenant_a.people[Role.BUYER]
    with unscoped():
        factories.cart_line(tenant_a, quantity=2)
        data = {
            "checkout_token": factories.token(tenant_a),
            "terms_version": factories.accept(tenant_a),
            "payment_route": "invoice",
            "accept_terms": "y",
            "po_number": "PO-RACE",
        }
    answers = race(app, [(buyer, post("/checkout", **data))] * RACERS)
    assert set(answers) == {302}
    with unscoped():
        assert count(Order.id.is_not(None)) == 1
        assert count(Engagement.id.is_not(None)) == 2
        assert count(OutboxEmail.subject.like("%confirmed"), OutboxEmail.recipient == buyer.email)


def test_the_last_credit_is_spent_by_one_of_ten_checkouts(app, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a, kind=ServletKind.HEALTH_CHECK)
        factories.credits(tenant_a, quantity=1, kind=ServletKind.HEALTH_CHECK)
        customer = db.session.get(Organization, tenant_a.customer_id)
        buyers = [people.person(customer, Role.BUYER) for _ in range(10)]
        forms = []
        for buyer in buyers:
            shopper = replace(tenant_a, people={Role.BUYER: buyer})
            factories.cart_line(shopper, servlet_id)
            forms.append(
                {
                    "checkout_token": factories.token(shopper),
                    "terms_version": factories.accept(tenant_a),
                    "payment_route": "entitlement",
                    "accept_terms": "y",
                }
            )
    answers = race(app, [(b, post("/checkout", **f)) for b, f in zip(buyers, forms, strict=True)])
    assert sorted(answers) == [200] * 9 + [302]  # nine forms again, with the message
    with unscoped():
        assert count(Order.id.is_not(None)) == 1
        assert db.session.scalar(select(Entitlement.used)) == 1


def test_twenty_webhook_events_for_one_paid_session_record_one_payment(
    app, client, stripe_fake, tenant_a, unscoped
):
    with unscoped():
        card_order = card_orders.awaiting_payment(tenant_a)
    stripe_fake.pay(card_order.session_id)
    kinds = ["checkout.session.completed", "checkout.session.async_payment_succeeded"]
    events = [stripe_fake.event(kinds[n % 2], card_order.session_id) for n in range(RACERS)]

    def deliver(body_and_headers) -> int:
        body, headers = body_and_headers
        return lambda client: (
            client.post(
                "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
            ).status_code
        )

    answers = race(app, [(tenant_a.people[Role.BUYER], deliver(event)) for event in events])
    assert set(answers) == {200}
    with ThreadPoolExecutor(max_workers=2) as pool:  # two schedulers at once
        list(pool.map(lambda _: scheduler.run_job(app, PROCESS_EVENTS), range(2)))
    scheduler.drain(app)
    with unscoped():
        after = card_orders.snapshot(card_order.order_id)
        assert after.order_state == "confirmed"
        assert after.confirmation_emails == after.confirmed_audits == 1
        assert count(AuditEvent.action == "card_payment.paid") == 1


PROCESS_EVENTS = next(job for job in scheduler.jobs() if job.func is process_events)


def test_twenty_buyers_opening_a_recommendation_at_once_record_one_view(app, tenant_a, unscoped):
    """A page view (GET) that writes takes the write lock too."""
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a)
        recommendation_id = catalog_factories.recommendation(tenant_a, servlet_id)
    page = lambda client: client.get(f"/catalog/servlets/{servlet_id}").status_code  # noqa: E731
    answers = race(app, [(tenant_a.people[Role.BUYER], page)] * RACERS)
    assert set(answers) == {200}
    with unscoped():
        assert db.session.get(Recommendation, recommendation_id).state.value == "viewed"
        assert count(AuditEvent.action == "recommendation.viewed") == 1


def test_ten_buyers_checking_out_at_once_get_consecutive_order_numbers(app, tenant_a, unscoped):
    with unscoped():
        customer = db.session.get(Organization, tenant_a.customer_id)
        buyers = [people.person(customer, Role.BUYER) for _ in range(10)]
        forms = []
        for buyer in buyers:
            shopper = replace(tenant_a, people={**tenant_a.people, Role.BUYER: buyer})
            factories.cart_line(shopper)
            forms.append(
                {
                    "checkout_token": factories.token(shopper),
                    "terms_version": factories.accept(tenant_a),
                    "payment_route": "invoice",
                    "accept_terms": "y",
                }
            )
    answers = race(app, [(b, post("/checkout", **f)) for b, f in zip(buyers, forms, strict=True)])
    assert set(answers) == {302}
    with unscoped():
        assert sorted(db.session.scalars(select(Order.number))) == list(range(1, 11))
        assert sorted(db.session.scalars(select(Engagement.number))) == list(range(1, 11))
