"""Time: logged by assignees within the day's 24 hours, decided once by the delivery manager,
costed at the rate then; the consultant's own list and the approval page."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Role
from delivery import time_entries
from delivery.models import Engagement, EngagementState, Resource, TimeEntry, TimeEntryState
from delivery.time_entries import Hours
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories

E = EngagementState


def _log(tenant, engagement_id, hours, day=None, role=Role.CONSULTANT, note=""):
    today = factories.yesterday() + timedelta(days=1)
    return time_entries.log_time(
        actor(tenant, role),
        db.session.get(Engagement, engagement_id),
        Hours(day or factories.yesterday(), Decimal(hours), note),
        today,
    )


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(TimeEntry))


@pytest.mark.parametrize(
    ("hours", "day_offset", "note", "message"),
    [
        ("-2", -1, "", "more than 0"),
        ("0", -1, "", "more than 0"),
        ("24.5", -1, "", "at most 24"),
        ("3", 1, "", "not days to come"),
        ("3", -1, "x" * 501, "at most 500"),
    ],
)
def test_bad_hours_are_refused_with_a_reason(
    app, tenant_a, unscoped, hours, day_offset, note, message
):
    with unscoped():
        engagement_id = factories.working(tenant_a)
        day = factories.yesterday() + timedelta(days=1 + day_offset)
        with pytest.raises(ServiceError, match=message):
            _log(tenant_a, engagement_id, hours, day=day, note=note)
        db.session.rollback()
        assert _count() == 0


def test_a_day_holds_at_most_24_hours_over_all_engagements(app, tenant_a, unscoped):
    with unscoped():
        first = factories.working(tenant_a)
        second = factories.working(tenant_a)
        _log(tenant_a, first, "16")
        with pytest.raises(ServiceError, match="already logged 16 hours"):
            _log(tenant_a, second, "9")
        db.session.rollback()
        _log(tenant_a, second, "8")
        assert _count() == 2
        # rejected time does not count against the day
        manager = actor(tenant_a, Role.DELIVERY_MANAGER)
        ids = list(db.session.scalars(select(TimeEntry.id)))
        time_entries.decide(manager, ids[:1], approve=False, reason="Wrong engagement")
        _log(tenant_a, second, "10")


@pytest.mark.parametrize("state", [E.REQUESTED, E.ACCEPTED, E.CANCELLED])
def test_no_time_on_an_engagement_not_under_way(app, tenant_a, unscoped, state):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=state)
        with pytest.raises(ServiceError, match="time is logged while"):
            _log(tenant_a, engagement_id, "2")
        db.session.rollback()
        assert _count() == 0


@pytest.mark.parametrize("state", [E.SCHEDULED, E.IN_PROGRESS, E.DELIVERED, E.ON_HOLD])
def test_time_is_logged_while_the_engagement_lasts(app, tenant_a, unscoped, state):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=state)
        _log(tenant_a, engagement_id, "1.5")
        assert _count() == 1


def test_only_an_assignee_logs_time(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, roles=(Role.CONSULTANT,))
        factories.resource(tenant_a, Role.PARTNER_CONSULTANT)
        for role in (Role.PARTNER_CONSULTANT, Role.DELIVERY_MANAGER, Role.BUYER):
            with pytest.raises(NotAllowed):
                _log(tenant_a, engagement_id, "2", role=role)
            db.session.rollback()
        assert _count() == 0


def test_approval_costs_time_at_the_rate_and_a_partner_at_nothing(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(
            tenant_a, roles=(Role.CONSULTANT, Role.PARTNER_CONSULTANT)
        )
        own = _log(tenant_a, engagement_id, "2.5").id  # at 100.00 an hour
        partner = _log(tenant_a, engagement_id, "3", role=Role.PARTNER_CONSULTANT).id
        manager = actor(tenant_a, Role.DELIVERY_MANAGER)
        assert time_entries.decide(manager, [own, partner], approve=True) == 2
        assert db.session.get(TimeEntry, own).cost_minor == 25_000
        assert db.session.get(TimeEntry, partner).cost_minor == 0
        assert db.session.get(TimeEntry, own).state is TimeEntryState.APPROVED
        # a second approval of the same entries decides nothing more
        assert time_entries.decide(manager, [own, partner], approve=True) == 0
        assert (
            db.session.scalar(
                select(func.count()).where(AuditEvent.action == "time_entry.approved")
            )
            == 2
        )


def test_rejecting_needs_a_reason_and_only_the_delivery_manager_decides(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
        entry_id = _log(tenant_a, engagement_id, "2").id
        with pytest.raises(ServiceError, match="Reason"):
            time_entries.decide(actor(tenant_a, Role.DELIVERY_MANAGER), [entry_id], False, " ")
        for role in (Role.ADMIN, Role.CONSULTANT, Role.FINANCE):
            with pytest.raises(NotAllowed):
                time_entries.decide(actor(tenant_a, role), [entry_id], approve=True)
        assert db.session.get(TimeEntry, entry_id).state is TimeEntryState.SUBMITTED


def test_own_submitted_entries_are_edited_or_deleted_decided_ones_not(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, roles=(Role.CONSULTANT,))
        consultant = actor(tenant_a, Role.CONSULTANT)
        today = factories.yesterday() + timedelta(days=1)
        entry_id = _log(tenant_a, engagement_id, "2").id
        time_entries.edit_time(consultant, entry_id, Hours(today, Decimal(4), "Review"), today)
        assert db.session.get(TimeEntry, entry_id).hours == Decimal(4)
        with pytest.raises(ServiceError, match="at most 24"):
            time_entries.edit_time(consultant, entry_id, Hours(today, Decimal(25)), today)
        db.session.rollback()
        factories.resource(tenant_a, Role.PARTNER_CONSULTANT)
        with pytest.raises(NotAllowed):
            time_entries.delete_time(actor(tenant_a, Role.PARTNER_CONSULTANT), entry_id)
        db.session.rollback()
        time_entries.decide(actor(tenant_a, Role.DELIVERY_MANAGER), [entry_id], approve=True)
        with pytest.raises(ServiceError, match="approved"):
            time_entries.delete_time(consultant, entry_id)
        db.session.rollback()
        other = _log(tenant_a, engagement_id, "1").id
        time_entries.delete_time(consultant, other)
        assert db.session.get(TimeEntry, other) is None


def test_two_delivery_managers_approving_at_once_approve_once(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
        entry_id = _log(tenant_a, engagement_id, "2").id
    results: list[int] = []
    barrier = threading.Barrier(2)

    def approve() -> None:
        with unscoped():
            barrier.wait()
            manager = actor(tenant_a, Role.DELIVERY_MANAGER)
            results.append(time_entries.decide(manager, [entry_id], approve=True))
            db.session.remove()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    with unscoped():
        events = select(func.count()).where(AuditEvent.action == "time_entry.approved")
        assert db.session.scalar(events) == 1


def test_the_pages_log_list_approve_and_refuse(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    day = factories.yesterday().isoformat()
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    url = f"/engagements/{engagement_id}/time"
    refused = client.post(url, data={"day": day, "hours": "-3", "note": "Kick-off"})
    assert refused.status_code == 400
    assert b"more than 0" in refused.data
    assert b"Kick-off" in refused.data  # what was typed is kept
    too_many = client.post(url, data={"day": day, "hours": "30"})
    assert too_many.status_code == 400
    assert (
        client.post(url, data={"day": day, "hours": "2.5", "note": "Kick-off"}).status_code == 302
    )
    mine = client.get("/time").data.decode()
    assert "Kick-off" in mine
    assert "Submitted" in mine
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    listing = client.get("/time/approvals")
    assert b"Kick-off" in listing.data
    with unscoped():
        entry_id = db.session.scalar(select(TimeEntry.id))
    no_reason = client.post("/time/approvals", data={"entry": entry_id, "decision": "reject"})
    assert no_reason.status_code == 302
    with unscoped():
        assert db.session.get(TimeEntry, entry_id).state is TimeEntryState.SUBMITTED
    client.post("/time/approvals", data={"entry": [entry_id, "x"], "decision": "approve"})
    with unscoped():
        assert db.session.get(TimeEntry, entry_id).state is TimeEntryState.APPROVED
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert b"Approved" in client.get("/time").data
    assert client.get(f"/time/{entry_id}/edit").status_code == 200
    assert client.post(f"/time/{entry_id}/delete").status_code == 302  # refused, said why
    with unscoped():
        assert db.session.get(TimeEntry, entry_id) is not None


def test_time_pages_by_role(client, tenant_a, unscoped):
    with unscoped():
        entry_id = factories.time_entry(tenant_a)
        factories.resource(tenant_a, Role.PARTNER_CONSULTANT)
    for role in Role:
        sign_in(client, tenant_a.people[role])
        mine = client.get("/time").status_code
        approvals = client.get("/time/approvals").status_code
        edit = client.get(f"/time/{entry_id}/edit").status_code
        assert mine == (200 if role in (Role.CONSULTANT, Role.PARTNER_CONSULTANT) else 403), role
        assert approvals == (200 if role is Role.DELIVERY_MANAGER else 403), role
        assert edit == (200 if role is Role.CONSULTANT else 404), role
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert b"My time" in client.get("/time").data
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert b"Time to approve" in client.get("/time/approvals").data
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Resource)) == 2
