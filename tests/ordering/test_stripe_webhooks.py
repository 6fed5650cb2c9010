"""``/webhooks/stripe`` against the fake Stripe: signatures, duplicates, order of arrival,
tenancy, and Stripe being unreachable while an event is handled."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import stripe_webhooks
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.queue import QueuedJob
from core.stripe_webhooks import StripeEvent
from ordering import payments
from ordering.models import Order, OrderState
from ordering.payment_models import CardPayment
from tests.ordering import card_orders
from tests.ordering.card_orders import deliver, snapshot
from tests.stripe_fake import sign


@pytest.fixture
def app_config(stripe_fake):
    return stripe_fake.app_config


@pytest.fixture
def card_order(tenant_a, unscoped):
    with unscoped():
        return card_orders.awaiting_payment(tenant_a, quantity=2)


def events_recorded(unscoped) -> int:
    with unscoped():
        return db.session.scalar(select(func.count()).select_from(StripeEvent))


def test_the_same_webhook_five_times_yields_one_payment_and_one_confirmation(
    client, stripe_fake, card_order, unscoped, run_jobs
):
    stripe_fake.pay(card_order.session_id)
    body, headers = stripe_fake.event("checkout.session.completed", card_order.session_id)
    answers = []
    for _ in range(5):
        response = client.post(
            "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
        )
        answers.append((response.status_code, response.json["status"]))
        run_jobs()
    assert answers == [(200, "queued")] + [(200, "duplicate")] * 4
    with unscoped():
        after = snapshot(card_order.order_id)
        paid = db.session.scalars(select(CardPayment)).all()
    assert after.order_state == "confirmed"
    assert after.payments == ((1, "paid", 0, False),)
    assert after.engagements == 2  # one per unit
    assert after.confirmation_emails == 1
    assert after.confirmed_audits == 1
    assert len(paid) == 1
    assert paid[0].payment_intent_id is not None
    assert events_recorded(unscoped) == 1


def test_five_different_deliveries_of_the_same_news_still_confirm_once(
    client, stripe_fake, card_order, unscoped
):
    """Stripe sends completed and, for some methods, async_payment_succeeded as well."""
    stripe_fake.pay(card_order.session_id)
    for event_type in ["checkout.session.completed"] * 3 + [
        "checkout.session.async_payment_succeeded"
    ] * 2:
        assert deliver(client, stripe_fake, event_type, card_order.session_id).status_code == 200
    with unscoped():
        after = snapshot(card_order.order_id)
    assert (after.order_state, after.confirmation_emails, after.engagements) == ("confirmed", 1, 2)
    assert events_recorded(unscoped) == 5


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda body: sign(body, "whsec_someone_else"), id="wrong-secret"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 3600), id="stale"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) + 3600), id="future"),
        pytest.param(lambda body: sign(body + " "), id="other-body"),
        pytest.param(lambda body: "t=123,v1=deadbeef", id="garbage"),
        pytest.param(lambda body: "", id="missing"),
    ],
)
def test_a_bad_signature_or_stale_timestamp_answers_400_and_changes_nothing(
    client, stripe_fake, card_order, unscoped, signature
):
    stripe_fake.pay(card_order.session_id)
    body, _ = stripe_fake.event("checkout.session.completed", card_order.session_id)
    with unscoped():
        before = snapshot(card_order.order_id), card_orders.audit_count()
    response = client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature(body.decode())},
        content_type="application/json",
    )
    assert response.status_code == 400
    with unscoped():
        assert (snapshot(card_order.order_id), card_orders.audit_count()) == before
    assert events_recorded(unscoped) == 0
    assert not [r for r in stripe_fake.requests if r.method == "GET"]  # nothing re-read


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps({"id": "evt_1", "type": "checkout.session.completed"}),
        json.dumps({"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {}}}),
        json.dumps({"id": 7, "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}),
        "\u202e😀",
    ],
)
def test_a_malformed_body_answers_400_even_when_correctly_signed(
    client, stripe_fake, unscoped, body
):
    response = client.post(
        "/webhooks/stripe",
        data=body.encode(),
        headers={"Stripe-Signature": sign(body)},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert events_recorded(unscoped) == 0


def test_an_unknown_event_type_is_acknowledged_and_ignored(
    client, stripe_fake, card_order, unscoped
):
    response = deliver(client, stripe_fake, "customer.created", card_order.session_id)
    assert response.status_code == 200
    assert card_orders.last_outcome(unscoped) == (
        "ignored: no area handles customer.created for order_payment"
    )
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "awaiting_payment"
    assert events_recorded(unscoped) == 1


def test_without_a_webhook_secret_the_endpoint_is_not_there(client, app, stripe_fake):
    app.config["STRIPE_WEBHOOK_SECRET"] = ""
    body, headers = stripe_fake.event("checkout.session.completed", "cs_1")
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 404


def test_a_session_of_someone_else_changes_nothing(
    client, stripe_fake, card_order, tenant_b, unscoped
):
    """A paid session we never opened, whose metadata names our order, confirms nothing."""
    with unscoped():
        order = db.session.get(Order, card_order.order_id)
        forged = stripe_fake.add_session(
            {"order_id": str(order.id), "vendor_id": str(tenant_b.vendor_id)}, order.total_minor
        )
        before = snapshot(card_order.order_id)
    stripe_fake.pay(forged)
    response = deliver(client, stripe_fake, "checkout.session.completed", forged)
    assert response.status_code == 200
    assert card_orders.last_outcome(unscoped).startswith("ignored")
    with unscoped():
        assert snapshot(card_order.order_id) == before


def test_a_webhook_for_another_vendors_order_changes_nothing(
    client, stripe_fake, card_order, tenant_b, unscoped
):
    """Vendor B's session is paid, but Stripe's copy of it names vendor A's order: neither
    order moves (the session does not belong to the order it names)."""
    with unscoped():
        other = card_orders.awaiting_payment(tenant_b)
        a_before, b_before = snapshot(card_order.order_id), snapshot(other.order_id)
    stripe_fake.sessions[other.session_id]["metadata"] = {
        "order_id": str(card_order.order_id),
        "vendor_id": str(db_vendor(unscoped, card_order.order_id)),
    }
    stripe_fake.pay(other.session_id)
    response = deliver(client, stripe_fake, "checkout.session.completed", other.session_id)
    assert response.status_code == 200
    with unscoped():
        assert snapshot(card_order.order_id) == a_before
        assert snapshot(other.order_id) == b_before


def test_an_ignored_event_is_logged_and_audited_for_the_vendor_of_the_payment_it_names(
    client, stripe_fake, card_order, tenant_b, unscoped, caplog
):
    with unscoped():
        other = card_orders.awaiting_payment(tenant_b)
    metadata = {
        "order_id": str(card_order.order_id),
        "vendor_id": str(db_vendor(unscoped, card_order.order_id)),
    }
    stripe_fake.sessions[other.session_id]["metadata"] = metadata
    stripe_fake.pay(other.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", other.session_id)
    why = "session belongs to another order"
    # a session without a purpose goes to billing too, which leaves it to ordering
    assert card_orders.last_outcome(unscoped).endswith(f"ignored: {why}")
    assert f"Stripe event ignored: {why} " in caplog.text
    with unscoped():
        ignored = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "stripe.event_ignored")
        )
    assert (ignored.vendor_id, ignored.object_type) == (tenant_b.vendor_id, "stripe_event")
    assert ignored.changes == {"why": why, "session": other.session_id, "metadata": metadata}


def db_vendor(unscoped, order_id: int) -> int:
    with unscoped():
        return db.session.get(Order, order_id).vendor_id


def test_completed_after_expired_still_confirms_when_stripe_says_paid(
    client, stripe_fake, card_order, unscoped
):
    stripe_fake.pay(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.expired", card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        after = snapshot(card_order.order_id)
    assert after.order_state == "confirmed"
    assert after.payments == ((1, "paid", 0, False),)


def test_expired_after_completed_changes_nothing(client, stripe_fake, card_order, unscoped):
    stripe_fake.pay(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        confirmed = snapshot(card_order.order_id), card_orders.audit_count()
    stripe_fake.sessions[card_order.session_id]["status"] = "expired"  # even if Stripe said so
    deliver(client, stripe_fake, "checkout.session.expired", card_order.session_id)
    with unscoped():
        assert (snapshot(card_order.order_id), card_orders.audit_count()) == confirmed


def test_the_event_is_a_trigger_and_stripes_current_word_decides(
    client, stripe_fake, card_order, unscoped
):
    """An event saying 'completed' for a session Stripe still reports open confirms nothing."""
    body = json.dumps(
        {
            "id": "evt_forged_content",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {"object": {"id": card_order.session_id, "payment_status": "paid"}},
        }
    )
    response = client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": sign(body)},
        content_type="application/json",
    )
    assert response.status_code == 200
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "awaiting_payment"


def test_an_expired_session_leaves_the_order_waiting_for_another_try(
    client, stripe_fake, card_order, unscoped
):
    stripe_fake.expire(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.expired", card_order.session_id)
    with unscoped():
        after = snapshot(card_order.order_id)
    assert after.order_state == "awaiting_payment"
    assert after.payments == ((1, "expired", 0, False),)


def test_a_delayed_payment_confirms_when_it_clears(client, stripe_fake, card_order, unscoped):
    stripe_fake.pay(card_order.session_id, delayed=True)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        assert snapshot(card_order.order_id).payments == ((1, "processing", 0, False),)
        assert snapshot(card_order.order_id).order_state == "awaiting_payment"
    stripe_fake.settle(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.async_payment_succeeded", card_order.session_id)
    with unscoped():
        after = snapshot(card_order.order_id)
    assert (after.order_state, after.payments) == ("confirmed", ((1, "paid", 0, False),))


def test_a_delayed_payment_that_fails_leaves_the_order_unpaid(
    client, stripe_fake, card_order, unscoped
):
    stripe_fake.pay(card_order.session_id, delayed=True)
    stripe_fake.settle(card_order.session_id, succeeded=False)
    deliver(client, stripe_fake, "checkout.session.async_payment_failed", card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        after = snapshot(card_order.order_id)
    assert (after.order_state, after.payments) == ("awaiting_payment", ((1, "failed", 0, False),))


def test_when_stripe_is_unreachable_the_event_is_kept_and_processed_later(
    client, stripe_fake, card_order, unscoped, run_jobs
):
    stripe_fake.pay(card_order.session_id)
    stripe_fake.down = True
    response = deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    assert (response.status_code, response.json["status"]) == (200, "queued")
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "awaiting_payment"
        event = db.session.scalar(select(StripeEvent))
        assert (event.done_at, event.attempts) == (None, 1)
        assert event.last_error
        event.due_at = utcnow()  # its back-off has passed
        db.session.commit()
    stripe_fake.down = False
    run_jobs()
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "confirmed"
    assert events_recorded(unscoped) == 1


def test_a_payment_for_an_order_cancelled_meanwhile_is_refunded(
    client, app, stripe_fake, card_order, tenant_a, unscoped
):
    from ordering import orders
    from tests.ordering import factories

    with unscoped():
        orders.cancel_order(
            factories.actor(tenant_a), db.session.get(Order, card_order.order_id), ""
        )
    # The cancellation closed the session at Stripe; say the buyer had paid a moment before.
    stripe_fake.sessions[card_order.session_id]["status"] = "open"
    stripe_fake.pay(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    with unscoped():
        after = snapshot(card_order.order_id)
    assert after.order_state == "cancelled"
    assert after.payments == ((1, "paid", 0, True),)
    (refund_request,) = [p for p in stripe_fake.posts() if p.path == "/v1/refunds"]
    assert refund_request.params["reason"] == "requested_by_customer"
    assert len(stripe_fake.refunds) == 1
    deliver(client, stripe_fake, "charge.refunded", stripe_fake.charge_of(card_order.session_id))
    with unscoped():
        assert snapshot(card_order.order_id).payments[0][2] > 0


# --- any order of arrival converges ---------------------------------------------------------

STRIPE_OUTCOMES = {
    # What Stripe finally says, and the events it sent on the way there.
    "paid": ["checkout.session.completed", "checkout.session.completed"],
    "paid, expired notice too": ["checkout.session.completed", "checkout.session.expired"],
    "paid late": [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_succeeded",
    ],
    "failed late": ["checkout.session.completed", "checkout.session.async_payment_failed"],
    "expired": ["checkout.session.expired", "checkout.session.expired"],
    "paid and refunded": ["checkout.session.completed", "charge.refunded", "charge.refunded"],
}


def _final_stripe_state(fake, session_id: str, outcome: str) -> str | None:
    """Put the fake in the outcome's final state; the charge id when there is one."""
    if outcome == "expired":
        fake.expire(session_id)
        return None
    charge = fake.pay(session_id, delayed=outcome in ("paid late", "failed late"))
    if outcome == "paid late":
        fake.settle(session_id)
    if outcome == "failed late":
        fake.settle(session_id, succeeded=False)
    if outcome == "paid and refunded":
        fake.refund_in_dashboard(charge)
    return charge


