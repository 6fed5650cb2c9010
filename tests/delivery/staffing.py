"""Builders for resource and allocation tests. Like tests.factories they run inside
``unscoped()`` and return ids; resources go through ``delivery.resources`` so they are made
as a delivery manager makes them."""

from __future__ import annotations

from core.money import Money
from core.permissions import Role
from delivery import resources
from tests.catalog.factories import actor
from tests.factories import Person, Tenant


def resource(
    tenant: Tenant,
    person: Person | None = None,
    skills: str = "Administration",
    weekly_hours: int = 40,
    fee_minor: int = 0,
) -> int:
    """``person`` (the tenant's consultant by default) as a resource."""
    person = person or tenant.people[Role.CONSULTANT]
    partner = person.role is Role.PARTNER_CONSULTANT
    made = resources.create_resource(
        actor(tenant, Role.DELIVERY_MANAGER),
        person.membership_id,
        resources.ResourceValues(
            skills=skills,
            weekly_capacity_hours=weekly_hours,
            cost_rate=None if partner else Money(10_000, "USD"),
            fee=Money(fee_minor, "USD") if partner else None,
        ),
    )
    return made.id
