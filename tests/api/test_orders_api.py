"""Orders through the API: placed through the web checkout's own service (intake answers,
terms, approval threshold, credits), once per idempotency key, read and cancelled by exactly
the roles the web app lets, and refused field by field when the body is wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from delivery.models import Engagement, EngagementState
from ordering import carts, checkout
from ordering.models import Cart, Entitlement, Order, OrderLine, PaymentRoute
from tests.api import answers, factories
from tests.catalog import factories as catalog_factories
from tests.ordering import factories as ordering_factories

WRITE = ("write:orders",)
READ = ("read:orders",)


def _body(servlet_id: int, **overrides) -> dict:
    body = {
        "lines": [{"servlet_id": servlet_id, "quantity": 1}],
        "payment_route": "invoice",
        "terms_version": "1",
    }
    return body | overrides


def _post(client, made, body, key: str | None = None):
    headers = dict(made.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/orders", json=body, headers=headers)


def _orders() -> int:
    return db.session.scalar(select(func.count(Order.id)))


def _neighbours_order(tenant) -> int:
    """An order of the vendor's second customer, placed by its buyer."""
    servlet_id = catalog_factories.servlet(tenant, intake_questions=[])
    catalog_factories.catalog(tenant, [servlet_id], customer_ids=[tenant.neighbour_id])
    buyer = factories.actor_of(tenant.neighbours[Role.BUYER])
    carts.add_to_cart(buyer, servlet_id)
    wanted = checkout.Checkout(
        token=carts.cart_of(buyer).checkout_token,
        payment_route=PaymentRoute.INVOICE,
        accepted_terms_version=ordering_factories.accept(tenant),
    )
    return checkout.place_order(buyer, wanted).id


@pytest.fixture
def shop(tenant_a, unscoped):
    """A servlet with one question of every type, in a catalog of tenant A's customer."""
    with unscoped():
        return ordering_factories.offered_servlet(
            tenant_a, intake_questions=ordering_factories.ALL_QUESTIONS
        )


ANSWERS = ["Faster onboarding", "250", "2030-01-15", "EU", "yes", ""]


def test_a_buyer_places_an_order_on_account_and_keeps_its_web_cart(
    client, tenant_a, shop, unscoped
):
    with unscoped():
        plain = ordering_factories.offered_servlet(tenant_a)
        ordering_factories.cart_line(tenant_a, plain, quantity=2)  # what the web cart holds
        buyer = factories.personal(tenant_a.people[Role.BUYER], WRITE)
    terms = client.get("/api/v1/orders/terms", headers=buyer.headers).json
    body = _body(shop, terms_version=terms["version"], po_number="PO-77")
    body["lines"][0] |= {"quantity": 2, "intake_answers": ANSWERS}

    answer = _post(client, buyer, body)

    assert answer.status_code == 201, answer.get_data(as_text=True)
    order = answer.json
    assert order["reference"] == f"O-{order['reference'][2:]:0>6}"
    assert order["state"] == "confirmed"
    assert order["total"] == {"amount": 1_000_000, "currency": "USD"}
    assert order["po_number"] == "PO-77"
    assert order["created_at"].endswith("Z")
    assert order["updated_at"].endswith("Z")
    line = order["lines"][0]
    assert (line["servlet_id"], line["quantity"]) == (shop, 2)
    assert line["unit_price"] == {"amount": 500_000, "currency": "USD"}
    assert [a["answer"] for a in line["intake_answers"]][:5] == [
        "Faster onboarding",
        "250",
        "2030-01-15",
        "EU",
        "Yes",
    ]
    assert answer.headers["Location"].endswith(f"/api/v1/orders/{order['id']}")
    with unscoped():
        person = tenant_a.people[Role.BUYER]
        kept = carts.cart_of(ordering_factories.actor(tenant_a)).lines
        assert [(line.servlet_id, line.quantity) for line in kept] == [(plain, 2)]
        placed = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "order.placed", AuditEvent.object_id == order["id"]
            )
        )
        assert placed.changes["api_token_id"] == buyer.id
        assert placed.actor_id == person.user_id


