"""Allocation: putting a resource, or a partner organisation whose manager then names one of
its consultants, on an engagement for a window with planned hours.

Suggestions rank the active resources by the servlet's required skills they cover, then by
their free hours in the window. The first allocation schedules a requested engagement. Every
allocation locks the engagement and re-checks what the manager saw (its number of
assignments), so two managers allocating at once give one allocation and a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import Membership, Organization
from core import audit, states
from core.bounds import plain_decimal
from core.errors import Conflict, InvalidTransition, NotAllowed, NotFound, ServiceError
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Actor, OrgKind, Role, scoped
from delivery import capacity, kpi_facts, moves, policies, recipients
from delivery.capacity import Load, Window
from delivery.models import ENGAGEMENT_LIFE, Assignment, Engagement, EngagementState, Resource
from delivery.resources import resources

ASSIGNED = notification_kind(
    "delivery.assigned", "I, or my partner organisation, am put on an engagement"
)
MAX_WINDOW_DAYS = capacity.MAX_WINDOW_DAYS
MAX_PLANNED_HOURS = Decimal(2000)


class OverCapacity(ServiceError):
    """The allocation would book the resource beyond its capacity in the window; the page
    asks the manager to confirm."""

    status_code = 200

    def __init__(self, message: str, load: Load) -> None:
        super().__init__(message)
        self.load = load


@dataclass(frozen=True)
class Allocation:
    """Who (``resource_id`` or ``partner_id``), when and how many hours. ``seen_assignments``
    is how many assignments the manager saw on the page (``None``: no page, no check)."""

    starts_on: date
    ends_on: date
    planned_hours: Decimal
    resource_id: int | None = None
    partner_id: int | None = None
    seen_assignments: int | None = None
    over_capacity_confirmed: bool = False


@dataclass(frozen=True)
class Suggestion:
    resource: Resource
    covered: list[str]
    missing: list[str]
    load: Load


def with_assignments() -> tuple:
    """An engagement's assignments with whom they name, eager-loaded."""
    return (
        selectinload(Engagement.assignments)
        .joinedload(Assignment.resource)
        .joinedload(Resource.membership)
        .joinedload(Membership.user),
        selectinload(Engagement.assignments).joinedload(Assignment.partner),
    )


def default_window(engagement: Engagement, today: date) -> Window:
    """From its start-by date (today, when that has passed) to its deliver-by date."""
    first = max(engagement.start_by, today)
    return Window(first, max(first, engagement.deliver_by))


def skills_match(required: list[str], skills: list[str]) -> tuple[list[str], list[str]]:
    """(covered, missing) of ``required``, ignoring case."""
    known = {skill.casefold() for skill in skills}
    covered = [skill for skill in required if skill.casefold() in known]
    return covered, [skill for skill in required if skill.casefold() not in known]


def suggestions(engagement: Engagement, window: Window) -> list[Suggestion]:
    """Active resources, most required skills covered first, then most free hours."""
    candidates = list(db.session.scalars(resources().where(Resource.active.is_(True))))
    loads = capacity.loads(candidates, window, engagement.vendor_id)
    required = engagement.servlet_version.required_skills or []
    ranked = [
        Suggestion(r, *skills_match(required, r.skills or []), loads[r.id]) for r in candidates
    ]
    ranked.sort(key=lambda s: (-len(s.covered), -s.load.free))
    return ranked


def partners() -> list[Organization]:
    """The vendor's active partner organisations."""
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.kind == OrgKind.PARTNER, Organization.active.is_(True))
            .order_by(Organization.name)
        )
    )


def _checked(allocation: Allocation) -> None:
    if allocation.ends_on < allocation.starts_on:
        raise ServiceError("The window ends on or after the day it starts.")
    if (allocation.ends_on - allocation.starts_on).days + 1 > MAX_WINDOW_DAYS:
        raise ServiceError(f"A window is at most {MAX_WINDOW_DAYS} days.")
    if not 0 < allocation.planned_hours <= MAX_PLANNED_HOURS:
        raise ServiceError(f"Planned hours: more than 0, at most {MAX_PLANNED_HOURS:,}.")
    if (allocation.resource_id is None) == (allocation.partner_id is None):
        raise ServiceError("Choose a resource or a partner.")


def _open_for_allocation(engagement: Engagement) -> None:
    if engagement.state not in policies.ALLOCATABLE:
        raise InvalidTransition(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}; "
            "only an engagement not yet delivered takes assignments."
        )


def _resource(vendor_id: int, resource_id: int) -> Resource:
    resource = db.session.scalar(
        scoped(Resource)
        .where(Resource.id == resource_id, Resource.vendor_id == vendor_id)
        .options(joinedload(Resource.membership).joinedload(Membership.user))
    )
    if resource is None or not resource.active:
        raise ServiceError("Choose an active resource of yours.")
    return resource


def _partner(vendor_id: int, partner_id: int) -> Organization:
    partner = db.session.scalar(
        select(Organization).where(
            Organization.id == partner_id,
            Organization.vendor_id == vendor_id,
            Organization.kind == OrgKind.PARTNER,
            Organization.active.is_(True),
        )
    )
    if partner is None:
        raise ServiceError("Choose an active partner of yours.")
    return partner


def _capacity_check(resource: Resource, allocation: Allocation) -> None:
    window = Window(allocation.starts_on, allocation.ends_on)
    load = capacity.loads([resource], window, resource.vendor_id)[resource.id]
    after = load.plus(allocation.planned_hours)
    if after.planned > after.capacity and not allocation.over_capacity_confirmed:
        raise OverCapacity(
            f"{resource.membership.user.display_name} has {plain_decimal(load.free)} free hours "
            f"in this window; {plain_decimal(allocation.planned_hours)} more would book "
            f"{plain_decimal(after.planned)} of {plain_decimal(after.capacity)}. "
            "Confirm to allocate anyway.",
            load,
        )


