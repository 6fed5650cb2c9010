"""Delivery managers allocating the same requested engagement at once: one allocation, the
others a clear message, never a server error. Real threads, each with its own client and
connection, on the lane's database (a SQLite file, or PostgreSQL with ``--database``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import Role
from delivery.models import Assignment, Engagement, EngagementState
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories
from tests.delivery import staffing
from tests.factories import person

RACERS = 8


@pytest.fixture
def app_config() -> dict[str, object]:
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RACERS + 2, "max_overflow": 0}}


def test_managers_allocating_one_requested_engagement_at_once_make_one_allocation(
    app, tenant_a, unscoped
):
    with unscoped():
        engagement_id = delivery_factories.engagement(tenant_a)
        resource_id = staffing.resource(tenant_a)
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        managers = [tenant_a.people[Role.DELIVERY_MANAGER]] + [
            person(vendor, Role.DELIVERY_MANAGER) for _ in range(RACERS - 1)
        ]
    clients = [sign_in(app.test_client(), manager) for manager in managers]
    data = {
        "target": f"resource:{resource_id}",
        "starts_on": "2030-01-07",
        "ends_on": "2030-01-11",
        "planned_hours": "8",
        "seen_assignments": "0",
    }
    barrier = Barrier(RACERS)

    def allocate(index: int) -> tuple[int, str]:
        barrier.wait(timeout=30)
        answer = clients[index].post(f"/engagements/{engagement_id}/allocate", data=data)
        return answer.status_code, answer.data.decode()

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        answers = list(pool.map(allocate, range(RACERS)))
    codes = sorted(code for code, _ in answers)
    assert codes == [302] + [409] * (RACERS - 1)
    assert all("was allocated meanwhile" in text for code, text in answers if code == 409)
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 1
        engagement = db.session.get(Engagement, engagement_id)
        assert engagement.state is EngagementState.SCHEDULED
        assert engagement.owner_id in {m.membership_id for m in managers}
        scheduled = select(func.count()).where(AuditEvent.action == "engagement.scheduled")
        assert db.session.scalar(scheduled) == 1
