"""The vendor's holidays: days nobody works, skipped by due dates and by capacity."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from core import audit
from core.errors import Conflict, NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, scoped
from delivery import policies
from delivery.models import Holiday

MAX_NAME = 80


def _manager(actor: Actor) -> Actor:
    if not policies.manages_resources(actor):
        raise NotAllowed("You do not have permission to do that.")
    return actor


def holidays() -> Select[tuple[Holiday]]:
    return scoped(Holiday).order_by(Holiday.day)


def add_holiday(actor: Actor, day: date, name: str) -> Holiday:
    """A new day off. Engagements already dated keep their dates; new ones skip the day."""
    _manager(actor)
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME:
        raise ServiceError(f"Name the holiday in 1 to {MAX_NAME} characters.")
    taken = select(Holiday.id).where(Holiday.vendor_id == actor.vendor_id, Holiday.day == day)
    if db.session.scalar(taken) is not None:
        raise Conflict(f"{day.isoformat()} is already a holiday.")
    holiday = Holiday(vendor_id=actor.vendor_id, day=day, name=name)
    db.session.add(holiday)
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise Conflict(f"{day.isoformat()} is already a holiday.") from error
    audit.record("holiday.added", holiday, changes={"day": day.isoformat(), "name": name})
    db.session.commit()
    return holiday


def remove_holiday(actor: Actor, holiday: Holiday) -> Holiday:
    _manager(actor)
    audit.record(
        "holiday.removed", holiday, changes={"day": holiday.day.isoformat(), "name": holiday.name}
    )
    db.session.delete(holiday)
    db.session.commit()
    return holiday
