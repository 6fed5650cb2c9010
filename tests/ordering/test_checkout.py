"""Cart and checkout through the pages: intake answers, terms, PO number, catalog prices,
and the bad input the issue lists (tampered price, quantity or servlet id; wrong or missing
answers; a servlet retired or withdrawn while it sat in the cart)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from catalog import catalogs, servlets
from catalog.models import (
    Catalog,
    Recommendation,
    RecommendationState,
    Servlet,
    ServletVersion,
    VersionState,
)
from core.audit import AuditEvent
from core.errors import Conflict, NotAllowed, ServiceError
from core.extensions import db
from core.mail import OutboxEmail
from core.money import Money
from core.permissions import Role
from core.sequences import SequenceCounter
from delivery.models import Engagement, EngagementState
from ordering import checkout
from ordering.models import Cart, CartLine, Order, OrderLine, OrderState, PaymentRoute
from tests.catalog import factories as catalog_factories
from tests.conftest import sign_in
from tests.ordering import factories
from tests.ordering.factories import ALL_QUESTIONS, GOOD_ANSWERS


@pytest.fixture
def offered(tenant_a, unscoped):
    """A servlet with a question of every type, in a catalog at a $4,200 override price."""
    with unscoped():
        servlet_id = catalog_factories.servlet(
            tenant_a, title="CRM Health Check", intake_questions=ALL_QUESTIONS
        )
        catalog_id = catalog_factories.catalog(
            tenant_a, [servlet_id], prices={servlet_id: Money(420_000, "USD")}
        )
    return servlet_id, catalog_id


def checkout_form(client) -> tuple[str, dict[str, str]]:
    """The checkout page's hidden fields and the intake field names, as a browser sees them."""
    html = client.get("/checkout").data.decode()
    token = re.search(r'name="checkout_token" type="hidden" value="([^"]+)"', html).group(1)
    terms = re.search(r'name="terms_version" type="hidden" value="([^"]*)"', html).group(1)
    return html, {"checkout_token": token, "terms_version": terms}


def intake(line_id: int, answers: dict[int, str]) -> dict[str, str]:
    return {f"intake-{line_id}-{index}": value for index, value in answers.items()}


def only_line_id(unscoped) -> int:
    with unscoped():
        return db.session.scalar(select(CartLine.id))