def _run(client, fake, tenant, unscoped, outcome: str, order_of_events: list[int]):
    with unscoped():
        card_order = card_orders.awaiting_payment(tenant)
    charge = _final_stripe_state(fake, card_order.session_id, outcome)
    events = STRIPE_OUTCOMES[outcome]
    for index in order_of_events:
        event_type = events[index]
        object_id = charge if event_type.startswith("charge.") else card_order.session_id
        response = deliver(client, fake, event_type, object_id)
        assert response.status_code == 200, response.json
    with unscoped():
        total = db.session.get(Order, card_order.order_id).total_minor
        return snapshot(card_order.order_id), total


EXPECTED = {
    "paid": ("confirmed", "paid", 0),
    "paid, expired notice too": ("confirmed", "paid", 0),
    "paid late": ("confirmed", "paid", 0),
    "failed late": ("awaiting_payment", "failed", 0),
    "expired": ("awaiting_payment", "expired", 0),
    "paid and refunded": ("confirmed", "paid", "full"),
}


@st.composite
def outcome_and_order(draw):
    outcome = draw(st.sampled_from(sorted(STRIPE_OUTCOMES)))
    order = draw(st.permutations(range(len(STRIPE_OUTCOMES[outcome]))))
    return outcome, order


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=outcome_and_order())
def test_events_in_any_order_converge_to_the_same_final_state(
    client, stripe_fake, tenant_a, unscoped, case
):
    outcome, order_of_events = case
    result, total = _run(client, stripe_fake, tenant_a, unscoped, outcome, list(order_of_events))
    state, payment_state, refunded = EXPECTED[outcome]
    assert result.order_state == state
    assert [p[1] for p in result.payments] == [payment_state]
    assert result.payments[0][2] == (total if refunded == "full" else 0)
    assert result.confirmation_emails == (1 if state == "confirmed" else 0)
    assert result.confirmed_audits == (1 if state == "confirmed" else 0)
    assert result.engagements == (1 if state == "confirmed" else 0)