def test_a_retried_post_with_its_idempotency_key_places_one_order(client, tenant_a, shop, unscoped):
    with unscoped():
        buyer = factories.personal(tenant_a.people[Role.BUYER], WRITE)
        before = _orders()
    body = _body(shop)
    body["lines"][0]["intake_answers"] = ANSWERS

    first = _post(client, buyer, body, key="order-2030-0001")
    again = _post(client, buyer, body, key="order-2030-0001")
    other = _post(client, buyer, body | {"po_number": "X"}, key="order-2030-0001")

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert other.status_code == 422
    assert other.json["type"].endswith("idempotency-key-reused")
    assert _post(client, buyer, body, key="order-2030-0002").json["id"] != first.json["id"]
    with unscoped():
        assert _orders() == before + 2


def test_refused_bodies_point_at_the_fields_and_change_nothing(
    client, tenant_a, tenant_b, shop, unscoped
):
    with unscoped():
        draft = catalog_factories.servlet(tenant_a, publish=False)
        neighbours = catalog_factories.servlet(tenant_a)
        catalog_factories.catalog(tenant_a, [neighbours], customer_ids=[tenant_a.neighbour_id])
        elsewhere, _ = catalog_factories.shop(tenant_b)
        plain = ordering_factories.offered_servlet(tenant_a)
        buyer = factories.personal(tenant_a.people[Role.BUYER], WRITE)
        before = _orders()

    for servlet_id in (draft, neighbours, elsewhere, 999_999):
        refused = answers.pointers(_post(client, buyer, _body(servlet_id)))
        assert refused == {"#/lines/0/servlet_id": "Not offered in your catalogs."}
    cases = {
        "#/lines/0/quantity": [0, 21, 10**30, "two", 1.5, None],
        "#/lines/0/servlet_id": ["1", -4, 2**70, None],
    }
    for pointer, values in cases.items():
        field = pointer.rsplit("/", 1)[1]
        for value in values:
            body = _body(plain)
            body["lines"][0][field] = value
            assert pointer in answers.pointers(_post(client, buyer, body)), value
    assert "#/lines" in answers.pointers(_post(client, buyer, _body(plain, lines=[])))
    assert "#/lines" in answers.pointers(_post(client, buyer, _body(plain, lines={"a": 1})))
    many = [{"servlet_id": plain, "quantity": 1}] * 51
    assert "#/lines" in answers.pointers(_post(client, buyer, _body(plain, lines=many)))
    twice = [{"servlet_id": plain, "quantity": 1}] * 2
    assert answers.pointers(_post(client, buyer, _body(plain, lines=twice))) == {
        "#/lines/1/servlet_id": "Listed twice: add up the quantity."
    }
    assert "#/price" in answers.pointers(_post(client, buyer, _body(plain, price=1)))
    assert "#/lines/0/price" in answers.pointers(
        _post(client, buyer, _body(plain, lines=[{"servlet_id": plain, "quantity": 1, "price": 0}]))
    )
    assert "#/payment_route" in answers.pointers(
        _post(client, buyer, _body(plain, payment_route="cash"))
    )
    card = answers.pointers(_post(client, buyer, _body(plain, payment_route="card")))
    assert "web app" in card["#/payment_route"]
    credits = answers.pointers(_post(client, buyer, _body(plain, payment_route="entitlement")))
    assert "not available" in credits["#/payment_route"]
    assert "#/terms_version" in answers.pointers(
        _post(client, buyer, {**_body(plain), "terms_version": ""})
    )
    assert "#/po_number" in answers.pointers(_post(client, buyer, _body(plain, po_number="P" * 65)))
    stale = _post(client, buyer, _body(plain, terms_version="0.9"))
    assert stale.status_code == 409
    assert "terms of service changed" in stale.json["detail"]

    wrong = _body(shop)
    wrong["lines"][0]["intake_answers"] = ["", "lots", "15/01/2030", "Mars", "maybe", ""]
    refused = answers.pointers(_post(client, buyer, wrong))
    assert set(refused) == {f"#/lines/0/intake_answers/{i}" for i in range(5)}
    assert refused["#/lines/0/intake_answers/3"] == "Choose one of the options."
    wrong["lines"][0]["intake_answers"] = [*ANSWERS, "extra"]
    assert "#/lines/0/intake_answers" in answers.pointers(_post(client, buyer, wrong))
    wrong["lines"][0]["intake_answers"] = ["x" * 2001]
    assert "#/lines/0/intake_answers/0" in answers.pointers(_post(client, buyer, wrong))
    with unscoped():
        assert _orders() == before
        assert db.session.scalar(select(func.count(Cart.id))) == 0  # no cart left behind