def count(unscoped, model) -> int:
    with unscoped():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_buyer_orders_on_account_with_a_po_number_and_intake_answers(
    client, tenant_a, offered, unscoped
):
    servlet_id, catalog_id = offered
    buyer = tenant_a.people[Role.BUYER]
    sign_in(client, buyer)
    page = client.get(f"/catalog/servlets/{servlet_id}").data.decode()
    assert 'data-testid="order-button"' in page
    added = client.post(
        "/cart/add", data={"servlet_id": servlet_id, "catalog_id": catalog_id, "quantity": 2}
    )
    assert added.status_code == 302
    assert "$8,400.00" in client.get("/cart").data.decode()
    html, hidden = checkout_form(client)
    line_id = only_line_id(unscoped)
    for question in ALL_QUESTIONS:
        assert question["label"] in html
    response = client.post(
        "/checkout",
        data={
            **hidden,
            **intake(line_id, GOOD_ANSWERS),
            "po_number": "PO-2026-0042",
            "payment_route": "invoice",
            "accept_terms": "y",
        },
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 302
    order_page = client.get(response.headers["Location"]).data.decode()
    assert "Confirmed" in order_page
    assert "PO-2026-0042" in order_page
    assert "Faster onboarding" in order_page
    with unscoped():
        order = db.session.scalar(select(Order))
        line = db.session.scalar(select(OrderLine))
        assert order.state == OrderState.CONFIRMED
        assert order.total == Money(840_000, "USD")
        assert order.terms_accepted_by_id == buyer.user_id
        assert order.terms_accepted_ip == "203.0.113.9"
        assert order.terms_version == "1"
        assert line.unit_price == Money(420_000, "USD")
        assert line.quantity == 2
        assert line.servlet_version_id == db.session.scalar(
            select(ServletVersion.id).where(
                ServletVersion.servlet_id == servlet_id,
                ServletVersion.state == VersionState.PUBLISHED,
            )
        )
        answers = {a["label"]: a["answer"] for a in line.intake_answers}
        assert answers == {
            "Goals": "Faster onboarding",
            "Users": "250",
            "Preferred start": "2030-01-15",
            "Region": "EU",
            "SSO in place": "Yes",
            "Anything else": "",
        }
        assert db.session.scalar(select(func.count()).select_from(CartLine)) == 0
        engagements = db.session.scalars(select(Engagement)).all()
        assert [e.state for e in engagements] == [EngagementState.REQUESTED] * 2
        assert db.session.scalar(
            select(OutboxEmail).where(OutboxEmail.recipient == buyer.email)
        ).subject.endswith("confirmed")
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert {"cart.added", "order.placed", "order.confirmed"} <= set(actions)


def test_submitted_prices_are_ignored_and_the_catalog_price_at_order_time_wins(
    client, tenant_a, offered, unscoped
):
    servlet_id, catalog_id = offered
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post(
        "/cart/add",
        data={"servlet_id": servlet_id, "catalog_id": catalog_id, "price": "1", "price_minor": 1},
    )
    with unscoped():  # the vendor raises the price while the servlet sits in the cart
        catalog = db.session.get(Catalog, catalog_id)
        item = catalog_factories.item_id(catalog_id, servlet_id)
        catalogs.set_price_override(
            catalog_factories.actor(tenant_a), catalog, item, Money(450_000, "USD")
        )
    _, hidden = checkout_form(client)
    client.post(
        "/checkout",
        data={
            **hidden,
            **intake(only_line_id(unscoped), GOOD_ANSWERS),
            "payment_route": "invoice",
            "accept_terms": "y",
            "unit_price_minor": "1",
            "total_minor": "1",
            "total": "0.01",
            "quantity": "20",
        },
    )
    with unscoped():
        order = db.session.scalar(select(Order))
        assert order.total == Money(450_000, "USD")
        assert db.session.scalar(select(OrderLine.quantity)) == 1


@pytest.mark.parametrize("quantity", ["0", "-5", "21", "1000000000000000000000", "1.5", "x"])
def test_a_tampered_quantity_is_refused_with_a_message(
    client, tenant_a, offered, quantity, unscoped
):
    servlet_id, _ = offered
    sign_in(client, tenant_a.people[Role.BUYER])
    response = client.post("/cart/add", data={"servlet_id": servlet_id, "quantity": quantity})
    assert response.status_code == 302
    assert count(unscoped, CartLine) == 0
    client.post("/cart/add", data={"servlet_id": servlet_id, "quantity": 1})
    line_id = only_line_id(unscoped)
    client.post(f"/cart/lines/{line_id}", data={"quantity": quantity})
    page = client.get("/cart").data.decode()
    assert "from 1 to 20" in page
    with unscoped():
        assert db.session.get(CartLine, line_id).quantity == 1


def test_a_servlet_id_the_customer_is_not_offered_is_not_added(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        foreign = factories.offered_servlet(tenant_b)
        unlisted = catalog_factories.servlet(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    for servlet_id in (foreign, unlisted, 999_999, -1):
        response = client.post("/cart/add", data={"servlet_id": servlet_id})
        assert response.status_code == 302
    assert "not offered in your catalogs" in client.get("/catalog").data.decode()
    assert count(unscoped, CartLine) == 0


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (0, "", "This answer is required."),
        (1, "lots", "Enter a number"),
        (1, "1e309", "Enter a number"),
        (1, "NaN", "Enter a number"),
        (1, "1e-1000020", "Enter a number"),
        (1, "0.0000001", "at most 6 decimals"),
        (1, "-1000000000000", "at most 12 digits"),
        (2, "9999-12-31", "YYYY-MM-DD"),
        (2, "15/01/2030", "YYYY-MM-DD"),
        (3, "APAC", "Choose one of the options"),
        (4, "maybe", "Answer yes or no"),
        (0, "ü" * 2001, "At most 2,000 characters"),
    ],
)
def test_a_wrong_or_missing_intake_answer_is_shown_inline_and_nothing_is_ordered(
    client, tenant_a, offered, unscoped, index, value, message
):
    servlet_id, _ = offered
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post("/cart/add", data={"servlet_id": servlet_id})
    _, hidden = checkout_form(client)
    line_id = only_line_id(unscoped)
    answers = {**GOOD_ANSWERS, index: value}
    response = client.post(
        "/checkout",
        data={
            **hidden,
            **intake(line_id, answers),
            "po_number": "PO-1",
            "payment_route": "invoice",
            "accept_terms": "y",
        },
    )
    html = response.data.decode()
    assert response.status_code == 200
    assert message in html
    assert "is-invalid" in html
    assert 'value="PO-1"' in html  # nothing the customer typed is lost
    assert count(unscoped, Order) == 0
    assert count(unscoped, CartLine) == 1


def test_terms_must_be_accepted_and_current(client, tenant_a, offered, unscoped):
    servlet_id, _ = offered
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post("/cart/add", data={"servlet_id": servlet_id})
    _, hidden = checkout_form(client)
    data = {**hidden, **intake(only_line_id(unscoped), GOOD_ANSWERS), "payment_route": "invoice"}
    refused = client.post("/checkout", data=data)
    assert "Accept the terms of service" in refused.data.decode()
    stale = client.post("/checkout", data={**data, "accept_terms": "y", "terms_version": "0"})
    assert "terms of service changed" in stale.data.decode()
    assert count(unscoped, Order) == 0


@pytest.mark.parametrize("withdrawal", ["retired", "removed from the catalog", "unassigned"])
def test_a_servlet_withdrawn_while_in_the_cart_is_refused_and_the_cart_is_kept(
    client, tenant_a, offered, unscoped, withdrawal
):
    servlet_id, catalog_id = offered
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post("/cart/add", data={"servlet_id": servlet_id})
    _, hidden = checkout_form(client)
    with unscoped():
        admin = catalog_factories.actor(tenant_a)
        catalog = db.session.get(Catalog, catalog_id)
        if withdrawal == "retired":
            servlets.retire_servlet(admin, db.session.get(Servlet, servlet_id))
        elif withdrawal == "unassigned":
            catalogs.assign_customers(admin, catalog, set())
        else:
            catalogs.remove_item(admin, catalog, catalog_factories.item_id(catalog_id, servlet_id))
    response = client.post(
        "/checkout",
        data={
            **hidden,
            **intake(only_line_id(unscoped), GOOD_ANSWERS),
            "payment_route": "invoice",
            "accept_terms": "y",
        },
    )
    html = response.data.decode()
    assert "“CRM Health Check” is no longer offered to you" in html
    assert count(unscoped, Order) == 0
    assert count(unscoped, CartLine) == 1
    cart = client.get("/cart").data.decode()
    assert "no longer offered" in cart
    assert 'data-testid="checkout"' not in cart


def test_submitting_the_same_checkout_twice_or_from_two_tabs_places_one_order(
    client, app, tenant_a, offered, unscoped
):
    servlet_id, _ = offered
    buyer = tenant_a.people[Role.BUYER]
    sign_in(client, buyer)
    client.post("/cart/add", data={"servlet_id": servlet_id})
    _, first_tab = checkout_form(client)
    _, second_tab = checkout_form(client)
    assert first_tab == second_tab
    data = {
        **intake(only_line_id(unscoped), GOOD_ANSWERS),
        "payment_route": "invoice",
        "accept_terms": "y",
    }
    answers = [client.post("/checkout", data={**first_tab, **data}) for _ in range(3)]
    other_client = sign_in(app.test_client(), buyer)
    answers.append(other_client.post("/checkout", data={**second_tab, **data}))
    locations = {response.headers["Location"] for response in answers}
    assert len(locations) == 1
    assert count(unscoped, Order) == 1
    with unscoped():
        assert db.session.scalar(select(Cart.checkout_token)) != first_tab["checkout_token"]


def test_an_empty_cart_and_an_empty_checkout_say_what_to_do(client, tenant_a):
    sign_in(client, tenant_a.people[Role.APPROVER])
    assert b'data-testid="empty-state"' in client.get("/cart").data
    assert b"Your cart is empty" in client.get("/checkout").data


def test_card_is_offered_only_with_stripe_keys(client, tenant_a, offered, unscoped):
    servlet_id, _ = offered
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post("/cart/add", data={"servlet_id": servlet_id})
    html, hidden = checkout_form(client)
    assert 'value="card"' not in html
    assert 'value="invoice"' in html
    response = client.post(
        "/checkout",
        data={
            **hidden,
            **intake(only_line_id(unscoped), GOOD_ANSWERS),
            "payment_route": "card",
            "accept_terms": "y",
        },
    )
    assert "Not a valid choice" in response.data.decode()
    assert count(unscoped, Order) == 0


@pytest.mark.parametrize(
    "app_config", [{"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}]
)
def test_a_card_order_waits_for_payment_and_confirm_order_confirms_it_once(
    client, tenant_a, offered, unscoped, app_config
):
    from ordering import orders

    servlet_id, _ = offered
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post("/cart/add", data={"servlet_id": servlet_id})
    html, hidden = checkout_form(client)
    assert 'value="card"' in html
    client.post(
        "/checkout",
        data={
            **hidden,
            **intake(only_line_id(unscoped), GOOD_ANSWERS),
            "payment_route": "card",
            "accept_terms": "y",
        },
    )
    with unscoped():
        order = db.session.scalar(select(Order))
        assert order.state == OrderState.AWAITING_PAYMENT
        assert order.payment_route == PaymentRoute.CARD
        assert db.session.scalar(select(func.count()).select_from(Engagement)) == 0
        results = [orders.confirm_order(order, via="stripe") for _ in range(5)]
        assert results == [True, False, False, False, False]
        assert db.session.scalar(select(func.count()).select_from(Engagement)) == 1
        confirmations = db.session.scalar(
            select(func.count()).where(AuditEvent.action == "order.confirmed")
        )
        assert confirmations == 1


def service_checkout(tenant, **change) -> checkout.Checkout:
    fields = {
        "token": factories.token(tenant),
        "payment_route": PaymentRoute.INVOICE,
        "accepted_terms_version": factories.accept(tenant),
        **change,
    }
    return checkout.Checkout(**fields)


def test_the_checkout_service_itself_refuses_with_the_message_shown(app, tenant_a, unscoped):
    """The page's form checks some of this first; the service holds for every caller."""
    buyer = factories.actor(tenant_a)
    with unscoped():
        factories.cart_line(tenant_a)
        for change, message in [
            ({"token": "stale"}, "Your cart changed since this checkout page was opened."),
            ({"payment_route": PaymentRoute.CARD}, "Payment: Card (Stripe Checkout) is not"),
            ({"accepted_terms_version": None}, "Accept the terms of service to place the order."),
            ({"accepted_terms_version": "0"}, "The terms of service changed while you were"),
            ({"po_number": "P" * 65}, "PO number: at most 64 characters."),
            ({"po_number": "PO\x00-1"}, "PO number: letters, digits and punctuation only."),
        ]:
            with pytest.raises(ServiceError) as refused:
                checkout.place_order(buyer, service_checkout(tenant_a, **change))
            assert refused.value.message.startswith(message)
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_placed_checkout_is_found_again_by_its_customer_only(app, tenant_a, unscoped):
    buyer = factories.actor(tenant_a)
    neighbour = tenant_a.neighbours[Role.BUYER]
    stranger = catalog_factories.Actor(
        neighbour.membership_id,
        neighbour.user_id,
        neighbour.organization_id,
        neighbour.vendor_id,
        Role.BUYER,
    )
    with unscoped():
        factories.cart_line(tenant_a)
        placed = service_checkout(tenant_a, po_number=" " + "P" * 64 + " ")
        order = checkout.place_order(buyer, placed)
        assert order.po_number == "P" * 64
        assert checkout.placed_with(buyer, placed.token) == order
        assert checkout.placed_with(buyer, "") is None
        assert checkout.placed_with(buyer, "another") is None
        assert checkout.placed_with(stranger, placed.token) is None
        assert checkout.place_order(buyer, placed) == order  # submitted again: the same order
        with pytest.raises(Conflict) as refused:
            checkout.place_order(stranger, placed)
    assert refused.value.message == "This checkout belongs to someone else. Reload your cart."


def test_wrong_answers_are_refused_as_a_whole_with_each_problem_by_field(app, tenant_a, unscoped):
    buyer = factories.actor(tenant_a)
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a, intake_questions=ALL_QUESTIONS)
        line_id = factories.cart_line(tenant_a, servlet_id)
        answers = {line_id: {**GOOD_ANSWERS, 3: "APAC", 4: "maybe"}}
        with pytest.raises(checkout.IntakeInvalid) as refused:
            checkout.place_order(buyer, service_checkout(tenant_a, answers=answers))
    assert refused.value.message == "Some answers need your attention; see the marked fields."
    assert set(refused.value.problems[line_id]) == {3, 4}


def test_a_placed_order_records_what_the_customer_agreed_to_and_empties_the_cart(
    app, tenant_a, unscoped
):
    """The order row, its line and the placement's audit event hold the catalog's figures and
    the checkout's choices; the cart is emptied and gets a new token."""
    buyer = factories.actor(tenant_a)
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        vendor.payment_terms_days = 45
        db.session.commit()
        factories.cart_line(tenant_a, quantity=2)
        placed = service_checkout(tenant_a, po_number="  PO-7 ", ip="2001:db8::" + "f" * 60)
        order = checkout.place_order(buyer, placed)
        line = db.session.scalar(select(OrderLine))
        assert (order.state, order.total, order.currency) == (
            OrderState.CONFIRMED,
            Money(1_000_000, "USD"),
            "USD",
        )
        assert (order.placed_by_id, order.customer_id, order.vendor_id) == (
            buyer.user_id,
            tenant_a.customer_id,
            tenant_a.vendor_id,
        )
        assert order.payment_terms_days == 45
        assert order.terms_accepted_ip == ("2001:db8::" + "f" * 60)[:45]
        assert (line.quantity, line.unit_price, line.currency) == (2, Money(500_000, "USD"), "USD")
        assert line.recommendation_id is None
        placement = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "order.placed"))
        assert (placement.object_type, placement.object_id) == ("order", order.id)
        assert placement.changes == {
            "state": "confirmed",
            "total": str(Money(1_000_000, "USD")),
            "payment_route": "invoice",
            "po_number": "PO-7",
            "terms_version": "1",
            "lines": [[line.servlet_version_id, 2]],
        }
        confirmation = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "order.confirmed")
        )
        assert confirmation.changes == {"via": "invoice"}
        assert (confirmation.object_type, confirmation.object_id) == ("order", order.id)
        assert db.session.scalar(select(func.count()).select_from(CartLine)) == 0
        assert factories.token(tenant_a) not in ("", None, placed.token)
        factories.cart_line(tenant_a)
        again = checkout.place_order(buyer, service_checkout(tenant_a))
        assert again.id != order.id
        assert again.terms_accepted_ip is None
        assert again.po_number == ""  # no PO number given
        assert again.number == order.number + 1


