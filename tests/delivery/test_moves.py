"""Every move of an engagement from every state by every role, through the services and
the pages: allowed ones move and notify, the rest are refused with a reason, nothing
changed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from catalog.models import ServletKind
from core.audit import AuditEvent
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import Role
from delivery import moves
from delivery.models import ENGAGEMENT_LIFE, Engagement, EngagementState
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories

E = EngagementState
OPEN = {E.REQUESTED, E.SCHEDULED, E.IN_PROGRESS, E.DELIVERED, E.ON_HOLD}
WORKERS = {Role.DELIVERY_MANAGER, Role.CONSULTANT, Role.PARTNER_CONSULTANT}
STOPPERS = {Role.DELIVERY_MANAGER, Role.ADMIN}
NOTE = moves.Delivery(note="Report uploaded; read-out held.", health_score=72, findings="SSO.")

# service name: (call, states it moves from, roles that may make it)
SERVICES: dict[str, tuple[Callable, set[E], set[Role]]] = {
    "start": (lambda a, e: moves.start(a, e), {E.SCHEDULED}, WORKERS),
    "deliver": (lambda a, e: moves.deliver(a, e, NOTE), {E.IN_PROGRESS}, WORKERS),
    "hold": (lambda a, e: moves.hold(a, e, "Customer away"), OPEN - {E.ON_HOLD}, STOPPERS),
    "resume": (lambda a, e: moves.resume(a, e), {E.ON_HOLD}, {Role.DELIVERY_MANAGER}),
    "cancel": (lambda a, e: moves.cancel(a, e, "Budget cut"), OPEN, STOPPERS),
}
TARGET = {
    "start": E.IN_PROGRESS,
    "deliver": E.DELIVERED,
    "hold": E.ON_HOLD,
    "cancel": E.CANCELLED,
}


def _events(engagement_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(
            AuditEvent.object_type == "engagement", AuditEvent.object_id == engagement_id
        )
    )


@pytest.mark.parametrize("state", list(E), ids=lambda s: s.value)
@pytest.mark.parametrize("name", list(SERVICES))
def test_every_move_from_every_state_by_every_role(app, tenant_a, unscoped, name, state):
    call, sources, movers = SERVICES[name]
    with unscoped():
        engagement_id = factories.working(
            tenant_a, state=state, roles=(Role.CONSULTANT, Role.PARTNER_CONSULTANT)
        )
        for role in Role:
            factories.put_in_state(engagement_id, state, started=True)
            before = _events(engagement_id)
            engagement = db.session.get(Engagement, engagement_id)
            allowed = state in sources and role in movers
            if allowed:
                call(actor(tenant_a, role), engagement)
                db.session.expire_all()
                moved = db.session.get(Engagement, engagement_id)
                expected = TARGET.get(name, E.IN_PROGRESS)  # resume: it had started
                assert moved.state is expected, role
                assert _events(engagement_id) == before + 1
                assert ENGAGEMENT_LIFE.exists(state, expected)
            else:
                refusal = NotAllowed if state in sources else (InvalidTransition, NotAllowed)
                with pytest.raises(refusal) as error:
                    call(actor(tenant_a, role), engagement)
                db.session.rollback()
                assert error.value.message, role
                assert db.session.get(Engagement, engagement_id).state is state, role
                assert _events(engagement_id) == before, role


def test_a_wrong_state_says_what_the_engagement_is(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=E.REQUESTED)
        engagement = db.session.get(Engagement, engagement_id)
        with pytest.raises(InvalidTransition, match="is requested; only a scheduled"):
            moves.start(actor(tenant_a, Role.CONSULTANT), engagement)


def test_a_consultant_not_assigned_cannot_move_it(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=E.SCHEDULED, roles=())
        engagement = db.session.get(Engagement, engagement_id)
        with pytest.raises(NotAllowed):
            moves.start(actor(tenant_a, Role.CONSULTANT), engagement)
        assert db.session.get(Engagement, engagement_id).state is E.SCHEDULED


def test_resume_returns_to_scheduled_when_work_had_not_started(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=E.SCHEDULED)
        manager = actor(tenant_a, Role.DELIVERY_MANAGER)
        moves.hold(manager, db.session.get(Engagement, engagement_id), "Customer away")
        moves.resume(manager, db.session.get(Engagement, engagement_id))
        assert db.session.get(Engagement, engagement_id).state is E.SCHEDULED


def test_a_health_check_is_delivered_with_its_score_and_findings(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, kind=ServletKind.HEALTH_CHECK)
        consultant = actor(tenant_a, Role.CONSULTANT)
        for bad, message in [
            (moves.Delivery(note="", health_score=50, findings="x"), "Delivery note"),
            (moves.Delivery(note="Done", health_score=None, findings="x"), "Health score"),
            (moves.Delivery(note="Done", health_score=101, findings="x"), "Health score"),
            (moves.Delivery(note="Done", health_score=-1, findings="x"), "Health score"),
            (moves.Delivery(note="Done", health_score=50, findings=" "), "Findings"),
        ]:
            with pytest.raises(ServiceError, match=message):
                moves.deliver(consultant, db.session.get(Engagement, engagement_id), bad)
            db.session.rollback()
            assert db.session.get(Engagement, engagement_id).state is E.IN_PROGRESS
        moves.deliver(consultant, db.session.get(Engagement, engagement_id), NOTE)
        delivered = db.session.get(Engagement, engagement_id)
        assert (delivered.health_score, delivered.findings) == (72, "SSO.")
        assert delivered.delivery_note == NOTE.note


def test_another_kind_needs_no_health_score(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, kind=ServletKind.ONBOARDING)
        note = moves.Delivery(note="Trained 40 users.")
        moves.deliver(
            actor(tenant_a, Role.CONSULTANT), db.session.get(Engagement, engagement_id), note
        )
        assert db.session.get(Engagement, engagement_id).health_score is None


def _mail_to(person) -> list[str]:
    return list(
        db.session.scalars(select(OutboxEmail.subject).where(OutboxEmail.recipient == person.email))
    )


def test_the_customers_buyers_hear_of_the_vendors_moves(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=E.SCHEDULED)
        consultant = actor(tenant_a, Role.CONSULTANT)
        moves.start(consultant, db.session.get(Engagement, engagement_id))
        moves.deliver(consultant, db.session.get(Engagement, engagement_id), NOTE)
        buyer = tenant_a.people[Role.BUYER]
        subjects = _mail_to(buyer)
        assert any("has started" in s for s in subjects)
        assert any("is delivered" in s for s in subjects)
        assert _mail_to(tenant_a.people[Role.APPROVER])
        assert not _mail_to(tenant_a.neighbours[Role.BUYER])


def test_a_cancelled_order_does_not_mail_the_customer_again(app, tenant_a, unscoped):
    from delivery.engagements import cancel_engagements
    from ordering.models import Order, OrderLine

    with unscoped():
        engagement_id = factories.engagement(tenant_a)
        line = db.session.get(OrderLine, db.session.get(Engagement, engagement_id).order_line_id)
        before = _mail_to(tenant_a.people[Role.BUYER])
        cancel_engagements(db.session.get(Order, line.order_id), "Changed our mind")
        db.session.commit()
        assert db.session.get(Engagement, engagement_id).state is E.CANCELLED
        assert _mail_to(tenant_a.people[Role.BUYER]) == before


def test_the_team_hears_when_the_customer_accepts_or_sends_back(app, tenant_a, unscoped):
    from core import states

    with unscoped():
        engagement_id = factories.working(tenant_a, state=E.DELIVERED)
        engagement = db.session.get(Engagement, engagement_id)
        engagement.owner_id = tenant_a.people[Role.DELIVERY_MANAGER].membership_id
        states.transition(
            ENGAGEMENT_LIFE, engagement, E.IN_PROGRESS, actor(tenant_a, Role.BUYER), "Missing"
        )
        db.session.commit()
        for role in (Role.CONSULTANT, Role.DELIVERY_MANAGER):
            assert any("sent back for rework" in s for s in _mail_to(tenant_a.people[role]))


@pytest.mark.parametrize("name", list(SERVICES))
def test_the_pages_make_the_moves_for_those_allowed_and_refuse_the_rest(
    client, tenant_a, unscoped, name
):
    _, sources, movers = SERVICES[name]
    state = sorted(sources, key=lambda s: s.value)[0]
    wrong = next(s for s in (E.ACCEPTED, E.CANCELLED) if s not in sources)
    data = {
        "delivery_note": "Done.",
        "hold-reason": "Away",
        "cancel-reason": "Budget",
        "cancel-confirm": "y",
    }
    with unscoped():
        engagement_id = factories.working(
            tenant_a,
            state=state,
            roles=(Role.CONSULTANT, Role.PARTNER_CONSULTANT),
            kind=ServletKind.ONBOARDING,
        )
    url = f"/engagements/{engagement_id}/{name}"
    for role in Role:
        with unscoped():
            factories.put_in_state(engagement_id, state, started=True)
        sign_in(client, tenant_a.people[role])
        response = client.post(url, data=data)
        with unscoped():
            now = db.session.get(Engagement, engagement_id).state
        if role in movers:
            assert response.status_code == 302, role
            assert now is not state, role
        else:
            assert response.status_code in (403, 404), role
            assert now is state, role
    sign_in(client, tenant_a.people[sorted(movers, key=lambda r: r.value)[0]])
    with unscoped():
        factories.put_in_state(engagement_id, wrong)
    response = client.post(url, data=data)
    assert response.status_code == 409
    assert f"is {wrong.label.lower()}".encode() in response.data
    with unscoped():
        assert db.session.get(Engagement, engagement_id).state is wrong


def test_cancelling_on_the_page_needs_a_reason_and_the_confirmation(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=E.SCHEDULED)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    url = f"/engagements/{engagement_id}/cancel"
    response = client.post(url, data={"cancel-reason": "Budget cut"})
    assert response.status_code == 400
    assert b"Tick the box to confirm" in response.data
    assert b"Budget cut" in response.data  # what was typed is kept
    with unscoped():
        assert db.session.get(Engagement, engagement_id).state is E.SCHEDULED
