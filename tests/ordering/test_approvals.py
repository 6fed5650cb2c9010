"""Approval thresholds: a buyer's order above the customer's threshold waits for an approver,
who is told by email and in the app, sees the intake answers, and approves or rejects."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import OrgKind, Role
from delivery.models import Engagement
from ordering import orders
from ordering.models import ApprovalDecision, Order, OrderState, PaymentRoute
from tests.catalog.factories import Actor
from tests.conftest import sign_in
from tests.factories import organization, person
from tests.ordering import factories

PRICE = 500_000  # the catalog factories' list price: $5,000.00


def state_of(unscoped, order_id: int) -> OrderState:
    with unscoped():
        return db.session.get(Order, order_id).state


@pytest.mark.parametrize(
    ("threshold", "role", "expected"),
    [
        (None, Role.BUYER, OrderState.CONFIRMED),
        (PRICE, Role.BUYER, OrderState.CONFIRMED),  # at the threshold: not above it
        (PRICE - 1, Role.BUYER, OrderState.AWAITING_APPROVAL),
        (0, Role.BUYER, OrderState.AWAITING_APPROVAL),
        (PRICE - 1, Role.APPROVER, OrderState.CONFIRMED),  # an approver's own order
    ],
)
def test_the_threshold_decides_whether_an_order_waits(
    app, tenant_a, unscoped, threshold, role, expected
):
    with unscoped():
        factories.set_threshold(tenant_a, threshold)
        order_id = factories.order(tenant_a, role=role)
    assert state_of(unscoped, order_id) == expected


def test_the_approver_is_told_sees_the_answers_and_approves(client, tenant_a, unscoped):
    approver = tenant_a.people[Role.APPROVER]
    with unscoped():
        factories.set_threshold(tenant_a, 100_000)
        servlet_id = factories.offered_servlet(tenant_a, intake_questions=factories.ALL_QUESTIONS)
        line_id = factories.cart_line(tenant_a, servlet_id)
        order_id = factories.place(
            tenant_a, answers={line_id: factories.GOOD_ANSWERS}, po_number="PO-77"
        )
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.recipient == approver.email))
        assert mail.subject.startswith("Approval needed")
        assert f"/orders/{order_id}" in mail.body
        assert db.session.scalar(select(func.count()).select_from(Engagement)) == 0
    sign_in(client, tenant_a.people[Role.BUYER])
    assert "waits for an approver" in client.get(f"/orders/{order_id}").data.decode()
    sign_in(client, approver)
    listed = client.get("/approvals").data.decode()
    assert f"/orders/{order_id}" in listed
    page = client.get(f"/orders/{order_id}").data.decode()
    assert "Faster onboarding" in page
    assert "PO-77" in page
    assert 'data-testid="approve-form"' in page
    response = client.post(f"/orders/{order_id}/approve", data={"reason": "Budgeted"})
    assert response.status_code == 302
    assert state_of(unscoped, order_id) == OrderState.CONFIRMED
    with unscoped():
        order = db.session.get(Order, order_id)
        assert order.approval_decision == ApprovalDecision.APPROVED
        assert order.approval_decided_by_id == approver.user_id
        assert db.session.scalar(select(func.count()).select_from(Engagement)) == 1
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/orders/{order_id}").data.decode()
    assert "Confirmed" in page
    assert "Budgeted" in page
    sign_in(client, approver)
    assert b'data-testid="empty-state"' in client.get("/approvals").data


def test_a_rejection_needs_a_reason_the_buyer_reads(client, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        order_id = factories.order(tenant_a)
    sign_in(client, tenant_a.people[Role.APPROVER])
    client.post(f"/orders/{order_id}/reject", data={"reason": ""})
    assert state_of(unscoped, order_id) == OrderState.AWAITING_APPROVAL
    client.post(f"/orders/{order_id}/reject", data={"reason": "Not this quarter"})
    assert state_of(unscoped, order_id) == OrderState.CANCELLED
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/orders/{order_id}").data.decode()
    assert "Rejected by" in page
    assert "Not this quarter" in page
    with unscoped():
        buyer = tenant_a.people[Role.BUYER].email
        subjects = db.session.scalars(
            select(OutboxEmail.subject).where(OutboxEmail.recipient == buyer)
        ).all()
        assert f"Order O-{order_id:06d} rejected" in subjects


def test_an_approver_of_another_customer_gets_404_by_url(client, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        order_id = factories.order(tenant_a)
        other = organization("Other Customer", OrgKind.CUSTOMER, tenant_a.vendor_id)
        stranger = person(other, Role.APPROVER)
    sign_in(client, stranger)
    assert client.get(f"/orders/{order_id}").status_code == 404
    assert client.post(f"/orders/{order_id}/approve").status_code == 404
    assert client.post(f"/orders/{order_id}/reject", data={"reason": "x"}).status_code == 404
    assert state_of(unscoped, order_id) == OrderState.AWAITING_APPROVAL


def test_buyers_and_vendor_staff_cannot_approve(client, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        order_id = factories.order(tenant_a)
    for role in (Role.BUYER, Role.VIEWER, Role.ADMIN, Role.CSM):
        sign_in(client, tenant_a.people[role])
        assert client.post(f"/orders/{order_id}/approve").status_code == 404
    with unscoped():
        order = db.session.get(Order, order_id)
        with pytest.raises(NotAllowed):
            orders.approve_order(factories.actor(tenant_a, Role.BUYER), order)
    assert state_of(unscoped, order_id) == OrderState.AWAITING_APPROVAL


def test_only_an_order_awaiting_approval_can_be_decided(app, tenant_a, unscoped):
    with unscoped():
        order_id = factories.order(tenant_a)
        order = db.session.get(Order, order_id)
        approver = factories.actor(tenant_a, Role.APPROVER)
        with pytest.raises(InvalidTransition):
            orders.approve_order(approver, order)
        with pytest.raises(InvalidTransition):
            orders.reject_order(approver, order, "no")


def test_a_vendor_admin_sets_the_threshold_on_the_organisation_page(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    url = f"/admin/organizations/{tenant_a.customer_id}"
    assert "Approval threshold" in client.get(url).data.decode()
    bad = client.post(url, data={"name": "Acme Software Customer", "approval_threshold": "lots"})
    assert "enter an amount" in bad.data.decode()
    for text in ("-5", "1e309"):
        refused = client.post(
            url, data={"name": "Acme Software Customer", "approval_threshold": text}
        )
        assert refused.status_code == 200
    client.post(url, data={"name": "Acme Software Customer", "approval_threshold": "2,500.50"})
    with unscoped():
        assert (
            db.session.get(Organization, tenant_a.customer_id).approval_threshold_minor == 250_050
        )
    assert 'value="2500.50"' in client.get(url).data.decode()
    client.post(url, data={"name": "Acme Software Customer", "approval_threshold": ""})
    with unscoped():
        assert db.session.get(Organization, tenant_a.customer_id).approval_threshold_minor is None
    partner = client.get(f"/admin/organizations/{tenant_a.partner_id}").data.decode()
    assert "Approval threshold" not in partner


def test_a_rejected_reason_is_required_by_the_service(app, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        order = db.session.get(Order, factories.order(tenant_a))
        with pytest.raises(ServiceError):
            orders.reject_order(factories.actor(tenant_a, Role.APPROVER), order, "  ")


def order_events(order_id: int) -> list[tuple[str, dict]]:
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.changes)
        .where(AuditEvent.object_type == "order", AuditEvent.object_id == order_id)
        .order_by(AuditEvent.id)
    )
    return [tuple(row) for row in rows]


def body_of(recipient: str, subject: str) -> str:
    return db.session.scalar(
        select(OutboxEmail.body).where(
            OutboxEmail.recipient == recipient, OutboxEmail.subject == subject
        )
    )


def test_an_approval_is_stamped_audited_and_mailed_to_the_buyer_with_its_reason(
    app, tenant_a, unscoped
):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        order = db.session.get(Order, factories.order(tenant_a))
        orders.approve_order(factories.actor(tenant_a, Role.APPROVER), order, " Budgeted ")
        order = db.session.get(Order, order.id)
        assert order.approval_decided_at is not None
        assert order_events(order.id)[1:] == [
            ("order.approved", {"reason": "Budgeted"}),
            ("order.confirmed", {"state": ["awaiting_approval", "confirmed"], "via": "approval"}),
        ]
        body = body_of(tenant_a.people[Role.BUYER].email, f"Order {order.reference} approved")
        assert body.startswith(f"Your order {order.reference} was approved.\n\nReason: Budgeted")


@pytest.mark.parametrize(
    "app_config", [{"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}]
)
def test_an_approved_card_order_waits_for_its_payment(app, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        factories.cart_line(tenant_a)
        order = db.session.get(Order, factories.place(tenant_a, route=PaymentRoute.CARD))
        orders.approve_order(factories.actor(tenant_a, Role.APPROVER), order)
        order = db.session.get(Order, order.id)
        assert order.state == OrderState.AWAITING_PAYMENT
        assert order_events(order.id)[1:] == [
            ("order.approved", {"reason": ""}),
            ("order.awaiting_payment", {"state": ["awaiting_approval", "awaiting_payment"]}),
        ]
        assert db.session.scalar(select(func.count()).select_from(Engagement)) == 0


def test_a_rejection_is_audited_as_the_approvers_and_mailed_with_its_reason(
    app, tenant_a, unscoped
):
    approver = tenant_a.people[Role.APPROVER]
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        order = db.session.get(Order, factories.order(tenant_a))
        orders.reject_order(factories.actor(tenant_a, Role.APPROVER), order, "Not this quarter")
        order = db.session.get(Order, order.id)
        assert order.cancelled_by_id == approver.user_id
        assert order_events(order.id)[-1] == (
            "order.cancelled",
            {
                "state": ["awaiting_approval", "cancelled"],
                "rejected": True,
                "reason": "Not this quarter",
            },
        )
        body = body_of(tenant_a.people[Role.BUYER].email, f"Order {order.reference} rejected")
        assert body.startswith(
            f"Your order {order.reference} was rejected.\n\nReason: Not this quarter"
        )


def test_deciding_an_order_that_does_not_wait_or_is_not_ones_own_says_why(app, tenant_a, unscoped):
    neighbour = tenant_a.neighbours[Role.APPROVER]
    stranger = Actor(
        neighbour.membership_id,
        neighbour.user_id,
        neighbour.organization_id,
        neighbour.vendor_id,
        Role.APPROVER,
    )
    with unscoped():
        order = db.session.get(Order, factories.order(tenant_a))
        with pytest.raises(InvalidTransition) as decided:
            orders.approve_order(factories.actor(tenant_a, Role.APPROVER), order)
        with pytest.raises(NotAllowed) as not_theirs:
            orders.approve_order(stranger, order)
    assert decided.value.message == f"Order {order.reference} is confirmed; nothing to approve."
    assert not_theirs.value.message == "You do not have permission to do that."