def allocate(actor: Actor, engagement: Engagement, allocation: Allocation) -> Assignment:
    """Put a resource or a partner on the engagement. A requested engagement becomes
    scheduled, with the manager as its delivery owner if it has none."""
    if not policies.allocates(actor):
        raise NotAllowed("You do not have permission to do that.")
    _checked(allocation)
    engagement = moves.lock(engagement)
    _open_for_allocation(engagement)
    if (
        allocation.seen_assignments is not None
        and len(engagement.assignments) != allocation.seen_assignments
    ):
        raise Conflict(
            f"Engagement {engagement.reference} was allocated meanwhile by someone else: "
            "check its assignments before adding another."
        )
    resource = partner = None
    if allocation.resource_id is not None:
        resource = _resource(engagement.vendor_id, allocation.resource_id)
        _capacity_check(resource, allocation)
    else:
        partner = _partner(engagement.vendor_id, allocation.partner_id)
    assignment = Assignment(
        vendor_id=engagement.vendor_id,
        engagement_id=engagement.id,
        resource_id=resource.id if resource else None,
        partner_id=resource.partner_id if resource else partner.id,
        starts_on=allocation.starts_on,
        ends_on=allocation.ends_on,
        planned_hours=allocation.planned_hours,
        partner_fee_minor=resource.fee_minor if resource and resource.partner_id else 0,
        assigned_by_id=actor.id,
    )
    db.session.add(assignment)
    db.session.flush()
    audit.record(
        "assignment.created",
        assignment,
        changes={
            "engagement_id": engagement.id,
            "resource_id": assignment.resource_id,
            "partner_id": assignment.partner_id,
            "starts_on": allocation.starts_on.isoformat(),
            "ends_on": allocation.ends_on.isoformat(),
            "planned_hours": str(allocation.planned_hours),
            "over_capacity_confirmed": allocation.over_capacity_confirmed,
        },
    )
    kpi_facts.refresh([engagement.id])
    if engagement.state is EngagementState.REQUESTED:
        states.transition(ENGAGEMENT_LIFE, engagement, EngagementState.SCHEDULED, actor)
        if engagement.owner_id is None:
            engagement.owner_id = actor.id
            audit.record("engagement.owner_set", engagement, changes={"owner_id": actor.id})
    _tell(engagement, resource, partner, allocation)
    db.session.commit()
    return assignment


def _link(engagement: Engagement) -> str:
    return recipients.link("delivery.engagement", engagement_id=engagement.id)


def _tell(
    engagement: Engagement,
    resource: Resource | None,
    partner: Organization | None,
    allocation: Allocation,
) -> None:
    title = engagement.servlet_version.title
    when = f"{allocation.starts_on.isoformat()} to {allocation.ends_on.isoformat()}"
    hours = f"{plain_decimal(allocation.planned_hours)} planned hours"
    if resource is not None:
        told = [resource.membership.user]
        subject = f"You are on engagement {engagement.reference}"
        body = f"{title}: {when}, {hours}."
    else:
        told = recipients.with_roles(partner.id, Role.PARTNER_MANAGER)
        subject = f"Engagement {engagement.reference} is allocated to {partner.name}"
        body = f"{title}: {when}, {hours}. Name one of your consultants to deliver it."
    for user in told:
        notify(user, subject, body, _link(engagement), ASSIGNED, vendor_id=engagement.vendor_id)


# --- a partner manager names the consultant ----------------------------------------------


def partner_assignment(actor: Actor, engagement: Engagement, assignment_id: int) -> Assignment:
    """An assignment of ``engagement`` to the actor's own partner; anything else is not
    found (another partner's assignment does not exist for them)."""
    assignment = db.session.scalar(
        scoped(Assignment).where(
            Assignment.id == assignment_id, Assignment.engagement_id == engagement.id
        )
    )
    if assignment is None or not policies.names_consultant_for(actor, assignment):
        raise NotFound("No such assignment.")
    return assignment


def consultants_of(actor: Actor) -> list[Resource]:
    """The active resources of the actor's partner organisation."""
    return list(
        db.session.scalars(
            resources().where(
                Resource.partner_id == actor.organization_id, Resource.active.is_(True)
            )
        )
    )


def name_consultant(
    actor: Actor, engagement: Engagement, assignment_id: int, resource_id: int
) -> Assignment:
    """The partner's manager names which of their consultants delivers; the partner's fee
    for the engagement is fixed from that consultant's fee."""
    engagement = moves.lock(engagement)
    assignment = db.session.scalar(
        select(Assignment)
        .where(Assignment.id == partner_assignment(actor, engagement, assignment_id).id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if assignment.resource_id is not None:
        raise Conflict("A consultant is already named for this assignment.")
    _open_for_allocation(engagement)
    resource = next((r for r in consultants_of(actor) if r.id == resource_id), None)
    if resource is None:
        raise NotFound("No such consultant of yours.")
    assignment.resource_id = resource.id
    assignment.partner_fee_minor = resource.fee_minor
    audit.record(
        "assignment.consultant_named",
        assignment,
        changes={"resource_id": resource.id, "partner_fee_minor": resource.fee_minor},
    )
    kpi_facts.refresh([engagement.id])
    notify(
        resource.membership.user,
        f"You are on engagement {engagement.reference}",
        f"{engagement.servlet_version.title}: {assignment.starts_on.isoformat()} to "
        f"{assignment.ends_on.isoformat()}, "
        f"{plain_decimal(assignment.planned_hours)} planned hours.",
        _link(engagement),
        ASSIGNED,
        vendor_id=engagement.vendor_id,
    )
    db.session.commit()
    return assignment