@pytest.mark.parametrize(
    ("role", "threshold", "expected"),
    [
        (Role.BUYER, None, OrderState.CONFIRMED),
        (Role.BUYER, 500_000, OrderState.CONFIRMED),  # equal to the threshold: not above it
        (Role.BUYER, 499_999, OrderState.AWAITING_APPROVAL),
        (Role.APPROVER, 499_999, OrderState.CONFIRMED),  # an approver's own order
    ],
)
def test_only_a_buyers_order_above_the_threshold_waits_for_an_approver(
    app, tenant_a, unscoped, role, threshold, expected
):
    with unscoped():
        factories.set_threshold(tenant_a, threshold)
        factories.cart_line(tenant_a, role=role)
        order = db.session.get(Order, factories.place(tenant_a, role))
        assert order.state == expected
        told = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.subject.startswith("Approval needed"))
        ).all()
        if expected == OrderState.AWAITING_APPROVAL:
            approver = tenant_a.people[Role.APPROVER]
            customer = db.session.get(Organization, tenant_a.customer_id)
            assert [email.recipient for email in told] == [approver.email]
            assert f"for {customer.name} totalling $5,000.00" in told[0].body
            assert not db.session.scalar(
                select(func.count()).where(AuditEvent.action == "order.confirmed")
            )
        else:
            assert told == []


