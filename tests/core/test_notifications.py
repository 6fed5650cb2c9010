"""Notifications: written with the event that causes them, shown under a bell counted in the
identity statement, read one by one or all at once, and emailed only to people who want that
kind of email (security emails always)."""

from __future__ import annotations

from sqlalchemy import func, select

from core import notifications
from core.extensions import db
from core.mail import OutboxEmail
from core.notifications import EmailOptOut, Notification
from core.permissions import Role
from ordering.models import Cart, CartLine
from ordering.notifications import APPROVAL_REQUESTED
from tests.catalog import factories as catalog_factories
from tests.conftest import sign_in
from tests.ordering import factories


def notes_of(user_id: int) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        )
    )


def emails_to(email: str) -> list[str]:
    return list(
        db.session.scalars(select(OutboxEmail.subject).where(OutboxEmail.recipient == email))
    )


def test_an_order_over_the_threshold_notifies_the_approver_in_the_app_and_by_email(
    app, tenant_a, unscoped
):
    approver = tenant_a.people[Role.APPROVER]
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        factories.order(tenant_a)
        [note] = notes_of(approver.user_id)
        assert note.kind == APPROVAL_REQUESTED
        assert note.title.startswith("Approval needed: order ")
        assert note.read_at is None
        assert emails_to(approver.email) == [note.title]


def test_someone_who_turned_an_email_off_still_sees_the_notification_in_the_app(
    client, tenant_a, unscoped
):
    approver = tenant_a.people[Role.APPROVER]
    sign_in(client, approver)
    page = client.get("/notifications/preferences").data.decode()
    assert "An order waits for my approval" in page
    assert client.post("/notifications/preferences", data={}).status_code == 302
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(EmailOptOut)) == len(
            notifications.kinds()
        )
        factories.set_threshold(tenant_a, 0)
        factories.order(tenant_a)
        assert len(notes_of(approver.user_id)) == 1
        assert emails_to(approver.email) == []
    client.post("/notifications/preferences", data={"email": [APPROVAL_REQUESTED, "made-up"]})
    with unscoped():
        assert notifications.email_choices(approver.user_id)[APPROVAL_REQUESTED] is True
        assert db.session.scalar(select(func.count()).where(EmailOptOut.kind == "made-up")) == 0


def test_a_password_reset_is_emailed_even_to_someone_who_turned_every_email_off(
    client, tenant_a, unscoped
):
    buyer = tenant_a.people[Role.BUYER]
    sign_in(client, buyer)
    client.post("/notifications/preferences", data={})
    client.post("/sign-out")
    client.post("/password/forgot", data={"email": buyer.email})
    with unscoped():
        assert emails_to(buyer.email) == ["Reset your Servlet Desk password"]


def test_the_bell_shows_the_unread_count_and_the_list_marks_them_read(client, tenant_a, unscoped):
    approver = tenant_a.people[Role.APPROVER]
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        factories.order(tenant_a)
        factories.order(tenant_a)
        first, _second = (n.id for n in notes_of(approver.user_id))
    sign_in(client, approver)
    home = client.get("/").data.decode()
    assert 'data-testid="unread-count">2<' in home
    listed = client.get("/notifications").data.decode()
    assert listed.count("Approval needed: order ") == 2

    opened = client.post(f"/notifications/{first}/read")
    assert opened.status_code == 302
    assert "/orders/" in opened.headers["Location"]
    assert 'data-testid="unread-count">1<' in client.get("/").data.decode()

    client.post("/notifications/read")
    assert b'data-testid="unread-count"' not in client.get("/").data
    assert b"Mark all read" not in client.get("/notifications").data


def test_nobody_reads_or_marks_another_persons_notification(client, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        factories.order(tenant_a)
        [note] = notes_of(tenant_a.people[Role.APPROVER].user_id)
        note_id = note.id
    sign_in(client, tenant_a.people[Role.BUYER])
    assert client.post(f"/notifications/{note_id}/read").status_code == 404
    assert b"Approval needed" not in client.get("/notifications").data
    client.post("/notifications/read")
    with unscoped():
        assert db.session.get(Notification, note_id).read_at is None


def test_a_recommendation_notifies_the_customers_buyers_and_approvers(tenant_a, unscoped):
    with unscoped():
        servlet_id, _ = catalog_factories.shop(tenant_a, title="Adoption Accelerator")
        catalog_factories.recommendation(tenant_a, servlet_id)
        told = {
            role: [n.title for n in notes_of(tenant_a.people[role].user_id)]
            for role in (Role.BUYER, Role.APPROVER, Role.VIEWER, Role.CSM)
        }
        buyer_email = emails_to(tenant_a.people[Role.BUYER].email)
    title = "Recommended for Acme Software Customer: Adoption Accelerator"
    assert told == {Role.BUYER: [title], Role.APPROVER: [title], Role.VIEWER: [], Role.CSM: []}
    assert buyer_email == [title]


def test_order_now_on_a_recommendation_opens_checkout_with_it_in_the_cart_once(
    client, tenant_a, unscoped
):
    with unscoped():
        servlet_id, catalog_id = catalog_factories.shop(tenant_a, title="Adoption Accelerator")
        catalog_factories.recommendation(tenant_a, servlet_id)
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/catalog/servlets/{servlet_id}").data.decode()
    assert 'data-testid="order-now"' in page
    form = {"servlet_id": servlet_id, "catalog_id": catalog_id, "quantity": 1, "then": "checkout"}
    for _ in range(2):
        answer = client.post("/cart/add", data=form)
        assert answer.status_code == 302
        assert answer.headers["Location"].endswith("/checkout")
    assert b"Adoption Accelerator" in client.get("/checkout").data
    with unscoped():
        lines = list(db.session.scalars(select(CartLine).join(Cart)))
        assert [(line.servlet_id, line.quantity) for line in lines] == [(servlet_id, 1)]
        assert lines[0].recommendation_id is not None
