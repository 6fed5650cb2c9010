"""Allocation: suggestions ranked by skills then free hours, an over-capacity warning that
needs confirming, the first allocation scheduling the engagement, partners naming their
consultant, and everything a manager could get wrong refused with why, nothing changed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import render_template
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from accounts.models import Organization
from core.audit import AuditEvent
from core.errors import ServiceError
from core.extensions import db
from core.notifications import Notification
from core.permissions import OrgKind, Role
from delivery import allocation, policies
from delivery.capacity import Window
from delivery.models import Assignment, Engagement, EngagementState, Holiday, Resource, TimeOff
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories
from tests.delivery import staffing
from tests.factories import organization, person

MONDAY, FRIDAY = date(2030, 1, 7), date(2030, 1, 11)
SKILLS = ["SSO", "Reporting", "Data migration"]


def count(*criteria) -> int:
    return db.session.scalar(select(func.count()).where(*criteria))


def form(target: str, hours: str = "16", **overrides: str) -> dict[str, str]:
    fields = {
        "target": target,
        "starts_on": MONDAY.isoformat(),
        "ends_on": FRIDAY.isoformat(),
        "planned_hours": hours,
        "seen_assignments": "0",
    }
    return fields | overrides


@pytest.fixture
def engagement_id(tenant_a, unscoped) -> int:
    with unscoped():
        return delivery_factories.engagement(tenant_a, required_skills=SKILLS, effort_hours=24)


@pytest.fixture
def manager(client, tenant_a):
    return sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])


def test_suggestions_rank_by_skills_covered_then_free_hours(tenant_a, unscoped, engagement_id):
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        busy_expert = staffing.resource(tenant_a, skills="sso, Reporting, Data migration")
        idle_expert = staffing.resource(
            tenant_a, person(vendor, Role.CONSULTANT), skills="SSO, Reporting, Data Migration"
        )
        generalist = staffing.resource(
            tenant_a, person(vendor, Role.CONSULTANT), skills="Reporting", weekly_hours=80
        )
        novice = staffing.resource(tenant_a, person(vendor, Role.CONSULTANT), skills="")
        db.session.add(
            TimeOff(
                vendor_id=tenant_a.vendor_id,
                resource_id=busy_expert,
                starts_on=MONDAY,
                ends_on=date(2030, 1, 8),
            )
        )
        db.session.add(Holiday(vendor_id=tenant_a.vendor_id, day=FRIDAY, name="Closed"))
        db.session.commit()
        engagement = db.session.scalar(
            select(Engagement)
            .where(Engagement.id == engagement_id)
            .options(joinedload(Engagement.servlet_version))
        )
        ranked = allocation.suggestions(engagement, Window(MONDAY, FRIDAY))
        assert [s.resource.id for s in ranked] == [idle_expert, busy_expert, generalist, novice]
        assert [str(s.load.free) for s in ranked] == ["32.00", "16.00", "64.00", "32.00"]
        assert ranked[0].covered == SKILLS
        assert ranked[0].missing == []
        assert (ranked[2].covered, ranked[2].missing) == (["Reporting"], ["SSO", "Data migration"])


def test_the_allocation_page_shows_covered_and_missing_skills_and_free_hours(
    manager, tenant_a, unscoped, engagement_id
):
    with unscoped():
        staffing.resource(tenant_a, skills="SSO")
    page = manager.get(f"/engagements/{engagement_id}/allocate?from=2030-01-07&to=2030-01-11")
    text = page.data.decode()
    assert page.status_code == 200
    assert "1 of 3: SSO" in text
    assert "Reporting, Data migration" in text
    assert "40 of 40" in text
    assert 'value="24.00"' in text  # planned hours default to the version's effort


def test_the_first_allocation_schedules_the_engagement_owned_by_its_manager(
    manager, tenant_a, unscoped, engagement_id
):
    with unscoped():
        resource_id = staffing.resource(tenant_a, skills="SSO")
    answer = manager.post(
        f"/engagements/{engagement_id}/allocate", data=form(f"resource:{resource_id}")
    )
    assert answer.status_code == 302
    with unscoped():
        engagement = db.session.get(Engagement, engagement_id)
        assert engagement.state is EngagementState.SCHEDULED
        assert engagement.scheduled_at is not None
        assert engagement.owner_id == tenant_a.people[Role.DELIVERY_MANAGER].membership_id
        made = db.session.scalar(select(Assignment))
        assert (made.resource_id, made.starts_on, made.ends_on, made.planned_hours) == (
            resource_id,
            MONDAY,
            FRIDAY,
            Decimal(16),
        )
        assert count(AuditEvent.action == "assignment.created") == 1
        assert count(AuditEvent.action == "engagement.scheduled") == 1
        consultant = tenant_a.people[Role.CONSULTANT]
        assert (
            count(
                Notification.user_id == consultant.user_id, Notification.kind == allocation.ASSIGNED
            )
            == 1
        )
    later = manager.post(
        f"/engagements/{engagement_id}/allocate",
        data=form(f"resource:{resource_id}", seen_assignments="1", hours="8"),
    )
    assert later.status_code == 302
    with unscoped():
        assert count(Assignment.id.is_not(None)) == 2
        assert db.session.get(Engagement, engagement_id).state is EngagementState.SCHEDULED


def test_over_capacity_warns_and_needs_confirmation(manager, tenant_a, unscoped, engagement_id):
    with unscoped():
        resource_id = staffing.resource(tenant_a, weekly_hours=20)
    url = f"/engagements/{engagement_id}/allocate"
    warned = manager.post(url, data=form(f"resource:{resource_id}", hours="24"))
    text = warned.data.decode()
    assert warned.status_code == 200
    assert 'data-testid="over-capacity"' in text
    assert "20 free hours" in text
    assert "24 of 20" in text
    assert 'name="confirm_over_capacity"' in text
    assert 'value="24"' in text  # what was typed is kept
    with unscoped():
        assert count(Assignment.id.is_not(None)) == 0
        assert db.session.get(Engagement, engagement_id).state is EngagementState.REQUESTED
    confirmed = manager.post(
        url, data=form(f"resource:{resource_id}", hours="24", confirm_over_capacity="y")
    )
    assert confirmed.status_code == 302
    with unscoped():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "assignment.created")
        )
        assert event.changes["over_capacity_confirmed"] is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ends_on": "2030-01-06"}, "ends on or after the day it starts"),
        ({"ends_on": "2031-06-01"}, "at most 366 days"),
        ({"planned_hours": "0"}, "more than 0"),
        ({"planned_hours": "-4"}, "more than 0"),
        ({"planned_hours": "2000.01"}, "at most 2,000"),
        ({"planned_hours": "99999999"}, "at most 4 digits"),
        ({"planned_hours": "lots"}, "Enter a plain number"),
        ({"planned_hours": "1e3"}, "Enter a plain number"),
        ({"starts_on": "07/01/2030"}, "Enter a date as YYYY-MM-DD"),
        ({"target": ""}, "Choose a resource or a partner"),
    ],
)
def test_bad_allocations_are_refused_with_a_message_and_change_nothing(
    manager, tenant_a, unscoped, engagement_id, overrides, message
):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
    answer = manager.post(
        f"/engagements/{engagement_id}/allocate", data=form(f"resource:{resource_id}") | overrides
    )
    assert answer.status_code == 400
    assert message in answer.data.decode()
    with unscoped():
        assert count(Assignment.id.is_not(None)) == 0
        assert db.session.get(Engagement, engagement_id).state is EngagementState.REQUESTED


def test_another_vendors_resource_or_partner_cannot_be_allocated(
    manager, tenant_a, tenant_b, unscoped, engagement_id
):
    with unscoped():
        theirs = staffing.resource(tenant_b)
        inactive = staffing.resource(
            tenant_a,
            person(db.session.get(Organization, tenant_a.vendor_id), Role.CONSULTANT),
        )
        db.session.get(Resource, inactive).active = False
        db.session.commit()
    url = f"/engagements/{engagement_id}/allocate"
    for target in (f"resource:{theirs}", f"partner:{tenant_b.partner_id}", f"resource:{inactive}"):
        answer = manager.post(url, data=form(target))
        assert answer.status_code == 400, target
        assert "Not a valid choice" in answer.data.decode()
    with unscoped():
        engagement = db.session.get(Engagement, engagement_id)
        manager_actor = actor(tenant_a, Role.DELIVERY_MANAGER)
        for wrong in (
            allocation.Allocation(MONDAY, FRIDAY, Decimal(8), resource_id=theirs),
            allocation.Allocation(MONDAY, FRIDAY, Decimal(8), partner_id=tenant_b.partner_id),
            allocation.Allocation(MONDAY, FRIDAY, Decimal(8), partner_id=tenant_a.customer_id),
        ):
            with pytest.raises(ServiceError, match="Choose an active"):
                allocation.allocate(manager_actor, engagement, wrong)
            db.session.rollback()
        assert count(Assignment.id.is_not(None)) == 0


@pytest.mark.parametrize(
    "state", [EngagementState.CANCELLED, EngagementState.ACCEPTED, EngagementState.DELIVERED]
)
def test_a_finished_engagement_is_not_allocated(manager, tenant_a, unscoped, engagement_id, state):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
        db.session.get(Engagement, engagement_id).state = state
        db.session.commit()
    url = f"/engagements/{engagement_id}/allocate"
    page = manager.get(url).data.decode()
    assert 'data-testid="not-allocatable"' in page
    answer = manager.post(url, data=form(f"resource:{resource_id}"))
    assert answer.status_code == 409
    assert f"is {state.label.lower()}; only an engagement not yet delivered" in answer.data.decode()
    with unscoped():
        assert count(Assignment.id.is_not(None)) == 0
        assert db.session.get(Engagement, engagement_id).state is state


def test_an_allocation_made_meanwhile_is_a_conflict(manager, tenant_a, unscoped, engagement_id):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
    url = f"/engagements/{engagement_id}/allocate"
    assert manager.post(url, data=form(f"resource:{resource_id}")).status_code == 302
    stale = manager.post(url, data=form(f"resource:{resource_id}"))  # the page showed none
    assert stale.status_code == 409
    assert "was allocated meanwhile" in stale.data.decode()
    with unscoped():
        assert count(Assignment.id.is_not(None)) == 1


# --- partners ---------------------------------------------------------------------------


@pytest.fixture
def partner_assignment(manager, tenant_a, unscoped, engagement_id) -> int:
    """The engagement allocated to the tenant's partner, whose manager names a consultant."""
    answer = manager.post(
        f"/engagements/{engagement_id}/allocate", data=form(f"partner:{tenant_a.partner_id}")
    )
    assert answer.status_code == 302
    with unscoped():
        return db.session.scalar(select(Assignment.id))


