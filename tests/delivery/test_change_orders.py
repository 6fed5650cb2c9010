"""Change orders: proposed by the delivery manager during delivery, decided by the customer
(above its threshold, by an approver), applied and billed on approval, once."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.notifications import Notification
from core.permissions import Role
from delivery import change_orders
from delivery.change_orders import Proposal
from delivery.models import ChangeOrder, ChangeOrderState, Engagement, EngagementState, Task
from ordering.models import Order, OrderLine
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories
from tests.ordering import factories as ordering_factories

E = EngagementState
CO = ChangeOrderState
DELIVERABLES = [{"title": "Review", "description": ""}, {"title": "Report", "description": ""}]
THURSDAY = date(2030, 1, 10)


def running(tenant, **servlet) -> int:
    servlet.setdefault("deliverables", DELIVERABLES)
    return factories.working(tenant, E.IN_PROGRESS, **servlet)


def propose(tenant, engagement_id: int, **values) -> int:
    values.setdefault("description", "Add a second SSO provider.")
    return change_orders.propose(
        actor(tenant, Role.DELIVERY_MANAGER),
        db.session.get(Engagement, engagement_id),
        Proposal(**values),
    ).id


def approve(tenant, change_order_id: int, role: Role = Role.BUYER) -> ChangeOrder:
    change_order = db.session.get(ChangeOrder, change_order_id)
    engagement = db.session.get(Engagement, change_order.engagement_id)
    return change_orders.approve(actor(tenant, role), engagement, change_order)


def test_an_approved_change_moves_deliver_by_appends_tasks_and_becomes_an_order_line(
    app, tenant_a, unscoped
):
    with unscoped():
        engagement_id = running(tenant_a, effort_hours=16)
        engagement = db.session.get(Engagement, engagement_id)
        engagement.deliver_by = THURSDAY
        db.session.commit()
        order_id = db.session.get(OrderLine, engagement.order_line_id).order_id
        total_before = db.session.get(Order, order_id).total_minor
        change_order_id = propose(
            tenant_a,
            engagement_id,
            tasks="Configure Okta\n\n  Test the login  \n",
            extra_days=3,
            extra_hours="6.5",
            price="1,250.50",
        )
        change_order = approve(tenant_a, change_order_id)
        assert change_order.reference == "CO-000001"
        assert change_order.state is CO.APPROVED

        db.session.expire_all()
        engagement = db.session.get(Engagement, engagement_id)
        assert engagement.deliver_by == date(2030, 1, 15)  # Thursday + 3 business days
        tasks = db.session.scalars(
            select(Task).where(Task.engagement_id == engagement_id).order_by(Task.position)
        ).all()
        assert [(t.position, t.title, t.change_order_id) for t in tasks] == [
            (1, "Review", None),
            (2, "Report", None),
            (3, "Configure Okta", change_order_id),
            (4, "Test the login", change_order_id),
        ]
        line = db.session.get(OrderLine, db.session.get(ChangeOrder, change_order_id).order_line_id)
        assert (line.order_id, line.quantity, line.unit_price_minor) == (order_id, 1, 125050)
        assert line.servlet_version_id == engagement.servlet_version_id
        assert line.note == "CO-000001: Add a second SSO provider."
        assert db.session.get(Order, order_id).total_minor == total_before + 125050
        db.session.refresh(engagement, ["change_orders", "servlet_version"])
        assert engagement.estimated_hours == Decimal("22.5")


def test_the_order_page_shows_the_change_orders_line_with_its_note(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
        approve(tenant_a, propose(tenant_a, engagement_id, price="500"))
        order_id = db.session.get(
            OrderLine, db.session.get(Engagement, engagement_id).order_line_id
        ).order_id
    for role in (Role.BUYER, Role.FINANCE):
        sign_in(client, tenant_a.people[role])
        page = client.get(f"/orders/{order_id}")
        assert page.status_code == 200
        assert b"CO-000001: Add a second SSO provider." in page.data


def test_above_the_threshold_a_buyer_is_told_an_approver_decides(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
        ordering_factories.set_threshold(tenant_a, 100_00)
        change_order_id = propose(tenant_a, engagement_id, price="500")
        told = {
            n.user_id
            for n in db.session.scalars(
                select(Notification).where(Notification.kind == change_orders.TO_DECIDE)
            )
        }
        assert tenant_a.people[Role.APPROVER].user_id in told
        with pytest.raises(NotAllowed, match="an approver decides"):
            approve(tenant_a, change_order_id, Role.BUYER)
        db.session.rollback()
        assert db.session.get(ChangeOrder, change_order_id).state is CO.PROPOSED
    url = f"/engagements/{engagement_id}/change-orders/{change_order_id}"
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(url).data.decode()
    assert 'data-testid="approver-decides"' in page
    assert 'data-testid="approve-form"' not in page
    refused = client.post(f"{url}/approve", follow_redirects=True)
    assert b"an approver decides" in refused.data
    sign_in(client, tenant_a.people[Role.APPROVER])
    assert b'data-testid="approve-form"' in client.get(url).data
    client.post(f"{url}/approve")
    with unscoped():
        assert db.session.get(ChangeOrder, change_order_id).state is CO.APPROVED


def test_within_the_threshold_a_buyer_approves(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
        ordering_factories.set_threshold(tenant_a, 100_00)
        change_order_id = propose(tenant_a, engagement_id, price="100")
        assert approve(tenant_a, change_order_id, Role.BUYER).state is CO.APPROVED


@pytest.mark.parametrize("state", [E.REQUESTED, E.DELIVERED, E.ACCEPTED, E.CANCELLED])
def test_no_change_order_outside_delivery(client, tenant_a, unscoped, state):
    with unscoped():
        engagement_id = factories.working(tenant_a, state)
        with pytest.raises(InvalidTransition, match="scheduled, running or held"):
            propose(tenant_a, engagement_id)
        db.session.rollback()
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    refused = client.post(
        f"/engagements/{engagement_id}/change-orders/new",
        data={"description": "More", "extra_days": "1", "extra_hours": "0", "price": "0"},
    )
    assert refused.status_code == 409
    assert b"scheduled, running or held" in refused.data
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(ChangeOrder)) == 0


def test_a_change_order_waiting_when_the_engagement_is_accepted_can_no_longer_apply(
    app, tenant_a, unscoped
):
    with unscoped():
        engagement_id = running(tenant_a)
        change_order_id = propose(tenant_a, engagement_id)
        factories.put_in_state(engagement_id, E.ACCEPTED)
        with pytest.raises(InvalidTransition, match="can no longer be applied"):
            approve(tenant_a, change_order_id)
        db.session.rollback()
        assert (
            db.session.scalar(
                select(func.count()).select_from(Task).where(Task.change_order_id.is_not(None))
            )
            == 0
        )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"price": "-10"}, "Price difference: zero or more"),
        ({"price": "10.005"}, "Price difference"),
        ({"price": "lots"}, "Price difference"),
        ({"extra_days": -1}, "Extra days"),
        ({"extra_days": 366}, "Extra days"),
        ({"extra_days": None}, "Extra days"),
        ({"extra_hours": "-2"}, "Extra hours"),
        ({"extra_hours": "1e9"}, "Extra hours"),
        ({"tasks": "\n".join(f"Task {n}" for n in range(21))}, "at most 20"),
        ({"tasks": "x" * 201}, "each at most 200"),
        ({"description": "  "}, "What changes"),
        ({"description": "x" * 2001}, "What changes"),
    ],
)
def test_bad_proposals_are_refused_with_the_field_that_is_wrong(
    app, tenant_a, unscoped, values, message
):
    with unscoped():
        engagement_id = running(tenant_a)
        with pytest.raises(ServiceError, match=message):
            propose(tenant_a, engagement_id, **values)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(ChangeOrder)) == 0


def test_a_refused_proposal_form_keeps_what_was_typed(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert client.get(f"/engagements/{engagement_id}/change-orders/new").status_code == 200
    refused = client.post(
        f"/engagements/{engagement_id}/change-orders/new",
        data={"description": "Kept words", "extra_days": "2", "extra_hours": "1", "price": "-5"},
    )
    assert refused.status_code == 400
    assert b"zero or more" in refused.data
    assert b"Kept words" in refused.data
    made = client.post(
        f"/engagements/{engagement_id}/change-orders/new",
        data={"description": "Kept words", "extra_days": "2", "extra_hours": "1", "price": "5"},
    )
    assert made.status_code == 302
    with unscoped():
        assert db.session.scalar(select(ChangeOrder.price_minor)) == 500


def test_a_double_approval_applies_once(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
        change_order_id = propose(tenant_a, engagement_id, tasks="One more", extra_days=1)
    url = f"/engagements/{engagement_id}/change-orders/{change_order_id}/approve"
    sign_in(client, tenant_a.people[Role.BUYER])
    assert b"CO-000001 approved" in client.post(url, follow_redirects=True).data
    second = client.post(url, follow_redirects=True)
    assert b"nothing left to decide" in second.data
    with unscoped():
        assert (
            db.session.scalar(
                select(func.count()).select_from(OrderLine).where(OrderLine.note != "")
            )
            == 1
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.change_order_id == change_order_id)
            )
            == 1
        )


def test_decline_needs_a_reason_and_withdraw_is_the_delivery_managers(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
        declined_id = propose(tenant_a, engagement_id)
        withdrawn_id = propose(tenant_a, engagement_id)
    base = f"/engagements/{engagement_id}/change-orders"
    sign_in(client, tenant_a.people[Role.BUYER])
    empty = client.post(f"{base}/{declined_id}/decline", data={"reason": ""})
    assert empty.status_code == 400
    assert b"tell the delivery manager why" in empty.data
    client.post(f"{base}/{declined_id}/decline", data={"reason": "Not this quarter."})
    assert client.post(f"{base}/{withdrawn_id}/withdraw").status_code == 404
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    client.post(f"{base}/{withdrawn_id}/withdraw", data={"reason": ""})
    with unscoped():
        declined = db.session.get(ChangeOrder, declined_id)
        assert (declined.state, declined.reason) == (CO.DECLINED, "Not this quarter.")
        assert db.session.get(ChangeOrder, withdrawn_id).state is CO.WITHDRAWN
        assert db.session.get(Engagement, engagement_id).deliver_by is not None
        assert (
            db.session.scalar(
                select(func.count()).select_from(OrderLine).where(OrderLine.note != "")
            )
            == 0
        )


def test_roles_within_the_tenant(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
        change_order_id = propose(tenant_a, engagement_id)
    url = f"/engagements/{engagement_id}/change-orders/{change_order_id}"
    for role in (Role.CONSULTANT, Role.VIEWER, Role.DELIVERY_MANAGER, Role.PARTNER_MANAGER):
        sign_in(client, tenant_a.people[role])
        assert client.post(f"{url}/approve").status_code == 404, role
    for role in (Role.BUYER, Role.CSM, Role.CONSULTANT):
        sign_in(client, tenant_a.people[role])
        new = client.post(
            f"/engagements/{engagement_id}/change-orders/new", data={"description": "x"}
        )
        assert new.status_code == 404, role
    sign_in(client, tenant_a.people[Role.VIEWER])
    page = client.get(url).data.decode()
    assert "Add a second SSO provider." in page
    assert 'data-testid="decline-form"' not in page
    with unscoped():
        assert db.session.get(ChangeOrder, change_order_id).state is CO.PROPOSED
        assert db.session.scalar(select(func.count()).select_from(ChangeOrder)) == 1


def test_another_customers_change_order_by_url_is_404(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = running(tenant_a)
        change_order_id = propose(tenant_a, engagement_id)
        other_engagement = running(tenant_a)
    url = f"/engagements/{engagement_id}/change-orders/{change_order_id}"
    sign_in(client, tenant_a.neighbours[Role.APPROVER])
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/approve").status_code == 404
    assert b"CO-000001" not in client.get("/change-orders").data
    sign_in(client, tenant_a.people[Role.APPROVER])
    mismatched = f"/engagements/{other_engagement}/change-orders/{change_order_id}"
    assert client.get(mismatched).status_code == 404
    assert client.post(f"{mismatched}/approve").status_code == 404
    with unscoped():
        assert db.session.get(ChangeOrder, change_order_id).state is CO.PROPOSED


def test_the_list_and_the_engagement_page_show_what_waits_for_the_customer(
    client, tenant_a, unscoped
):
    with unscoped():
        engagement_id = running(tenant_a)
        waiting_id = propose(tenant_a, engagement_id, description="Waiting one")
        approve(tenant_a, propose(tenant_a, engagement_id, description="Done one"))
    sign_in(client, tenant_a.people[Role.BUYER])
    listing = client.get("/change-orders").data.decode()
    assert listing.index("Waiting one") < listing.index("Done one")
    assert "Waiting for the customer" in listing
    only_waiting = client.get("/change-orders?state=proposed").data.decode()
    assert "Done one" not in only_waiting
    page = client.get(f"/engagements/{engagement_id}").data.decode()
    assert 'data-testid="change-orders"' in page
    assert f"/change-orders/{waiting_id}" in page
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert b"Propose change order" in client.get(f"/engagements/{engagement_id}").data
    assert b"Acme Software Customer" in client.get("/change-orders").data


def test_two_people_approving_at_once_apply_the_change_once(app, tenant_a, unscoped):
    with unscoped():
        change_order_id = propose(tenant_a, running(tenant_a), tasks="One more", price="10")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(role: Role) -> None:
        with unscoped():
            start.wait()
            try:
                approve(tenant_a, change_order_id, role)
                outcomes.append("approved")
            except InvalidTransition as refusal:
                db.session.rollback()
                outcomes.append(refusal.message)

    threads = [threading.Thread(target=decide, args=(r,)) for r in (Role.BUYER, Role.APPROVER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [
        "Change order CO-000001 is approved already; there is nothing left to decide.",
        "approved",
    ]
    with unscoped():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.change_order_id == change_order_id)
            )
            == 1
        )
        assert (
            db.session.scalar(
                select(func.count()).select_from(OrderLine).where(OrderLine.note != "")
            )
            == 1
        )