def test_a_total_in_another_currency_than_the_vendors_counts_as_above_the_threshold(
    app, tenant_a, unscoped
):
    with unscoped():
        customer = db.session.get(Organization, tenant_a.customer_id)
        customer.approval_threshold_minor = 10_000_000
        assert checkout.above_threshold(customer, Money(100, "EUR"), "USD")
        assert not checkout.above_threshold(customer, Money(10_000_000, "USD"), "USD")
        assert checkout.above_threshold(customer, Money(10_000_001, "USD"), "USD")
        customer.approval_threshold_minor = None
        assert not checkout.above_threshold(customer, Money(100, "EUR"), "USD")


def test_payment_routes_are_listed_card_first_then_account_then_credits(
    app, tenant_a, unscoped, monkeypatch
):
    with unscoped():
        customer = db.session.get(Organization, tenant_a.customer_id)
        assert checkout.payment_routes_for(customer) == [PaymentRoute.INVOICE]
        factories.credits(tenant_a)
        monkeypatch.setattr(checkout.stripe_gateway, "configured", lambda: True)
        assert checkout.payment_routes_for(customer) == [
            PaymentRoute.CARD,
            PaymentRoute.INVOICE,
            PaymentRoute.ENTITLEMENT,
        ]


def test_an_empty_cart_or_one_mixing_currencies_is_refused_with_what_to_do(app, tenant_a, unscoped):
    buyer = factories.actor(tenant_a)
    with unscoped():
        factories.order(tenant_a)  # leaves an emptied cart behind
        with pytest.raises(ServiceError) as refused:
            checkout.place_order(buyer, service_checkout(tenant_a))
        assert refused.value.message == "Your cart is empty."
        factories.cart_line(tenant_a)
        euro = factories.offered_servlet(
            tenant_a, price=Money(300_000, "EUR"), delivery_cost=Money(100_000, "EUR")
        )
        # The cart refuses a second currency when adding; a line written past that check
        # (say, added before the price changed currency) is refused at checkout.
        cart = db.session.scalar(select(Cart).where(Cart.user_id == buyer.user_id))
        db.session.add(
            CartLine(vendor_id=tenant_a.vendor_id, cart_id=cart.id, servlet_id=euro, quantity=1)
        )
        db.session.commit()
        with pytest.raises(ServiceError) as refused:
            checkout.place_order(buyer, service_checkout(tenant_a))
        assert refused.value.message == (
            "Your cart mixes currencies; order each currency separately."
        )
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_order_numbers_continue_the_vendors_sequence(app, tenant_a, unscoped):
    with unscoped():
        db.session.add(SequenceCounter(vendor_id=tenant_a.vendor_id, name="order", value=41))
        db.session.commit()
        assert db.session.get(Order, factories.order(tenant_a)).number == 42


