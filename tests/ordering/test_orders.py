"""Order lists (customer history; vendor filters and CSV), the order form PDF, cancellation
rules and the state table."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import OrgKind, Role
from delivery.models import Engagement, EngagementState
from ordering import orders
from ordering.models import Order, OrderState, PaymentRoute
from tests.catalog.factories import Actor
from tests.conftest import sign_in
from tests.factories import organization, person
from tests.ordering import factories


def listed(response) -> str:
    """The order table of a list page (the filters also name servlets and customers)."""
    html = response.data.decode()
    start = html.find('data-testid="orders"')
    return html[start : html.find("</table>", start)] if start != -1 else ""


def state_of(unscoped, order_id: int) -> OrderState:
    with unscoped():
        return db.session.get(Order, order_id).state


def test_the_customer_sees_its_own_history_only(client, tenant_a, unscoped):
    with unscoped():
        mine = factories.order(tenant_a, title="Mine Health Check")
        other = organization("Second Customer", OrgKind.CUSTOMER, tenant_a.vendor_id)
        other_buyer = person(other, Role.BUYER)
    sign_in(client, tenant_a.people[Role.VIEWER])
    history = client.get("/orders").data.decode()
    assert "Mine Health Check" in history
    assert f"/orders/{mine}" in history
    sign_in(client, other_buyer)
    assert b'data-testid="empty-state"' in client.get("/orders").data
    assert client.get(f"/orders/{mine}").status_code == 404
    assert client.get(f"/orders/{mine}/form.pdf").status_code == 404


def test_the_vendor_filters_orders_and_exports_them_as_csv(client, tenant_a, unscoped):
    with unscoped():
        first = factories.order(tenant_a, title="Alpha Onboarding")
        second = factories.order(tenant_a, title="=HYPERLINK(evil)", quantity=3)
        orders.cancel_order(factories.actor(tenant_a), db.session.get(Order, first))
    sign_in(client, tenant_a.people[Role.CSM])
    everything = listed(client.get("/orders"))
    assert "Alpha Onboarding" in everything
    assert "HYPERLINK" in everything
    cancelled = listed(client.get("/orders?state=cancelled"))
    assert "Alpha Onboarding" in cancelled
    assert "HYPERLINK" not in cancelled
    today = utcnow().date()
    assert "Alpha" in client.get(f"/orders?from={today}&to={today}").data.decode()
    later = (today + timedelta(days=2)).isoformat()
    assert b'data-testid="empty-state"' in client.get(f"/orders?from={later}").data
    assert b"Alpha" in client.get(f"/orders?customer={tenant_a.customer_id}&from=nonsense").data
    export = client.get("/orders/export.csv?state=confirmed")
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.data.decode())))
    assert [row["order"] for row in rows] == [f"O-{second:06d}"]
    assert rows[0]["servlet"] == "'=HYPERLINK(evil)"
    assert rows[0]["quantity"] == "3"
    assert rows[0]["line_total"] == "15000.00"


def test_the_vendor_filters_by_servlet(client, tenant_a, unscoped):
    with unscoped():
        factories.order(tenant_a, title="Alpha Onboarding")
        factories.order(tenant_a, title="Beta Training")
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get("/orders").data.decode()
    servlet_id = re.search(r'<option value="(\d+)">Beta Training</option>', page).group(1)
    filtered = listed(client.get(f"/orders?servlet={servlet_id}"))
    assert "Beta Training" in filtered
    assert "Alpha Onboarding" not in filtered


def test_the_order_form_pdf_reads_as_a_mini_sow(client, tenant_a, unscoped, run_jobs):
    with unscoped():
        servlet_id = factories.offered_servlet(
            tenant_a, title="CRM Health Check", intake_questions=factories.ALL_QUESTIONS
        )
        line_id = factories.cart_line(tenant_a, servlet_id)
        order_id = factories.place(
            tenant_a, answers={line_id: factories.GOOD_ANSWERS}, po_number="PO-9931"
        )
    sign_in(client, tenant_a.people[Role.BUYER])
    assert "being prepared" in client.get(f"/orders/{order_id}").data.decode()
    assert client.get(f"/orders/{order_id}/form.pdf").status_code == 404
    run_jobs()
    for role in (Role.BUYER, Role.VIEWER, Role.ADMIN, Role.FINANCE):
        sign_in(client, tenant_a.people[role])
        response = client.get(f"/orders/{order_id}/form.pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = " ".join(text.split())
    for expected in (
        f"Order form O-{order_id:06d}",
        "Acme Software",
        "Acme Software Customer",
        "PO-9931",
        "CRM Health Check",
        "A scored review of your configuration",
        "One production tenant",  # in scope
        "Custom code",  # out of scope
        "Findings report",  # deliverable
        "Admin account",  # prerequisite
        "Start within 5 business days",
        "$5,000.00",
        "Prepaid",
        "version 1",
        "Faster onboarding",
        tenant_a.people[Role.BUYER].email,
    ):
        assert expected in text, expected


def test_a_buyer_cancels_before_delivery_starts_and_engagements_end(client, tenant_a, unscoped):
    with unscoped():
        order_id = factories.order(tenant_a, quantity=2)
    sign_in(client, tenant_a.people[Role.BUYER])
    assert 'data-testid="cancel-form"' in client.get(f"/orders/{order_id}").data.decode()
    client.post(f"/orders/{order_id}/cancel", data={"reason": ""})
    assert state_of(unscoped, order_id) == OrderState.CANCELLED
    with unscoped():
        states = db.session.scalars(select(Engagement.state)).all()
        assert states == [EngagementState.CANCELLED] * 2
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert actions.count("engagement.cancelled") == 2
        assert "order.cancelled" in actions


def test_after_delivery_starts_only_the_vendor_cancels_with_a_reason(client, tenant_a, unscoped):
    with unscoped():
        order_id = factories.order(tenant_a)
        engagement = db.session.scalar(select(Engagement))
        engagement.state = EngagementState.IN_PROGRESS
        db.session.commit()
    sign_in(client, tenant_a.people[Role.BUYER])
    client.post(f"/orders/{order_id}/cancel", data={"reason": "changed our mind"})
    assert "only the vendor can cancel" in client.get(f"/orders/{order_id}").data.decode()
    assert state_of(unscoped, order_id) == OrderState.CONFIRMED
    sign_in(client, tenant_a.people[Role.FINANCE])
    client.post(f"/orders/{order_id}/cancel", data={"reason": ""})
    assert "Reason: tell the customer why" in client.get(f"/orders/{order_id}").data.decode()
    assert state_of(unscoped, order_id) == OrderState.CONFIRMED
    client.post(f"/orders/{order_id}/cancel", data={"reason": "Consultant unavailable"})
    assert state_of(unscoped, order_id) == OrderState.CANCELLED
    sign_in(client, tenant_a.people[Role.BUYER])
    assert "Consultant unavailable" in client.get(f"/orders/{order_id}").data.decode()


def test_who_may_cancel(app, tenant_a, unscoped):
    with unscoped():
        order = db.session.get(Order, factories.order(tenant_a))
        for role in (Role.VIEWER, Role.CSM, Role.DELIVERY_MANAGER, Role.PARTNER_MANAGER):
            with pytest.raises(NotAllowed):
                orders.cancel_order(factories.actor(tenant_a, role), order, "x")
        assert order.state == OrderState.CONFIRMED


def test_the_state_table_refuses_what_it_does_not_list(app, tenant_a, unscoped):
    with unscoped():
        order = db.session.get(Order, factories.order(tenant_a))
        with pytest.raises(InvalidTransition):
            orders.transition(order, OrderState.AWAITING_APPROVAL, None)
        assert orders.complete_order(order) is True
        assert orders.complete_order(order) is False
        with pytest.raises(InvalidTransition):
            orders.cancel_order(factories.actor(tenant_a, Role.ADMIN), order, "late")
        assert db.session.get(Order, order.id).state == OrderState.COMPLETED


def test_the_order_list_runs_a_fixed_number_of_queries(client, tenant_a, unscoped, count_queries):
    sign_in(client, tenant_a.people[Role.ADMIN])

    def statements() -> int:
        with count_queries() as counted:
            assert client.get("/orders").status_code == 200
        return len(counted)

    with unscoped():
        factories.order(tenant_a)
    few = statements()
    with unscoped():
        for _ in range(4):
            factories.order(tenant_a, quantity=2)
    assert statements() == few


def test_order_and_engagement_references_count_per_vendor(app, tenant_a, tenant_b, unscoped):
    """A vendor's list reads O-000001, O-000002... whatever other vendors ordered between."""
    with unscoped():
        placed = [factories.order(tenant, quantity=2) for tenant in (tenant_a, tenant_b, tenant_a)]
        references = [db.session.get(Order, order_id).reference for order_id in placed]
        engagements = db.session.execute(
            select(Engagement.vendor_id, Engagement.number).order_by(Engagement.id)
        ).all()
    assert references == ["O-000001", "O-000001", "O-000002"]
    assert [number for vendor, number in engagements if vendor == tenant_a.vendor_id] == [
        1,
        2,
        3,
        4,
    ]
    assert [number for vendor, number in engagements if vendor == tenant_b.vendor_id] == [1, 2]


