"""Twenty submissions of one checkout at the same moment place one order.

On PostgreSQL the submissions really run at once (threads, each with its own test client and
database connection), racing on the unique checkout token. SQLite serialises writers with a
database-wide lock, so there they run one after the other: the same requests, without the race.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import Role
from delivery.models import Engagement
from ordering.models import Order
from tests.conftest import sign_in
from tests.ordering import factories

SUBMISSIONS = 20


@pytest.fixture
def concurrent(request) -> bool:
    return request.config.getoption("--database") == "postgresql"


@pytest.fixture
def app_config(request) -> dict[str, object]:
    if request.config.getoption("--database") == "postgresql":
        return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": SUBMISSIONS + 2, "max_overflow": 0}}
    return {}


def test_twenty_simultaneous_submissions_of_one_checkout_place_one_order(
    app, tenant_a, unscoped, concurrent
):
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
    clients = [sign_in(app.test_client(), buyer) for _ in range(SUBMISSIONS)]
    workers = SUBMISSIONS if concurrent else 1
    barrier = Barrier(workers)

    def submit(client) -> tuple[int, str]:
        if concurrent:
            barrier.wait(timeout=30)
        response = client.post("/checkout", data=data)
        return response.status_code, response.headers.get("Location", "")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(submit, clients))

    assert {status for status, _ in answers} == {302}
    assert len({location for _, location in answers}) == 1
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1
        order = db.session.scalar(select(Order))
        assert answers[0][1].endswith(f"/orders/{order.id}")
        assert db.session.scalar(select(func.count()).select_from(Engagement)) == 2
        confirmations = db.session.scalar(
            select(func.count()).where(
                OutboxEmail.recipient == buyer.email, OutboxEmail.subject.like("%confirmed")
            )
        )
        assert confirmations == 1
