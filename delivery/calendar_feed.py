"""Each consultant's private calendar feed (.ics) of their assignments.

The feed's URL carries a secret token; only its sha256 is stored (``Resource.
calendar_token_hash``), so the token is shown once, when made. Making a new one or revoking
it makes the old URL answer 404. Calendar apps fetch the feed without signing in, so the
token alone says whose feed it is: it is looked up across tenants, then everything else is
read inside the resource's own tenant.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from core import audit
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.permissions import Actor
from core.tenancy import all_tenants, tenant_scope
from delivery.models import Assignment, Engagement, EngagementState, Resource

TOKEN_BYTES = 32


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def resource_of(actor: Actor) -> Resource | None:
    return db.session.scalar(select(Resource).where(Resource.membership_id == actor.id))


def _locked_resource(actor: Actor) -> Resource:
    resource = db.session.scalar(
        select(Resource).where(Resource.membership_id == actor.id).with_for_update()
    )
    if resource is None:
        raise ServiceError(
            "You are not set up as a resource yet; ask your delivery manager to add you."
        )
    return resource


def issue_token(actor: Actor) -> str:
    """A new secret for the actor's feed, replacing any earlier one; returned once."""
    resource = _locked_resource(actor)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    replaced = resource.calendar_token_hash is not None
    resource.calendar_token_hash = _hash(token)
    audit.record("resource.calendar_token_issued", resource, changes={"replaced": replaced})
    db.session.commit()
    return token


def revoke_token(actor: Actor) -> None:
    resource = _locked_resource(actor)
    if resource.calendar_token_hash is None:
        raise ServiceError("Your calendar feed is already off.")
    resource.calendar_token_hash = None
    audit.record("resource.calendar_token_revoked", resource)
    db.session.commit()


def feed(token: str) -> bytes | None:
    """The .ics of the assignments of the resource holding ``token``; ``None`` if none does
    (a revoked or replaced token included)."""
    if not token or len(token) > 200:
        return None
    with all_tenants():
        resource = db.session.scalar(
            select(Resource).where(
                Resource.calendar_token_hash == _hash(token), Resource.active.is_(True)
            )
        )
    if resource is None:
        return None
    with tenant_scope(resource.vendor_id):
        assignments = db.session.scalars(
            select(Assignment)
            .join(Engagement, Engagement.id == Assignment.engagement_id)
            .where(
                Assignment.resource_id == resource.id,
                Engagement.state != EngagementState.CANCELLED,
            )
            .options(
                joinedload(Assignment.engagement).joinedload(Engagement.servlet_version),
                joinedload(Assignment.engagement).joinedload(Engagement.customer),
            )
            .order_by(Assignment.starts_on, Assignment.id)
        ).all()
        return _calendar(assignments)


def _calendar(assignments: list[Assignment]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Servlet Desk//Assignments//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Servlet Desk assignments")
    stamp = utcnow()
    for assignment in assignments:
        engagement = assignment.engagement
        event = Event()
        event.add("uid", f"assignment-{assignment.id}@servlet-desk")
        event.add("dtstamp", stamp)
        event.add(
            "summary",
            f"{engagement.reference} {engagement.servlet_version.title} "
            f"({engagement.customer.name})",
        )
        event.add("dtstart", assignment.starts_on)
        event.add("dtend", assignment.ends_on + timedelta(days=1))  # all-day: end excluded
        event.add(
            "description",
            f"{assignment.planned_hours:g} planned hours. Deliver by "
            f"{engagement.deliver_by:%d %b %Y}. State: {engagement.state.label}.",
        )
        calendar.add_component(event)
    return calendar.to_ical()