def test_above_the_threshold_a_buyers_order_waits_for_approval_and_an_approvers_does_not(
    client, tenant_a, unscoped
):
    with unscoped():
        servlet_id = ordering_factories.offered_servlet(tenant_a)
        ordering_factories.set_threshold(tenant_a, 100_000)
        buyer = factories.personal(tenant_a.people[Role.BUYER], WRITE)
        approver = factories.personal(tenant_a.people[Role.APPROVER], WRITE)

    assert _post(client, buyer, _body(servlet_id)).json["state"] == "awaiting_approval"
    assert _post(client, approver, _body(servlet_id)).json["state"] == "confirmed"


def test_an_order_with_credits_spends_them_and_a_cancellation_gives_them_back(
    client, tenant_a, unscoped
):
    with unscoped():
        servlet_id = ordering_factories.offered_servlet(tenant_a)
        entitlement_id = ordering_factories.credits(tenant_a, quantity=2)
        buyer = factories.personal(tenant_a.people[Role.BUYER], WRITE)
    body = _body(servlet_id, payment_route="entitlement")
    body["lines"][0]["quantity"] = 2

    placed = _post(client, buyer, body)

    assert placed.status_code == 201, placed.get_data(as_text=True)
    assert placed.json["payment_route"] == "entitlement"
    with unscoped():
        assert db.session.get(Entitlement, entitlement_id).used == 2
    url = f"/api/v1/orders/{placed.json['id']}/cancel"
    cancelled = client.post(url, json={"reason": "Budget moved."}, headers=buyer.headers)
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)
    assert cancelled.json["state"] == "cancelled"
    assert cancelled.json["cancel_reason"] == "Budget moved."
    with unscoped():
        db.session.expire_all()
        assert db.session.get(Entitlement, entitlement_id).used == 0


