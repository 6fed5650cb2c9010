"""Who may do what with engagements: one answer for services, pages and, later, the API."""

from __future__ import annotations

from core.permissions import CUSTOMER_ROLES, Actor, Role
from delivery.models import ENGAGEMENT_VIEWERS, Assignment, Engagement, EngagementState


def sees_vendor_side(actor: Actor) -> bool:
    """Delivery staff see every engagement of the tenant, with its customer."""
    return actor.role in ENGAGEMENT_VIEWERS


# --- resources and allocation ------------------------------------------------------------

RESOURCE_MANAGERS = (Role.DELIVERY_MANAGER, Role.ADMIN)
ALLOCATORS = (Role.DELIVERY_MANAGER,)
# An engagement takes assignments until it is delivered: the first one schedules it.
ALLOCATABLE = (
    EngagementState.REQUESTED,
    EngagementState.SCHEDULED,
    EngagementState.IN_PROGRESS,
    EngagementState.ON_HOLD,
)


def manages_resources(actor: Actor) -> bool:
    """Delivery managers and admins keep the resources, their time off and the holidays."""
    return actor.role in RESOURCE_MANAGERS


def allocates(actor: Actor) -> bool:
    return actor.role in ALLOCATORS


def may_allocate(actor: Actor, engagement: Engagement) -> bool:
    return allocates(actor) and engagement.state in ALLOCATABLE


def names_consultant_for(actor: Actor, assignment: Assignment) -> bool:
    """A partner manager names a consultant for the assignments of their own partner."""
    return actor.role is Role.PARTNER_MANAGER and assignment.partner_id == actor.organization_id


def may_name_consultant(actor: Actor, engagement: Engagement, assignment: Assignment) -> bool:
    return (
        names_consultant_for(actor, assignment)
        and assignment.resource_id is None
        and engagement.state in ALLOCATABLE
    )


def sees_partner_fees(actor: Actor) -> bool:
    """What a partner is paid is the vendor's business: its delivery staff see it."""
    return sees_vendor_side(actor)


def sees_planned_hours(actor: Actor) -> bool:
    """Those who plan or deliver the work see its hours; the customer sees who delivers."""
    return actor.role not in CUSTOMER_ROLES