def test_a_partner_manager_names_one_of_their_consultants_and_the_fee_is_fixed(
    client, tenant_a, unscoped, engagement_id, partner_assignment
):
    partner_manager = tenant_a.people[Role.PARTNER_MANAGER]
    partner_consultant = tenant_a.people[Role.PARTNER_CONSULTANT]
    with unscoped():
        assert (
            count(
                Notification.user_id == partner_manager.user_id,
                Notification.kind == allocation.ASSIGNED,
            )
            == 1
        )
        resource_id = staffing.resource(tenant_a, partner_consultant, fee_minor=180_000)
    sign_in(client, partner_manager)
    url = f"/engagements/{engagement_id}/assignments/{partner_assignment}/consultant"
    page = client.get(url)
    assert page.status_code == 200
    assert f'value="{resource_id}"' in page.data.decode()
    assert client.post(url, data={"resource_id": resource_id}).status_code == 302
    with unscoped():
        made = db.session.get(Assignment, partner_assignment)
        assert (made.resource_id, made.partner_id, made.partner_fee_minor) == (
            resource_id,
            tenant_a.partner_id,
            180_000,
        )
        assert count(AuditEvent.action == "assignment.consultant_named") == 1
        assert (
            count(
                Notification.user_id == partner_consultant.user_id,
                Notification.kind == allocation.ASSIGNED,
            )
            == 1
        )
    again = client.post(url, data={"resource_id": resource_id})
    assert again.status_code == 409
    assert "already named" in again.data.decode()


