"""The customer's answer to a delivery (accept, rework) and its one rating, as the customer's
people and the vendor's see them."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.errors import Conflict, InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.notifications import Notification
from core.permissions import Role
from delivery import acceptance
from delivery.models import Engagement, EngagementState
from ordering.models import Order, OrderLine, OrderState
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories

E = EngagementState


def delivered(tenant) -> int:
    return factories.working(tenant, E.DELIVERED)


def audits(engagement_id: int, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.object_type == "engagement",
                AuditEvent.object_id == engagement_id,
                AuditEvent.action == action,
            )
        )
    )


def state_of(engagement_id: int) -> E:
    db.session.expire_all()
    return db.session.get(Engagement, engagement_id).state


def test_a_buyer_accepts_a_delivery_is_asked_to_rate_and_the_order_completes(
    app, tenant_a, unscoped
):
    with unscoped():
        engagement_id = delivered(tenant_a)
        acceptance.accept(actor(tenant_a, Role.BUYER), db.session.get(Engagement, engagement_id))
        engagement = db.session.get(Engagement, engagement_id)
        assert engagement.state is E.ACCEPTED
        assert engagement.accepted_at is not None
        assert len(audits(engagement_id, "engagement.accepted")) == 1
        asked = db.session.scalars(
            select(Notification).where(Notification.kind == acceptance.RATING_ASKED)
        ).all()
        assert {n.user_id for n in asked} == {tenant_a.people[Role.BUYER].user_id}
        assert asked[0].link.endswith(f"/engagements/{engagement_id}/rate")
        order = db.session.scalar(
            select(Order).join(OrderLine).where(OrderLine.id == engagement.order_line_id)
        )
        assert order.state is OrderState.COMPLETED


def test_an_approver_who_accepts_is_asked_too_beside_the_buyers(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivered(tenant_a)
        acceptance.accept(actor(tenant_a, Role.APPROVER), db.session.get(Engagement, engagement_id))
        asked = set(
            db.session.scalars(
                select(Notification.user_id).where(Notification.kind == acceptance.RATING_ASKED)
            )
        )
        assert asked == {
            tenant_a.people[Role.BUYER].user_id,
            tenant_a.people[Role.APPROVER].user_id,
        }


def test_a_double_click_accepts_once_and_the_second_click_reads_why(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivered(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    first = client.post(f"/engagements/{engagement_id}/accept", follow_redirects=True)
    assert b"accepted. Thank you" in first.data
    second = client.post(f"/engagements/{engagement_id}/accept", follow_redirects=True)
    assert second.status_code == 200
    assert b"only a delivered engagement waits for your answer" in second.data
    with unscoped():
        assert len(audits(engagement_id, "engagement.accepted")) == 1


@pytest.mark.parametrize("state", [E.IN_PROGRESS, E.SCHEDULED, E.ACCEPTED, E.CANCELLED])
def test_only_a_delivered_engagement_can_be_accepted_or_sent_back(app, tenant_a, unscoped, state):
    with unscoped():
        engagement_id = factories.working(tenant_a, state)
        buyer = actor(tenant_a, Role.BUYER)
        with pytest.raises(InvalidTransition, match="only a delivered engagement"):
            acceptance.accept(buyer, db.session.get(Engagement, engagement_id))
        db.session.rollback()
        with pytest.raises(InvalidTransition):
            acceptance.request_rework(buyer, db.session.get(Engagement, engagement_id), "Redo")
        db.session.rollback()
        assert state_of(engagement_id) is state


def test_rework_needs_a_reason_and_sends_the_engagement_back_with_it(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivered(tenant_a)
        buyer = actor(tenant_a, Role.BUYER)
        for reason in ("", "   ", "x" * 1001):
            with pytest.raises(ServiceError, match="Reason"):
                acceptance.request_rework(buyer, db.session.get(Engagement, engagement_id), reason)
            db.session.rollback()
        assert state_of(engagement_id) is E.DELIVERED
    sign_in(client, tenant_a.people[Role.BUYER])
    empty = client.post(
        f"/engagements/{engagement_id}/rework", data={"reason": ""}, follow_redirects=True
    )
    assert b"say what to rework" in empty.data
    client.post(
        f"/engagements/{engagement_id}/rework", data={"reason": "The SSO section is missing."}
    )
    with unscoped():
        assert state_of(engagement_id) is E.IN_PROGRESS
        (event,) = audits(engagement_id, "engagement.in_progress")
        assert event.changes["reason"] == "The SSO section is missing."


def test_a_viewer_and_the_vendor_cannot_answer_for_the_customer(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivered(tenant_a)
        for role in (Role.VIEWER, Role.DELIVERY_MANAGER, Role.CONSULTANT):
            with pytest.raises(NotAllowed):
                acceptance.accept(actor(tenant_a, role), db.session.get(Engagement, engagement_id))
            db.session.rollback()
    for role in (Role.VIEWER, Role.CSM, Role.CONSULTANT):
        sign_in(client, tenant_a.people[role])
        assert client.post(f"/engagements/{engagement_id}/accept").status_code == 404
    with unscoped():
        assert state_of(engagement_id) is E.DELIVERED


def test_another_customers_buyer_gets_404_and_changes_nothing(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivered(tenant_a)
    sign_in(client, tenant_a.neighbours[Role.BUYER])
    assert client.post(f"/engagements/{engagement_id}/accept").status_code == 404
    assert (
        client.post(f"/engagements/{engagement_id}/rework", data={"reason": "x"}).status_code == 404
    )
    assert client.get(f"/engagements/{engagement_id}/rate").status_code == 404
    with unscoped():
        assert state_of(engagement_id) is E.DELIVERED


def test_the_engagement_page_offers_the_decision_to_buyers_only(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivered(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/engagements/{engagement_id}").data.decode()
    assert 'data-testid="accept-form"' in page
    assert 'data-testid="rework-form"' in page
    for role in (Role.VIEWER, Role.DELIVERY_MANAGER):
        sign_in(client, tenant_a.people[role])
        assert b'data-testid="accept-form"' not in client.get(f"/engagements/{engagement_id}").data


# --- the rating -----------------------------------------------------------------------------


def accepted(tenant) -> int:
    engagement_id = delivered(tenant)
    acceptance.accept(actor(tenant, Role.BUYER), db.session.get(Engagement, engagement_id))
    return engagement_id


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        (acceptance.Rating(None), "Satisfaction"),
        (acceptance.Rating(0), "Satisfaction"),
        (acceptance.Rating(6), "Satisfaction"),
        (acceptance.Rating(4, nps=11), "Recommendation"),
        (acceptance.Rating(4, nps=-1), "Recommendation"),
        (acceptance.Rating(4, comment="x" * 1001), "Comment"),
    ],
)
def test_a_rating_out_of_range_is_refused(app, tenant_a, unscoped, rating, message):
    with unscoped():
        engagement_id = accepted(tenant_a)
        with pytest.raises(ServiceError, match=message):
            acceptance.rate(
                actor(tenant_a, Role.BUYER), db.session.get(Engagement, engagement_id), rating
            )
        db.session.rollback()
        assert db.session.get(Engagement, engagement_id).rated_at is None


def test_one_rating_per_engagement_stored_audited_and_shown_to_the_vendor(
    client, tenant_a, unscoped
):
    with unscoped():
        engagement_id = accepted(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    form = client.get(f"/engagements/{engagement_id}/rate")
    assert b'data-testid="rating-form"' in form.data
    sent = client.post(
        f"/engagements/{engagement_id}/rate",
        data={"csat": "4", "comment": "Clear read-out.", "nps": "9"},
        follow_redirects=True,
    )
    assert b"Thank you for your rating" in sent.data
    again = client.post(f"/engagements/{engagement_id}/rate", data={"csat": "1"})
    assert again.status_code == 409
    assert b"already rated" in again.data
    with unscoped():
        engagement = db.session.get(Engagement, engagement_id)
        assert (engagement.csat, engagement.nps, engagement.csat_comment) == (
            4,
            9,
            "Clear read-out.",
        )
        assert engagement.rated_by_id == tenant_a.people[Role.BUYER].membership_id
        (event,) = audits(engagement_id, "engagement.rated")
        assert event.changes["csat"] == 4
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    page = client.get(f"/engagements/{engagement_id}").data.decode()
    assert "4 of 5" in page
    assert "Clear read-out." in page


def test_a_rating_form_sent_wrong_keeps_what_was_typed(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = accepted(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    refused = client.post(
        f"/engagements/{engagement_id}/rate", data={"csat": "9", "comment": "Kept text"}
    )
    assert refused.status_code == 400
    assert b"Kept text" in refused.data
    with unscoped():
        assert db.session.get(Engagement, engagement_id).rated_at is None


def test_a_viewer_cannot_rate_nor_rate_before_acceptance(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = accepted(tenant_a)
        waiting_id = delivered(tenant_a)
        with pytest.raises(InvalidTransition, match="once it is accepted"):
            acceptance.rate(
                actor(tenant_a, Role.BUYER),
                db.session.get(Engagement, waiting_id),
                acceptance.Rating(5),
            )
        db.session.rollback()
    sign_in(client, tenant_a.people[Role.VIEWER])
    assert b'data-testid="rating-form"' not in client.get(f"/engagements/{engagement_id}/rate").data
    assert client.post(f"/engagements/{engagement_id}/rate", data={"csat": "5"}).status_code == 404
    with unscoped():
        assert db.session.scalar(select(func.count()).where(Engagement.rated_at.is_not(None))) == 0


def test_a_second_rating_by_the_service_is_a_conflict(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = accepted(tenant_a)
        buyer = actor(tenant_a, Role.BUYER)
        acceptance.rate(buyer, db.session.get(Engagement, engagement_id), acceptance.Rating(5))
        with pytest.raises(Conflict):
            acceptance.rate(
                actor(tenant_a, Role.APPROVER),
                db.session.get(Engagement, engagement_id),
                acceptance.Rating(1),
            )
        db.session.rollback()
        assert db.session.get(Engagement, engagement_id).csat == 5


def test_a_buyer_and_an_approver_accepting_at_once_accept_once(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivered(tenant_a)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def answer(role: Role) -> None:
        with unscoped():
            start.wait()
            try:
                acceptance.accept(actor(tenant_a, role), db.session.get(Engagement, engagement_id))
                outcomes.append("accepted")
            except InvalidTransition as refusal:
                db.session.rollback()
                outcomes.append(refusal.message)

    threads = [threading.Thread(target=answer, args=(r,)) for r in (Role.BUYER, Role.APPROVER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [
        "Engagement E-000001 is accepted; only a delivered engagement waits for your answer.",
        "accepted",
    ]
    with unscoped():
        assert len(audits(engagement_id, "engagement.accepted")) == 1