def test_a_customer_exports_its_own_orders_and_no_one_elses(client, tenant_a, unscoped):
    with unscoped():
        factories.order(tenant_a, title="Mine Health Check")
        other = organization("Second Customer", OrgKind.CUSTOMER, tenant_a.vendor_id)
        other_buyer = person(other, Role.BUYER)
        other_id = other.id
    sign_in(client, tenant_a.people[Role.VIEWER])
    assert b"/orders/export.csv" in client.get("/orders").data
    rows = list(csv.DictReader(io.StringIO(client.get("/orders/export.csv").data.decode())))
    assert [row["servlet"] for row in rows] == ["Mine Health Check"]
    # The vendor's filters are not the customer's: a customer id names nothing here.
    filtered = client.get(f"/orders/export.csv?customer={other_id}").data.decode()
    assert "Mine Health Check" in filtered
    sign_in(client, other_buyer)
    rows = list(csv.DictReader(io.StringIO(client.get("/orders/export.csv").data.decode())))
    assert rows == []


def test_a_cancellation_is_the_cancellers_audited_with_its_reason_and_mailed(
    app, tenant_a, unscoped
):
    buyer = tenant_a.people[Role.BUYER]
    with unscoped():
        order = db.session.get(Order, factories.order(tenant_a))
        orders.cancel_order(factories.actor(tenant_a), order, " Budget moved ")
        order = db.session.get(Order, order.id)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "order.cancelled"))
        body = db.session.scalar(
            select(OutboxEmail.body).where(
                OutboxEmail.recipient == buyer.email,
                OutboxEmail.subject == f"Order {order.reference} cancelled",
            )
        )
    assert (order.cancelled_by_id, order.cancel_reason) == (buyer.user_id, "Budget moved")
    assert event.changes == {"state": ["confirmed", "cancelled"], "reason": "Budget moved"}
    assert body.startswith(f"Order {order.reference} was cancelled.\n\nReason: Budget moved")