def test_another_partners_consultant_or_assignment_is_refused(
    client, tenant_a, unscoped, engagement_id, partner_assignment
):
    with unscoped():
        rival = organization("Rival Partner", OrgKind.PARTNER, tenant_a.vendor_id)
        rival_manager = person(rival, Role.PARTNER_MANAGER)
        rival_resource = staffing.resource(tenant_a, person(rival, Role.PARTNER_CONSULTANT))
        own_resource = staffing.resource(tenant_a, tenant_a.people[Role.PARTNER_CONSULTANT])
    url = f"/engagements/{engagement_id}/assignments/{partner_assignment}/consultant"
    sign_in(client, tenant_a.people[Role.PARTNER_MANAGER])
    refused = client.post(url, data={"resource_id": rival_resource})
    assert refused.status_code == 400
    assert "Not a valid choice" in refused.data.decode()
    with unscoped():
        engagement = db.session.get(Engagement, engagement_id)
        with pytest.raises(ServiceError, match="No such consultant"):
            allocation.name_consultant(
                actor(tenant_a, Role.PARTNER_MANAGER),
                engagement,
                partner_assignment,
                rival_resource,
            )
        db.session.rollback()
        assert db.session.get(Assignment, partner_assignment).resource_id is None
    sign_in(client, rival_manager)
    assert client.get(url).status_code == 404
    assert client.post(url, data={"resource_id": own_resource}).status_code == 404
    with unscoped():
        assert db.session.get(Assignment, partner_assignment).resource_id is None


