"""Resources: who may become one (consultants of the vendor and of its partners, once each),
what is typed about them (skills, weekly hours, a cost rate or a fee), their time off, the
vendor's holidays, and who may open these pages."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.errors import ServiceError
from core.extensions import db
from core.permissions import OrgKind, Role
from delivery import holidays, resources
from delivery.models import Holiday, Resource, TimeOff
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import staffing
from tests.factories import organization, person


def count(*criteria) -> int:
    return db.session.scalar(select(func.count()).where(*criteria))


def test_skills_are_trimmed_deduplicated_and_bounded():
    assert resources.parse_skills(" SSO , sso,Data   migration,, ") == ["SSO", "Data migration"]
    assert resources.parse_skills("") == []
    with pytest.raises(ServiceError, match="at most 40 characters"):
        resources.parse_skills("x" * 41)
    with pytest.raises(ServiceError, match="at most 20"):
        resources.parse_skills(",".join(f"skill {n}" for n in range(21)))


def test_a_delivery_manager_adds_a_consultant_with_skills_capacity_and_cost_rate(
    client, tenant_a, unscoped
):
    consultant = tenant_a.people[Role.CONSULTANT]
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    page = client.get("/resources/new").data.decode()
    assert consultant.email.split("@")[0].split(".")[0] in page or "Consultant of" in page
    answer = client.post(
        "/resources/new",
        data={
            "membership_id": consultant.membership_id,
            "skills": "SSO, Reporting, sso",
            "weekly_capacity_hours": "32",
            "cost_rate": "85.50",
            "active": "y",
        },
    )
    assert answer.status_code == 302
    with unscoped():
        made = db.session.scalar(select(Resource))
        assert made.skills == ["SSO", "Reporting"]
        assert (made.weekly_capacity_hours, made.cost_rate_minor, made.fee_minor) == (32, 8550, 0)
        assert made.partner_id is None
        assert count(AuditEvent.action == "resource.created", AuditEvent.object_id == made.id) == 1
    listing = client.get("/resources").data.decode()
    assert "$85.50" in listing
    assert "Reporting" in listing
    rows = list(csv.reader(io.StringIO(client.get("/resources/export.csv").data.decode())))
    assert rows[0][0] == "name"
    assert rows[1][3] == "SSO, Reporting"
    assert rows[1][5] == "85.50"


def test_a_partner_consultant_gets_a_fee_and_never_an_hourly_cost(client, tenant_a, unscoped):
    partner_consultant = tenant_a.people[Role.PARTNER_CONSULTANT]
    sign_in(client, tenant_a.people[Role.ADMIN])
    data = {
        "membership_id": partner_consultant.membership_id,
        "skills": "Training",
        "weekly_capacity_hours": "20",
        "cost_rate": "50",
    }
    refused = client.post("/resources/new", data=data)
    assert refused.status_code == 200
    assert "fee per servlet, not an hourly cost" in refused.data.decode()
    assert 'value="Training"' in refused.data.decode()  # nothing typed is lost
    answer = client.post("/resources/new", data={**data, "cost_rate": "", "fee": "1,500"})
    assert answer.status_code == 302
    with unscoped():
        made = db.session.scalar(select(Resource))
        assert (made.partner_id, made.fee_minor, made.cost_rate_minor) == (
            tenant_a.partner_id,
            150_000,
            0,
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weekly_capacity_hours", "81", "0 to 80 hours"),
        ("weekly_capacity_hours", "-1", "0 to 80 hours"),
        ("weekly_capacity_hours", "forty", "Enter a plain number"),
        ("cost_rate", "-5", "not below zero"),
        ("cost_rate", "1e9", "is not an amount"),
        ("cost_rate", "12.345", "at most 2 decimals"),
        ("cost_rate", "2000000", "at most $1,000,000.00"),
        ("skills", "x" * 41, "at most 40 characters"),
    ],
)
def test_bad_resource_values_are_refused_with_a_message(
    client, tenant_a, unscoped, field, value, message
):
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    data = {
        "membership_id": tenant_a.people[Role.CONSULTANT].membership_id,
        "skills": "SSO",
        "weekly_capacity_hours": "40",
        field: value,
    }
    answer = client.post("/resources/new", data=data)
    assert answer.status_code == 200
    assert message in answer.data.decode()
    with unscoped():
        assert count(Resource.id.is_not(None)) == 0


def test_only_consultants_of_the_vendor_and_its_partners_become_resources_once(
    tenant_a, tenant_b, unscoped
):
    with unscoped():
        manager = actor(tenant_a, Role.DELIVERY_MANAGER)
        values = resources.ResourceValues(skills="SSO", weekly_capacity_hours=40)
        for other in (
            tenant_a.people[Role.CSM],
            tenant_a.people[Role.PARTNER_MANAGER],
            tenant_b.people[Role.CONSULTANT],
        ):
            with pytest.raises(ServiceError):
                resources.create_resource(manager, other.membership_id, values)
            db.session.rollback()
        made = resources.create_resource(
            manager, tenant_a.people[Role.CONSULTANT].membership_id, values
        )
        with pytest.raises(ServiceError, match="already a resource"):
            resources.create_resource(
                manager, tenant_a.people[Role.CONSULTANT].membership_id, values
            )
        db.session.rollback()
        other_partner = organization("Initech Partner", OrgKind.PARTNER, tenant_b.vendor_id)
        stranger = person(other_partner, Role.PARTNER_CONSULTANT)
        with pytest.raises(ServiceError):
            resources.create_resource(manager, stranger.membership_id, values)
        db.session.rollback()
        assert count(Resource.id.is_not(None)) == 1
        assert made.membership_id


def test_consultants_of_an_inactive_partner_are_not_offered_nor_accepted(tenant_a, unscoped):
    consultant = tenant_a.people[Role.CONSULTANT]
    partner_consultant = tenant_a.people[Role.PARTNER_CONSULTANT]
    with unscoped():
        offered = resources.eligible_memberships(tenant_a.vendor_id)
        assert {m.id for m in offered} == {
            consultant.membership_id,
            partner_consultant.membership_id,
        }
        db.session.get(Organization, tenant_a.partner_id).active = False
        db.session.commit()
        offered = resources.eligible_memberships(tenant_a.vendor_id)
        assert [m.id for m in offered] == [consultant.membership_id]
        with pytest.raises(ServiceError, match="Choose an active member"):
            resources.create_resource(
                actor(tenant_a, Role.DELIVERY_MANAGER),
                partner_consultant.membership_id,
                resources.ResourceValues(skills="", weekly_capacity_hours=40),
            )


def test_editing_a_resource_is_audited_with_what_changed(client, tenant_a, unscoped):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    page = client.get(f"/resources/{resource_id}").data.decode()
    assert 'value="Administration"' in page
    assert 'value="100.00"' in page
    answer = client.post(
        f"/resources/{resource_id}",
        data={"skills": "Administration, SSO", "weekly_capacity_hours": "24", "cost_rate": "100"},
    )
    assert answer.status_code == 302
    with unscoped():
        made = db.session.get(Resource, resource_id)
        assert (made.skills, made.weekly_capacity_hours, made.active) == (
            ["Administration", "SSO"],
            24,
            False,
        )
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "resource.updated"))
        assert set(event.changes) == {"skills", "weekly_capacity_hours", "active"}


def test_time_off_is_added_and_removed_within_bounds(client, tenant_a, unscoped):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    url = f"/resources/{resource_id}/time-off"
    backwards = client.post(url, data={"starts_on": "2030-01-10", "ends_on": "2030-01-09"})
    assert backwards.status_code == 400
    assert "on or after the first" in backwards.data.decode()
    too_long = client.post(url, data={"starts_on": "2030-01-01", "ends_on": "2031-01-02"})
    assert "at most 366 days" in too_long.data.decode()
    assert client.post(url, data={"starts_on": "20300101", "ends_on": ""}).status_code == 400
    ok = client.post(url, data={"starts_on": "2030-01-07", "ends_on": "2030-01-11", "note": "Ski"})
    assert ok.status_code == 302
    assert "Ski" in client.get(f"/resources/{resource_id}").data.decode()
    with unscoped():
        time_off_id = db.session.scalar(select(TimeOff.id))
        assert count(AuditEvent.action == "time_off.added") == 1
    assert client.post(f"/time-off/{time_off_id}/remove").status_code == 302
    with unscoped():
        assert count(TimeOff.id.is_not(None)) == 0
        assert count(AuditEvent.action == "time_off.removed") == 1


def test_holidays_are_listed_added_once_and_removed_with_audit(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert b'data-testid="empty-state"' in client.get("/holidays").data
    added = client.post("/holidays", data={"day": "2030-12-25", "name": " Christmas   Day "})
    assert added.status_code == 302
    again = client.post("/holidays", data={"day": "2030-12-25", "name": "Again"})
    assert again.status_code == 200
    assert "already a holiday" in again.data.decode()
    assert client.post("/holidays", data={"day": "2030-12-26", "name": ""}).status_code == 200
    page = client.get("/holidays").data.decode()
    assert "Christmas Day" in page
    assert "data-confirm" in page
    with unscoped():
        holiday_id = db.session.scalar(select(Holiday.id))
        assert count(AuditEvent.action == "holiday.added") == 1
    assert client.post(f"/holidays/{holiday_id}/remove").status_code == 302
    with unscoped():
        assert count(Holiday.id.is_not(None)) == 0
        assert count(AuditEvent.action == "holiday.removed") == 1


def test_only_resource_managers_keep_holidays(tenant_a, unscoped):
    with unscoped():
        for role in (Role.CSM, Role.CONSULTANT, Role.FINANCE):
            with pytest.raises(ServiceError):
                holidays.add_holiday(actor(tenant_a, role), date(2030, 1, 1), "New Year")


PAGES = ["/resources", "/resources/export.csv", "/resources/new", "/holidays", "/capacity"]


@pytest.mark.parametrize("role", list(Role))
def test_resource_pages_open_to_delivery_managers_and_admins_only(client, tenant_a, unscoped, role):
    with unscoped():
        resource_id = staffing.resource(tenant_a)
        holiday_id = db.session.scalar(
            select(func.count()).select_from(Holiday)
        )  # none yet: removal answers 404 for all
    sign_in(client, tenant_a.people[role])
    allowed = role in (Role.DELIVERY_MANAGER, Role.ADMIN)
    for url in [*PAGES, f"/resources/{resource_id}"]:
        expected = 200 if allowed else (404 if "/resources/" in url and url[-1].isdigit() else 403)
        assert client.get(url).status_code == expected, (role, url)
    assert holiday_id == 0