def test_a_buyer_of_another_customer_may_not_cancel_and_is_told_so(app, tenant_a, unscoped):
    neighbour = tenant_a.neighbours[Role.BUYER]
    stranger = Actor(
        neighbour.membership_id,
        neighbour.user_id,
        neighbour.organization_id,
        neighbour.vendor_id,
        Role.BUYER,
    )
    with unscoped():
        order = db.session.get(Order, factories.order(tenant_a))
        with pytest.raises(NotAllowed) as refused:
            orders.cancel_order(stranger, order)
        assert db.session.get(Order, order.id).state == OrderState.CONFIRMED
    assert refused.value.message == "You do not have permission to do that."


def test_once_delivery_started_a_customer_is_told_to_contact_the_csm(app, tenant_a, unscoped):
    with unscoped():
        order = db.session.get(Order, factories.order(tenant_a))
        db.session.scalar(select(Engagement)).state = EngagementState.IN_PROGRESS
        db.session.commit()
        with pytest.raises(InvalidTransition) as refused:
            orders.cancel_order(factories.actor(tenant_a), order)
    assert refused.value.message == (
        "Delivery has started, so only the vendor can cancel now. Contact your CSM."
    )


def test_a_reason_may_be_up_to_1000_characters(app, tenant_a, unscoped):
    admin = factories.actor(tenant_a, Role.ADMIN)
    with unscoped():
        order = db.session.get(Order, factories.order(tenant_a))
        with pytest.raises(ServiceError) as refused:
            orders.cancel_order(admin, order, "r" * 1001)
        assert refused.value.message == "Reason: at most 1,000 characters."
        orders.cancel_order(admin, order, "r" * 1000)
        assert db.session.get(Order, order.id).cancel_reason == "r" * 1000


@pytest.mark.parametrize(
    "app_config", [{"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}]
)
def test_a_paid_order_is_confirmed_once_and_one_still_waiting_for_approval_is_not(
    app, tenant_a, unscoped
):
    buyer = tenant_a.people[Role.BUYER]
    with unscoped():
        factories.cart_line(tenant_a)
        order = db.session.get(Order, factories.place(tenant_a, route=PaymentRoute.CARD))
        assert orders.confirm_order(order, via="card") is True
        assert orders.confirm_order(order, via="card") is False
        order = db.session.get(Order, order.id)
        confirmed = db.session.scalars(
            select(AuditEvent.changes).where(AuditEvent.action == "order.confirmed")
        ).all()
        mails = db.session.scalars(
            select(OutboxEmail.subject).where(OutboxEmail.recipient == buyer.email)
        ).all()
        engagements = db.session.scalar(select(func.count()).select_from(Engagement))
        factories.set_threshold(tenant_a, 0)
        waiting = db.session.get(Order, factories.order(tenant_a))
        with pytest.raises(InvalidTransition) as refused:
            orders.confirm_order(waiting, via="card")
        state, reference, waiting_reference = order.state, order.reference, waiting.reference
    assert state == OrderState.CONFIRMED
    assert confirmed == [{"state": ["awaiting_payment", "confirmed"], "via": "card"}]
    assert mails.count(f"Order {reference} confirmed") == 1
    assert engagements == 1
    assert refused.value.message == f"Order {waiting_reference} still waits for approval."