def test_allocation_routes_answer_each_role_of_the_tenant(
    client, tenant_a, unscoped, engagement_id, partner_assignment
):
    allocate_url = f"/engagements/{engagement_id}/allocate"
    name_url = f"/engagements/{engagement_id}/assignments/{partner_assignment}/consultant"
    for role in Role:
        sign_in(client, tenant_a.people[role])
        allocate_status = client.get(allocate_url).status_code
        name_status = client.get(name_url).status_code
        assert allocate_status == (200 if role is Role.DELIVERY_MANAGER else 404), role
        assert name_status == (200 if role is Role.PARTNER_MANAGER else 404), role


def _assignments_section(app, tenant, engagement_id: int, role: Role) -> str:
    """The engagement page's "Assignments" section as ``role`` of the tenant sees it."""
    with app.test_request_context():
        engagement = db.session.scalar(
            select(Engagement)
            .where(Engagement.id == engagement_id)
            .options(joinedload(Engagement.order_line), *allocation.with_assignments())
        )
        return render_template(
            "delivery/_assignments.html",
            engagement=engagement,
            actor=actor(tenant, role),
            policies=policies,
        )


def test_the_assignments_section_shows_each_role_what_it_may_see(
    app, manager, tenant_a, unscoped, engagement_id
):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
        partner_resource = staffing.resource(
            tenant_a, tenant_a.people[Role.PARTNER_CONSULTANT], fee_minor=125_000
        )
    url = f"/engagements/{engagement_id}/allocate"
    manager.post(url, data=form(f"resource:{resource_id}"))
    manager.post(url, data=form(f"partner:{tenant_a.partner_id}", seen_assignments="1"))
    manager.post(url, data=form(f"resource:{partner_resource}", seen_assignments="2", hours="4"))
    with unscoped():
        seen = {role: _assignments_section(app, tenant_a, engagement_id, role) for role in Role}
    consultant_name = "Consultant of Acme Software"
    for role in (Role.BUYER, Role.VIEWER, Role.APPROVER):
        assert consultant_name in seen[role]
        assert "Acme Software Partner" in seen[role]
        assert "planned hours" not in seen[role]
        assert "$1,250.00" not in seen[role]
        assert 'data-testid="allocate"' not in seen[role]
    assert "$1,250.00" in seen[Role.DELIVERY_MANAGER]
    assert "16 planned hours" in seen[Role.DELIVERY_MANAGER]
    assert 'data-testid="allocate"' in seen[Role.DELIVERY_MANAGER]
    assert 'data-testid="allocate"' not in seen[Role.ADMIN]
    assert "$1,250.00" not in seen[Role.PARTNER_MANAGER]
    assert seen[Role.PARTNER_MANAGER].count('data-testid="name-consultant"') == 1
    assert "Consultant to be named" in seen[Role.CSM]
    assert 'data-testid="name-consultant"' not in seen[Role.DELIVERY_MANAGER]


def test_the_engagement_page_carries_the_assignments_section(
    client, manager, tenant_a, unscoped, engagement_id
):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
    page = manager.get(f"/engagements/{engagement_id}").data.decode()
    assert 'data-testid="allocate"' in page
    assert "Nobody is allocated yet" in page
    answer = manager.post(
        f"/engagements/{engagement_id}/allocate", data=form(f"resource:{resource_id}")
    )
    assert answer.headers["Location"].endswith(f"/engagements/{engagement_id}")
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/engagements/{engagement_id}").data.decode()
    assert "Consultant of Acme Software" in page
    assert "planned hours" not in page


def test_the_suggested_window_never_starts_in_the_past():
    due = Engagement(start_by=date(2026, 11, 16), deliver_by=date(2026, 12, 7))
    assert allocation.default_window(due, date(2026, 11, 1)) == Window(
        date(2026, 11, 16), date(2026, 12, 7)
    )
    assert allocation.default_window(due, date(2026, 12, 2)) == Window(
        date(2026, 12, 2), date(2026, 12, 7)
    )
    overdue = Engagement(start_by=date(2026, 11, 16), deliver_by=date(2026, 11, 20))
    assert allocation.default_window(overdue, date(2026, 12, 2)) == Window(
        date(2026, 12, 2), date(2026, 12, 2)
    )
