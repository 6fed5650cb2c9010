"""Delivery's jobs: auto-accept, the CSAT reminder and the SLA watch, each acting once, also
when two schedulers run it at the same moment (real threads on the lane's database)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.notifications import Notification
from core.permissions import Role
from delivery import acceptance, jobs
from delivery.models import Engagement, EngagementState, SlaBreach
from tests.delivery import factories
from tests.scheduled_jobs import run_at_once, run_once

E = EngagementState


def in_state(tenant, state: E, **stamps) -> int:
    engagement_id = factories.working(tenant, state)
    engagement = db.session.get(Engagement, engagement_id)
    for name, value in stamps.items():
        setattr(engagement, name, value)
    db.session.commit()
    return engagement_id


def kinds(kind: str) -> Counter[int]:
    return Counter(
        db.session.scalars(select(Notification.user_id).where(Notification.kind == kind))
    )


# --- auto-accept ------------------------------------------------------------------------------


def test_an_unanswered_delivery_is_accepted_by_the_system_after_the_vendors_days(
    app, tenant_a, unscoped
):
    with unscoped():
        db.session.get(Organization, tenant_a.vendor_id).auto_accept_days = 7
        old = in_state(tenant_a, E.DELIVERED, delivered_at=utcnow() - timedelta(days=7, hours=1))
        recent = in_state(tenant_a, E.DELIVERED, delivered_at=utcnow() - timedelta(days=6))
    assert run_once(app, jobs.auto_accept_deliveries) == 1
    assert run_once(app, jobs.auto_accept_deliveries) == 0
    with unscoped():
        assert db.session.get(Engagement, old).state is E.ACCEPTED
        assert db.session.get(Engagement, recent).state is E.DELIVERED
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "engagement.accepted", AuditEvent.object_id == old
            )
        )
        assert event.actor_id is None
        assert "accepted automatically" in event.changes["reason"]
        told = db.session.scalar(
            select(Notification).where(Notification.kind == acceptance.RATING_ASKED)
        )
        assert told.user_id == tenant_a.people[Role.BUYER].user_id
        assert "accepted automatically" in told.body


def test_two_schedulers_auto_accept_each_delivery_once(app, tenant_a, unscoped):
    with unscoped():
        ids = [
            in_state(tenant_a, E.DELIVERED, delivered_at=utcnow() - timedelta(days=11))
            for _ in range(3)
        ]
    assert sum(run_at_once(app, jobs.auto_accept_deliveries)) == 3
    assert run_once(app, jobs.auto_accept_deliveries) == 0
    with unscoped():
        accepted = Counter(
            db.session.scalars(
                select(AuditEvent.object_id).where(AuditEvent.action == "engagement.accepted")
            )
        )
        assert accepted == Counter(ids)
        assert kinds(acceptance.RATING_ASKED) == {tenant_a.people[Role.BUYER].user_id: 3}


# --- CSAT reminder ----------------------------------------------------------------------------


def test_one_reminder_to_rate_never_two_and_none_once_rated(app, tenant_a, unscoped):
    with unscoped():
        long_ago = utcnow() - timedelta(days=4)
        unrated = in_state(tenant_a, E.ACCEPTED, accepted_at=long_ago)
        in_state(tenant_a, E.ACCEPTED, accepted_at=long_ago, rated_at=utcnow(), csat=5)
        in_state(tenant_a, E.ACCEPTED, accepted_at=utcnow() - timedelta(days=1))
    assert sum(run_at_once(app, jobs.remind_to_rate)) == 1
    assert run_once(app, jobs.remind_to_rate) == 0
    with unscoped():
        assert db.session.get(Engagement, unrated).csat_reminded_at is not None
        assert kinds(acceptance.RATING_ASKED) == {tenant_a.people[Role.BUYER].user_id: 1}


# --- SLA watch ------------------------------------------------------------------------------


def test_a_late_start_and_a_late_delivery_alert_the_owner_and_the_csm_once(app, tenant_a, unscoped):
    yesterday = utcnow().date() - timedelta(days=1)
    with unscoped():
        db.session.get(Organization, tenant_a.customer_id).csm_id = tenant_a.people[
            Role.CSM
        ].membership_id
        owner = tenant_a.people[Role.CONSULTANT].membership_id
        late = in_state(
            tenant_a, E.SCHEDULED, start_by=yesterday, deliver_by=yesterday, owner_id=owner
        )
        in_state(tenant_a, E.IN_PROGRESS, start_by=yesterday, deliver_by=utcnow().date())
        in_state(tenant_a, E.DELIVERED, start_by=yesterday, deliver_by=yesterday)
    assert sum(run_at_once(app, jobs.watch_slas)) == 2
    assert run_once(app, jobs.watch_slas) == 0
    with unscoped():
        breaches = db.session.execute(select(SlaBreach.engagement_id, SlaBreach.kind)).all()
        assert sorted(breaches) == [(late, "deliver"), (late, "start")]
        assert kinds(jobs.SLA_BREACHED) == {
            tenant_a.people[Role.CONSULTANT].user_id: 2,
            tenant_a.people[Role.CSM].user_id: 2,
        }


def test_without_an_owner_the_delivery_managers_hear_and_a_moved_date_is_a_new_breach(
    app, tenant_a, unscoped
):
    yesterday = utcnow().date() - timedelta(days=1)
    with unscoped():
        late = in_state(tenant_a, E.ON_HOLD, start_by=yesterday, deliver_by=yesterday)
    assert run_once(app, jobs.watch_slas) == 1  # on hold: only the delivery date counts
    with unscoped():
        assert kinds(jobs.SLA_BREACHED) == {tenant_a.people[Role.DELIVERY_MANAGER].user_id: 1}
        db.session.get(Engagement, late).deliver_by = yesterday - timedelta(days=1)
        db.session.commit()
    assert run_once(app, jobs.watch_slas) == 1
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(SlaBreach)) == 2
