"""The shared hostile-input test opens checkout with an empty cart; this one fills the cart with
a question of every type first, so every intake field gets the hostile values too."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from core.extensions import db
from core.permissions import Role
from ordering.models import CartLine, Order
from tests.conftest import sign_in
from tests.ordering import factories
from tests.test_hostile_input import FIELD, HOSTILE_VALUES


def test_hostile_input_in_every_checkout_and_cart_field_is_refused_politely(
    client, tenant_a, unscoped
):
    with unscoped():
        servlet_id = factories.offered_servlet(tenant_a, intake_questions=factories.ALL_QUESTIONS)
        line_id = factories.cart_line(tenant_a, servlet_id)
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get("/checkout").data.decode()
    names = set(FIELD.findall(page)) - {"csrf_token"}
    assert {f"intake-{line_id}-{index}" for index in range(6)} <= names
    token = re.search(r'name="checkout_token" type="hidden" value="([^"]+)"', page).group(1)
    for value in HOSTILE_VALUES:
        for keep_token in (False, True):
            data = dict.fromkeys(names, value)
            if keep_token:
                data |= {"checkout_token": token, "payment_route": "invoice", "terms_version": "1"}
            response = client.post("/checkout", data=data)
            assert response.status_code < 500, value[:20]
        for url, field in (("/cart/add", "servlet_id"), (f"/cart/lines/{line_id}", "quantity")):
            response = client.post(url, data={field: value, "quantity": value, "catalog_id": value})
            assert response.status_code < 500, (url, value[:20])
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 0
        assert db.session.get(CartLine, line_id).quantity == 1