def test_an_order_placed_from_a_recommendation_closes_it_as_ordered(app, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a)
        recommendation_id = catalog_factories.recommendation(tenant_a, servlet_id)
        factories.cart_line(tenant_a, servlet_id)
        order = db.session.get(Order, factories.place(tenant_a))
        line = db.session.scalar(select(OrderLine).where(OrderLine.order_id == order.id))
        assert line.recommendation_id == recommendation_id
        recommendation = db.session.get(Recommendation, recommendation_id)
        assert recommendation.state == RecommendationState.ORDERED


def test_a_line_whose_questions_got_no_answers_at_all_is_refused_field_by_field(
    app, tenant_a, unscoped
):
    buyer = factories.actor(tenant_a)
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a, intake_questions=ALL_QUESTIONS)
        line_id = factories.cart_line(tenant_a, servlet_id)
        with pytest.raises(checkout.IntakeInvalid) as refused:
            checkout.place_order(buyer, service_checkout(tenant_a, answers={}))
    assert set(refused.value.problems[line_id]) == {0, 1, 2, 3, 4}


def test_servlets_withdrawn_from_the_cart_are_named_in_the_refusal(app, tenant_a, unscoped):
    buyer = factories.actor(tenant_a)
    admin = catalog_factories.actor(tenant_a)
    with unscoped():
        factories.cart_line(tenant_a)  # still offered
        for title in ("Alpha Audit", "Beta Review"):
            servlet_id = factories.offered_servlet(tenant_a, title=title)
            factories.cart_line(tenant_a, servlet_id)
            servlets.retire_servlet(admin, db.session.get(Servlet, servlet_id))
        with pytest.raises(ServiceError) as refused:
            checkout.place_order(buyer, service_checkout(tenant_a))
        assert db.session.scalar(select(func.count()).select_from(CartLine)) == 3
    rest = (
        " is no longer offered to you (retired, or no longer in your catalogs). "
        "Remove it from your cart to continue; the rest of your cart is kept."
    )
    assert refused.value.message in {
        "“Alpha Audit”, “Beta Review”" + rest,
        "“Beta Review”, “Alpha Audit”" + rest,
    }


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CSM, Role.FINANCE])
def test_only_the_customers_buyers_and_approvers_may_place_orders(app, tenant_a, unscoped, role):
    with unscoped(), pytest.raises(NotAllowed) as refused:
        checkout.place_order(factories.actor(tenant_a, role), service_checkout(tenant_a))
    assert refused.value.message == "You do not have permission to do that."
