"""Capacity: weekly hours less holidays and time off, against planned hours spread evenly over
the business days of each assignment's window; the eight-week view with its legend, and a
fixed number of SQL statements whatever the number of resources."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from accounts.models import Organization
from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from delivery import capacity
from delivery.capacity import Load, LoadLevel, Window
from delivery.models import Assignment, Engagement, EngagementState, Holiday, Resource, TimeOff
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories
from tests.delivery import staffing
from tests.factories import person

MONDAY = date(2030, 1, 7)
WEEK = Window(MONDAY, MONDAY + timedelta(days=6))
NEXT_WEEK = Window(MONDAY + timedelta(days=7), MONDAY + timedelta(days=13))


def assign(tenant, engagement_id, resource_id, first, last, hours) -> None:
    db.session.add(
        Assignment(
            vendor_id=tenant.vendor_id,
            engagement_id=engagement_id,
            resource_id=resource_id,
            starts_on=first,
            ends_on=last,
            planned_hours=Decimal(hours),
            assigned_by_id=tenant.people[Role.DELIVERY_MANAGER].membership_id,
        )
    )
    db.session.commit()


def test_load_levels_say_under_near_over_and_none():
    assert Load(Decimal(40), Decimal(10)).level is LoadLevel.UNDER
    assert Load(Decimal(40), Decimal(32)).level is LoadLevel.NEAR
    assert Load(Decimal(40), Decimal(40)).level is LoadLevel.NEAR
    assert Load(Decimal(40), Decimal("40.01")).level is LoadLevel.OVER
    assert Load(Decimal(0), Decimal(0)).level is LoadLevel.NONE
    assert Load(Decimal(0), Decimal(1)).level is LoadLevel.OVER


def test_planned_hours_spread_over_business_days_and_capacity_skips_days_off(tenant_a, unscoped):
    with unscoped():
        engagement_id = delivery_factories.engagement(tenant_a)
        resource_id = staffing.resource(tenant_a, weekly_hours=40)
        # Ten business days over two weeks, one a holiday: 9 days, 4 hours each.
        db.session.add(Holiday(vendor_id=tenant_a.vendor_id, day=MONDAY, name="Closed"))
        db.session.add(
            TimeOff(
                vendor_id=tenant_a.vendor_id,
                resource_id=resource_id,
                starts_on=NEXT_WEEK.first,
                ends_on=NEXT_WEEK.first + timedelta(days=1),
            )
        )
        db.session.commit()
        assign(tenant_a, engagement_id, resource_id, MONDAY, NEXT_WEEK.first + timedelta(4), 36)
        # A weekend-only window still counts, spread over its days.
        assign(tenant_a, engagement_id, resource_id, date(2030, 1, 12), date(2030, 1, 13), 6)
        resource = db.session.get(Resource, resource_id)
        first, second = capacity.grid([resource], [WEEK, NEXT_WEEK], tenant_a.vendor_id)[0].weeks
        assert (first.capacity, first.planned) == (Decimal("32.00"), Decimal("22.00"))
        assert (second.capacity, second.planned) == (Decimal("24.00"), Decimal("20.00"))
        assert second.level is LoadLevel.NEAR


def test_assignments_of_finished_engagements_and_other_resources_do_not_count(tenant_a, unscoped):
    with unscoped():
        engagement_id = delivery_factories.engagement(tenant_a)
        resource_id = staffing.resource(tenant_a)
        other = staffing.resource(
            tenant_a, person(db.session.get(Organization, tenant_a.vendor_id), Role.CONSULTANT)
        )
        assign(tenant_a, engagement_id, other, MONDAY, MONDAY + timedelta(4), 10)
        resource = db.session.get(Resource, resource_id)
        assert capacity.loads([resource], WEEK, tenant_a.vendor_id)[resource_id].planned == 0
        cancelled = delivery_factories.engagement(tenant_a)
        assign(tenant_a, cancelled, resource_id, MONDAY, MONDAY + timedelta(4), 10)
        db.session.get(Engagement, cancelled).state = EngagementState.CANCELLED
        db.session.commit()
        assert capacity.loads([resource], WEEK, tenant_a.vendor_id)[resource_id].planned == 0


def test_the_capacity_page_shows_eight_weeks_with_a_legend_in_words(client, tenant_a, unscoped):
    monday = utcnow().date() - timedelta(days=utcnow().date().weekday())
    with unscoped():
        engagement_id = delivery_factories.engagement(tenant_a)
        resource_id = staffing.resource(tenant_a, weekly_hours=10)
        assign(tenant_a, engagement_id, resource_id, monday, monday + timedelta(days=4), 15)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    page = client.get("/capacity").data.decode()
    assert page.count("Week of") == 8
    for words in ("Room left", "Nearly full", "Over capacity", "No capacity"):
        assert words in page
    assert 'data-level="over"' in page
    assert "15 / 10 h" in page


def _rendered_statements(client, count_queries) -> int:
    with count_queries() as counted:
        assert client.get("/capacity").status_code == 200
    return len(counted)


def _set_active(resource_ids: list[int] | None) -> None:
    """Activate only ``resource_ids`` (``None``: every resource)."""
    for resource in db.session.scalars(select(Resource)):
        resource.active = resource_ids is None or resource.id in resource_ids
    db.session.commit()


def test_the_capacity_page_runs_as_many_statements_for_30_resources_as_for_3(
    client, tenant_a, unscoped, count_queries
):
    today = utcnow().date()
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        engagement_id = delivery_factories.engagement(tenant_a)
        made = []
        for _ in range(30):
            resource_id = staffing.resource(tenant_a, person(vendor, Role.CONSULTANT))
            made.append(resource_id)
            assign(tenant_a, engagement_id, resource_id, today, today + timedelta(days=9), 20)
            db.session.add(
                TimeOff(
                    vendor_id=tenant_a.vendor_id,
                    resource_id=resource_id,
                    starts_on=today,
                    ends_on=today,
                )
            )
        db.session.commit()
        _set_active(made[:3])
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    small = _rendered_statements(client, count_queries)
    with unscoped():
        _set_active(None)
    large = _rendered_statements(client, count_queries)
    assert large == small