def test_orders_of_one_customer_never_disturb_each_other(client, stripe_fake, tenant_a, unscoped):
    with unscoped():
        first = card_orders.awaiting_payment(tenant_a)
        second = card_orders.awaiting_payment(tenant_a)
    stripe_fake.pay(second.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", second.session_id)
    with unscoped():
        assert snapshot(first.order_id).order_state == OrderState.AWAITING_PAYMENT.value
        assert snapshot(second.order_id).order_state == OrderState.CONFIRMED.value


def test_a_refund_stripe_refuses_is_recorded_rather_than_retried_forever(
    client, stripe_fake, card_order, tenant_a, unscoped
):
    """Paid after the order was cancelled, but already refunded in the dashboard: Stripe
    refuses our refund, and the refusal is audited rather than retried."""
    from ordering import orders
    from tests.ordering import factories

    with unscoped():
        orders.cancel_order(
            factories.actor(tenant_a), db.session.get(Order, card_order.order_id), ""
        )
    stripe_fake.sessions[card_order.session_id]["status"] = "open"
    charge = stripe_fake.pay(card_order.session_id)
    stripe_fake.refund_in_dashboard(charge)
    response = deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    assert response.status_code == 200
    assert card_orders.last_outcome(unscoped).endswith(
        "refund requested: Paid after the order was cancelled."
    )
    with unscoped():
        refused = db.session.scalar(
            select(func.count()).where(AuditEvent.action == "card_payment.refund_refused")
        )
        assert refused == 1
        assert db.session.scalar(select(QueuedJob.done_at)) is not None
    deliver(client, stripe_fake, "charge.refunded", charge)
    with unscoped():
        after = snapshot(card_order.order_id)
        total = db.session.get(Order, card_order.order_id).total_minor
    assert after.order_state == "cancelled"
    assert after.payments == ((1, "paid", total, False),)


@pytest.fixture
def invoice_area():
    """A second area following checkout sessions for a purpose of its own, as billing does
    (billing's own handler stands aside meanwhile)."""
    seen: list[str] = []

    def handle(event) -> str:
        seen.append(event.object_id)
        return "invoice payment handled"

    key = ("checkout.session.completed", "invoice_payment")
    billing_handler = stripe_webhooks._handlers.pop(key, None)
    stripe_webhooks.handles("invoice_payment", "checkout.session.completed")(handle)
    yield seen
    del stripe_webhooks._handlers[key]
    if billing_handler is not None:
        stripe_webhooks._handlers[key] = billing_handler


def test_two_areas_follow_one_event_type_each_for_its_own_purpose(
    client, stripe_fake, card_order, unscoped, invoice_area
):
    invoice_session = stripe_fake.add_session({"purpose": "invoice_payment"}, 12_000)
    stripe_fake.pay(invoice_session)
    deliver(client, stripe_fake, "checkout.session.completed", invoice_session)
    assert invoice_area == [invoice_session]
    assert card_orders.last_outcome(unscoped) == "invoice payment handled"
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "awaiting_payment"

    stripe_fake.pay(card_order.session_id)
    deliver(client, stripe_fake, "checkout.session.completed", card_order.session_id)
    assert invoice_area == [invoice_session]  # the order payment went to ordering alone
    with unscoped():
        assert snapshot(card_order.order_id).order_state == "confirmed"


def test_an_event_for_a_purpose_nobody_owns_is_recorded_and_acknowledged(
    client, stripe_fake, unscoped
):
    gift = stripe_fake.add_session({"purpose": "gift_card"}, 5_000)
    stripe_fake.pay(gift)
    response = deliver(client, stripe_fake, "checkout.session.completed", gift)
    assert (response.status_code, response.json["status"]) == (200, "queued")
    assert card_orders.last_outcome(unscoped) == (
        "ignored: no area handles checkout.session.completed for gift_card"
    )
    assert events_recorded(unscoped) == 1
    assert not [r for r in stripe_fake.requests if r.method == "GET"]  # nobody re-read it


def test_an_event_type_nobody_follows_is_recorded_and_acknowledged(client, stripe_fake, unscoped):
    """An object with no purpose in its metadata goes to every area following its type."""
    session = stripe_fake.add_session({}, 5_000)
    response = deliver(client, stripe_fake, "customer.created", session)
    assert (response.status_code, response.json["status"]) == (200, "queued")
    assert card_orders.last_outcome(unscoped) == "ignored: unhandled event type"


def test_a_second_handler_for_one_event_type_and_purpose_is_refused(invoice_area):
    key = ("checkout.session.completed", "invoice_payment")
    registered = stripe_webhooks._handlers[key]
    follow = stripe_webhooks.handles("invoice_payment", "checkout.session.completed")
    with pytest.raises(RuntimeError) as refused:
        follow(lambda event: "another")
    assert str(refused.value) == (
        "two handlers for Stripe event checkout.session.completed (invoice_payment)"
    )
    assert follow(registered) is registered  # the same handler twice is one registration
    assert stripe_webhooks._handlers[key] is registered


def test_each_stripe_object_that_changes_nothing_is_named_in_the_outcome_and_audited(
    app, stripe_fake, card_order, tenant_a, unscoped
):
    """What the scheduler's handlers answer for objects that are not ours or make no sense,
    each audited under the vendor it concerns (none when nothing of ours is named)."""
    vendor = db_vendor(unscoped, card_order.order_id)
    ours = stripe_fake.pay(card_order.session_id)
    foreign = stripe_fake.add_session({"order_id": "999999"}, 5_000)
    foreign_charge = stripe_fake.pay(foreign)
    intentless = stripe_fake.pay(stripe_fake.add_session({}, 5_000))
    stripe_fake.charges[intentless]["payment_intent"] = None
    with app.app_context():
        assert payments.sync_checkout_session(card_order.session_id).endswith("order confirmed")
        stripe_fake.charges[ours]["currency"] = "eur"
        del stripe_fake.sessions[card_order.session_id]
        outcomes = [
            payments.sync_checkout_session(card_order.session_id),
            payments.sync_checkout_session(foreign),
            payments.sync_charge("ch_unknown"),
            payments.sync_charge(intentless),
            payments.sync_charge(foreign_charge),
            payments.sync_charge(ours),
        ]
    with unscoped():
        payment_id = db.session.scalar(select(CardPayment.id))
        audited = db.session.execute(
            select(AuditEvent.vendor_id, AuditEvent.object_type, AuditEvent.changes)
            .where(AuditEvent.action == "stripe.event_ignored")
            .order_by(AuditEvent.id)
        ).all()
    whys = {
        "session": "Stripe does not know this session",
        "foreign": "no payment of ours for this session",
        "unknown charge": "Stripe does not know this charge",
        "intentless": "charge without a payment intent",
        "foreign charge": "no payment of ours for this charge",
        "currency": "charge currency differs",
    }
    assert outcomes == [f"ignored: {why}" for why in whys.values()]
    assert [tuple(row) for row in audited] == [
        (vendor, "stripe_event", {"why": whys["session"], "session": card_order.session_id}),
        (None, "stripe_event", {"why": whys["foreign"], "session": foreign}),
        (None, "stripe_event", {"why": whys["unknown charge"], "charge": "ch_unknown"}),
        (None, "stripe_event", {"why": whys["intentless"], "charge": intentless}),
        # a charge whose payment we never saw: its session is followed first
        (None, "stripe_event", {"why": whys["foreign"], "session": foreign}),
        (None, "stripe_event", {"why": whys["foreign charge"], "charge": foreign_charge}),
        (vendor, "stripe_event", {"why": whys["currency"], "payment_id": payment_id}),
    ]


def event_body(**change) -> str:
    event = {"id": "evt_1", "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}
    return json.dumps({**event, **change})


@pytest.mark.parametrize(
    ("body", "seconds_ahead", "answer"),
    [
        ("{not json", 0, (400, {"error": "body is not a JSON event"})),
        (event_body(data=None), 0, (400, {"error": "not a Stripe event"})),
        (event_body(id=""), 0, (400, {"error": "not a Stripe event"})),
        (event_body(id="e" * 256), 0, (400, {"error": "not a Stripe event"})),
        (event_body(), 3600, (400, {"error": "signature: timestamp is in the future"})),
        (event_body(id="e"), 0, (200, {"status": "queued"})),
        (event_body(id="e" * 255), 0, (200, {"status": "queued"})),
    ],
)
def test_the_webhook_tells_stripe_why_it_refuses_a_correctly_signed_body(
    client, stripe_fake, body, seconds_ahead, answer
):
    signature = sign(body, timestamp=int(time.time()) + seconds_ahead)
    response = client.post(
        "/webhooks/stripe",
        data=body.encode(),
        headers={"Stripe-Signature": signature},
        content_type="application/json",
    )
    assert (response.status_code, response.json) == answer


def test_a_body_signed_with_another_secret_is_refused_as_a_bad_signature(client, stripe_fake):
    body = event_body()
    response = client.post(
        "/webhooks/stripe",
        data=body.encode(),
        headers={"Stripe-Signature": sign(body, secret="whsec_someone_else")},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json["error"] == (
        "signature: No signatures found matching the expected signature for payload"
    )


def test_an_event_is_recorded_once_with_what_the_scheduler_needs(app, unscoped):
    event = {
        "id": "evt_live",
        "type": "checkout.session.completed" + "." * 100,
        "livemode": True,
        "data": {"object": {"id": "cs_1", "metadata": {"purpose": "p" * 50}}},
    }
    with app.app_context():
        assert stripe_webhooks.record(event) is True
        assert stripe_webhooks.record(event) is False
    with unscoped():
        (recorded,) = db.session.scalars(select(StripeEvent)).all()
    assert (recorded.event_id, recorded.object_id, recorded.livemode) == ("evt_live", "cs_1", True)
    assert (recorded.type, recorded.purpose) == (event["type"][:100], "p" * 40)
    assert (recorded.attempts, recorded.outcome, recorded.done_at) == (0, "", None)
    assert recorded.due_at <= utcnow()


@pytest.mark.parametrize(
    ("session", "intent_status", "state"),
    [
        ({"payment_status": "paid", "status": "complete"}, None, "paid"),
        ({"payment_status": "no_payment_required", "status": "complete"}, None, "paid"),
        ({"payment_status": "unpaid", "status": "expired"}, None, "expired"),
        ({"payment_status": "unpaid", "status": "open"}, None, None),
        ({"payment_status": "unpaid", "status": "complete"}, None, "processing"),
        ({"payment_status": "unpaid", "status": "complete"}, "processing", "processing"),
        ({"payment_status": "unpaid", "status": "complete"}, "requires_payment_method", "failed"),
        ({"payment_status": "unpaid", "status": "complete"}, "canceled", "failed"),
    ],
)
def test_where_stripes_word_on_a_session_puts_its_payment(
    app, stripe_fake, session, intent_status, state
):
    """The intent is asked for only when the session is complete but not paid (a debit)."""
    if intent_status is not None:
        stripe_fake.intents["pi_1"] = {"id": "pi_1", "object": "payment_intent"}
        stripe_fake.intents["pi_1"]["status"] = intent_status
        session = {**session, "payment_intent": {"id": "pi_1", "object": "payment_intent"}}
    with app.app_context():
        found = payments._state_of(session)
    assert (found.value if found else None) == state
