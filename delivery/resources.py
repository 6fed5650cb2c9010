"""Resources: the people who deliver (the vendor's consultants and its partners'), what they
know, how many hours a week they give, what they cost or are paid, and when they are away."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import Membership, Organization, User
from core import audit
from core.errors import Conflict, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor, OrgKind, Role, scoped
from delivery import policies
from delivery.models import Resource, TimeOff

MAX_SKILLS = 20
MAX_SKILL_LENGTH = 40
MAX_WEEKLY_HOURS = 80
# A rate or fee above this (in the vendor's currency) is a typing slip, not a price.
MAX_AMOUNT_MAJOR = 1_000_000
MAX_TIME_OFF_DAYS = 366
MAX_NOTE = 200
DELIVERING_ROLES = (Role.CONSULTANT, Role.PARTNER_CONSULTANT)


@dataclass(frozen=True)
class ResourceValues:
    """What a delivery manager types about a resource: ``skills`` comma-separated as typed,
    ``cost_rate`` per hour (the vendor's consultants), ``fee`` per servlet delivered (a
    partner's consultants)."""

    skills: str
    weekly_capacity_hours: int
    cost_rate: Money | None = None
    fee: Money | None = None
    active: bool = True


def parse_skills(text: str) -> list[str]:
    """``"SSO , sso, Data  migration"`` → ``["SSO", "Data migration"]``: trimmed, inner
    spaces collapsed, each once whatever its case, in the order typed."""
    skills: list[str] = []
    seen: set[str] = set()
    for raw in (text or "").split(","):
        skill = " ".join(raw.split())
        if not skill or skill.casefold() in seen:
            continue
        if len(skill) > MAX_SKILL_LENGTH:
            raise ServiceError(f"Skills: each at most {MAX_SKILL_LENGTH} characters.")
        seen.add(skill.casefold())
        skills.append(skill)
    if len(skills) > MAX_SKILLS:
        raise ServiceError(f"Skills: at most {MAX_SKILLS}.")
    return skills


def _manager(actor: Actor) -> Actor:
    if not policies.manages_resources(actor):
        raise NotAllowed("You do not have permission to do that.")
    return actor


def resources() -> Select[tuple[Resource]]:
    """The tenant's resources with their person and partner, by name."""
    return (
        scoped(Resource)
        .join(Membership, Membership.id == Resource.membership_id)
        .join(User, User.id == Membership.user_id)
        .options(
            joinedload(Resource.membership).joinedload(Membership.user),
            joinedload(Resource.partner),
        )
        .order_by(Resource.active.desc(), User.name, User.email, Resource.id)
    )


def with_time_off() -> tuple:
    return (
        joinedload(Resource.membership).joinedload(Membership.user),
        joinedload(Resource.partner),
        selectinload(Resource.time_off),
    )


def eligible_memberships(vendor_id: int) -> list[Membership]:
    """People who may become a resource: active consultants of the vendor and of its active
    partners, with no resource yet."""
    taken = select(Resource.membership_id)
    return list(
        db.session.scalars(
            scoped(Membership)
            .join(User, User.id == Membership.user_id)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(
                Membership.vendor_id == vendor_id,
                Membership.role.in_(DELIVERING_ROLES),
                Membership.active.is_(True),
                User.active.is_(True),
                Organization.active.is_(True),
                Membership.id.not_in(taken),
            )
            .options(joinedload(Membership.user), joinedload(Membership.organization))
            .order_by(Organization.kind.desc(), User.name, User.email)
        )
    )


def _deliverer(actor: Actor, membership_id: int) -> Membership:
    """An active consultant membership of the vendor, or partner consultant membership of
    one of its partners; refuse anyone else with why."""
    membership = db.session.scalar(
        scoped(Membership)
        .where(Membership.id == membership_id)
        .options(joinedload(Membership.user), joinedload(Membership.organization))
    )
    if (
        membership is None
        or not membership.active
        or not membership.user.active
        or not membership.organization.active
    ):
        raise ServiceError("Choose an active member of your organisation or of a partner.")
    organization = membership.organization
    vendor_consultant = membership.role is Role.CONSULTANT and organization.id == actor.vendor_id
    partner_consultant = (
        membership.role is Role.PARTNER_CONSULTANT
        and organization.kind is OrgKind.PARTNER
        and organization.vendor_id == actor.vendor_id
    )
    if not (vendor_consultant or partner_consultant):
        raise ServiceError(
            f"{membership.user.display_name} is a {membership.role.label.lower()}: only "
            "consultants and partner consultants deliver."
        )
    return membership


def _amount(value: Money | None, what: str, currency: str) -> int:
    if value is None:
        return 0
    if value.currency != currency:
        raise ServiceError(f"{what}: in {currency}.")
    if value.amount < 0:
        raise ServiceError(f"{what}: not below zero.")
    if value > Money.parse(str(MAX_AMOUNT_MAJOR), currency):
        raise ServiceError(f"{what}: at most {Money.parse(str(MAX_AMOUNT_MAJOR), currency)}.")
    return value.amount


def _apply(resource: Resource, values: ResourceValues, currency: str) -> dict[str, list]:
    if not 0 <= values.weekly_capacity_hours <= MAX_WEEKLY_HOURS:
        raise ServiceError(f"Weekly capacity: 0 to {MAX_WEEKLY_HOURS} hours.")
    partner = resource.partner_id is not None
    if partner and values.cost_rate:
        raise ServiceError("A partner's consultant has a fee per servlet, not an hourly cost.")
    if not partner and values.fee:
        raise ServiceError("The vendor's consultants have an hourly cost, not a fee.")
    return audit.diff(
        resource,
        {
            "skills": parse_skills(values.skills),
            "weekly_capacity_hours": values.weekly_capacity_hours,
            "cost_rate_minor": _amount(values.cost_rate, "Cost rate", currency),
            "fee_minor": _amount(values.fee, "Fee", currency),
            "active": values.active,
        },
    )


def _currency(actor: Actor) -> str:
    return db.session.get(Organization, actor.vendor_id).currency


def create_resource(actor: Actor, membership_id: int, values: ResourceValues) -> Resource:
    """Make a consultant (the vendor's or a partner's) a resource; one per membership."""
    _manager(actor)
    membership = _deliverer(actor, membership_id)
    if db.session.scalar(select(Resource.id).where(Resource.membership_id == membership.id)):
        raise Conflict(f"{membership.user.display_name} is already a resource.")
    resource = Resource(
        vendor_id=actor.vendor_id,
        membership_id=membership.id,
        partner_id=membership.organization_id
        if membership.role is Role.PARTNER_CONSULTANT
        else None,
        skills=[],
    )
    changes = _apply(resource, values, _currency(actor))
    db.session.add(resource)
    db.session.flush()
    audit.record("resource.created", resource, changes={"membership_id": membership.id, **changes})
    db.session.commit()
    return resource


def lock(resource: Resource) -> Resource:
    return db.session.scalar(
        select(Resource)
        .where(Resource.id == resource.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def update_resource(actor: Actor, resource: Resource, values: ResourceValues) -> Resource:
    _manager(actor)
    resource = lock(resource)
    changes = _apply(resource, values, _currency(actor))
    if changes:
        audit.record("resource.updated", resource, changes=changes)
    db.session.commit()
    return resource


def add_time_off(
    actor: Actor, resource: Resource, starts_on: date, ends_on: date, note: str = ""
) -> TimeOff:
    """Days away, both included: no capacity then."""
    _manager(actor)
    if ends_on < starts_on:
        raise ServiceError("Time off: the last day is on or after the first.")
    if (ends_on - starts_on).days + 1 > MAX_TIME_OFF_DAYS:
        raise ServiceError(f"Time off: at most {MAX_TIME_OFF_DAYS} days at once.")
    note = " ".join((note or "").split())
    if len(note) > MAX_NOTE:
        raise ServiceError(f"Note: at most {MAX_NOTE} characters.")
    resource = lock(resource)
    time_off = TimeOff(
        vendor_id=resource.vendor_id,
        resource_id=resource.id,
        starts_on=starts_on,
        ends_on=ends_on,
        note=note,
    )
    db.session.add(time_off)
    db.session.flush()
    audit.record(
        "time_off.added",
        time_off,
        changes={
            "resource_id": resource.id,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        },
    )
    db.session.commit()
    return time_off


def remove_time_off(actor: Actor, time_off: TimeOff) -> int:
    """Take a period of time off away; returns its resource's id."""
    _manager(actor)
    resource_id = time_off.resource_id
    audit.record(
        "time_off.removed",
        time_off,
        changes={
            "resource_id": resource_id,
            "starts_on": time_off.starts_on.isoformat(),
            "ends_on": time_off.ends_on.isoformat(),
        },
    )
    db.session.delete(time_off)
    db.session.commit()
    return resource_id