def test_each_role_reads_the_orders_the_web_app_shows_it(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        own = ordering_factories.order(tenant_a)
        neighbours = _neighbours_order(tenant_a)
        elsewhere = ordering_factories.order(tenant_b)
        tokens = {
            role: factories.personal(tenant_a.people[role], READ)
            for role in (
                Role.BUYER,
                Role.APPROVER,
                Role.VIEWER,
                Role.CSM,
                Role.FINANCE,
                Role.ADMIN,
                Role.DELIVERY_MANAGER,
                Role.CONSULTANT,
                Role.PARTNER_MANAGER,
            )
        }
    expected = {
        Role.BUYER: [own],
        Role.APPROVER: [own],
        Role.VIEWER: [own],
        Role.CSM: [own, neighbours],
        Role.FINANCE: [own, neighbours],
        Role.ADMIN: [own, neighbours],
        Role.DELIVERY_MANAGER: [own, neighbours],
        Role.CONSULTANT: [],
        Role.PARTNER_MANAGER: [],
    }
    for role, ids in expected.items():
        headers = tokens[role].headers
        listed = client.get("/api/v1/orders", headers=headers)
        assert [o["id"] for o in listed.json["data"]] == ids, role
        for order_id in (own, neighbours, elsewhere):
            shown = client.get(f"/api/v1/orders/{order_id}", headers=headers)
            assert shown.status_code == (200 if order_id in ids else 404), (role, order_id)


def test_lists_page_by_cursor_and_filter_by_state_and_change_time(client, tenant_a, unscoped):
    with unscoped():
        first = ordering_factories.order(tenant_a)
        second = ordering_factories.order(tenant_a)
        third = ordering_factories.order(tenant_a)
        long_ago = utcnow() - timedelta(days=30)
        db.session.execute(
            update(Order)
            .where(Order.id.in_([first, second]))
            .values(created_at=long_ago, confirmed_at=long_ago)
        )
        db.session.commit()
        csm = factories.personal(tenant_a.people[Role.CSM], READ)
        finance = factories.personal(tenant_a.people[Role.FINANCE], WRITE)
    client.post(
        f"/api/v1/orders/{first}/cancel", json={"reason": "Duplicate."}, headers=finance.headers
    )

    page = client.get("/api/v1/orders?limit=2", headers=csm.headers)
    assert [o["id"] for o in page.json["data"]] == [first, second]
    rest = client.get(page.headers["Link"].split(">")[0][1:], headers=csm.headers)
    assert [o["id"] for o in rest.json["data"]] == [third]
    assert rest.json["next_cursor"] is None
    cancelled = client.get("/api/v1/orders?state=cancelled", headers=csm.headers).json["data"]
    assert [o["id"] for o in cancelled] == [first]
    since = (utcnow() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    changed = client.get(f"/api/v1/orders?updated_since={since}", headers=csm.headers)
    assert [o["id"] for o in changed.json["data"]] == [first, third]
    bad = client.get("/api/v1/orders?state=lost", headers=csm.headers)
    assert bad.status_code == 422
    assert bad.json["errors"][0]["parameter"] == "state"


def test_who_may_place_an_order(client, tenant_a, unscoped):
    with unscoped():
        servlet_id = ordering_factories.offered_servlet(tenant_a)
        refused = [
            factories.personal(tenant_a.people[role], WRITE)
            for role in (Role.VIEWER, Role.CSM, Role.FINANCE, Role.PARTNER_MANAGER)
        ]
        refused.append(factories.service(tenant_a.people[Role.ADMIN], Role.ADMIN, WRITE))
        read_only = factories.personal(tenant_a.people[Role.BUYER], READ)
        before = _orders()
    for made in refused:
        answer = _post(client, made, _body(servlet_id))
        assert answer.status_code == 403, answer.get_data(as_text=True)
        assert answer.json["type"].endswith("problem-forbidden")
    scoped_out = _post(client, read_only, _body(servlet_id))
    assert scoped_out.status_code == 403
    assert "write:orders" in scoped_out.json["detail"]
    with unscoped():
        assert _orders() == before


def test_cancel_follows_the_web_apps_rules(client, tenant_a, unscoped):
    with unscoped():
        own = ordering_factories.order(tenant_a)
        started = ordering_factories.order(tenant_a)
        db.session.execute(
            update(Engagement)
            .where(
                Engagement.order_line_id.in_(
                    select(OrderLine.id).where(OrderLine.order_id == started)
                )
            )
            .values(state=EngagementState.IN_PROGRESS)
        )
        db.session.commit()
        tokens = {
            role: factories.personal(person, WRITE)
            for role, person in tenant_a.people.items()
            if role in (Role.BUYER, Role.VIEWER, Role.CSM, Role.FINANCE, Role.PARTNER_MANAGER)
        }
        neighbour = factories.personal(tenant_a.neighbours[Role.BUYER], WRITE)
        reader = factories.personal(tenant_a.people[Role.BUYER], READ)

    def cancel(made, order_id, reason=""):
        url = f"/api/v1/orders/{order_id}/cancel"
        return client.post(url, json={"reason": reason}, headers=made.headers)

    assert cancel(reader, own).status_code == 403
    assert cancel(neighbour, own).status_code == 404
    assert cancel(tokens[Role.PARTNER_MANAGER], own).status_code == 404
    assert cancel(tokens[Role.VIEWER], own).status_code == 403
    assert cancel(tokens[Role.CSM], own).status_code == 403
    assert cancel(tokens[Role.FINANCE], own).status_code == 422  # the vendor gives a reason
    late = cancel(tokens[Role.BUYER], started)
    assert late.status_code == 409
    assert "Delivery has started" in late.json["detail"]
    assert "#/reason" in answers.pointers(cancel(tokens[Role.BUYER], own, "x" * 1001))
    assert "#/why" in answers.pointers(
        client.post(
            f"/api/v1/orders/{own}/cancel", json={"why": 1}, headers=tokens[Role.BUYER].headers
        )
    )

    shown = client.get(f"/api/v1/orders/{own}", headers=tokens[Role.BUYER].headers)
    etag = shown.headers["ETag"]
    done = cancel(tokens[Role.BUYER], own, "Ordered by mistake.")
    assert done.status_code == 200
    assert done.json["state"] == "cancelled"
    assert done.json["cancelled_at"].endswith("Z")
    assert cancel(tokens[Role.BUYER], own).json["cancel_reason"] == "Ordered by mistake."
    headers = {**tokens[Role.BUYER].headers, "If-None-Match": etag}
    assert client.get(f"/api/v1/orders/{own}", headers=headers).status_code == 200  # changed
    by_vendor = cancel(tokens[Role.FINANCE], started, "Customer asked by phone.")
    assert by_vendor.json["state"] == "cancelled"
