"""Signal types: the built-in ones every vendor has (made on first use) and the ones an admin
adds or deletes. Every other module reads a vendor's types through here."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy import select

from core import audit
from core.db import insert_for
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, Role
from core.tenancy import TenancyError, current_scope
from success.signal_models import BuiltInSignal, SignalType

# What pages call the built-in types (their enum labels would say "Nps").
BUILT_IN_NAMES = {
    BuiltInSignal.ACTIVE_USERS: "Active users",
    BuiltInSignal.LICENCES_USED: "Licences used",
    BuiltInSignal.TICKETS_OPEN: "Support tickets open",
    BuiltInSignal.ESCALATIONS: "Escalations",
    BuiltInSignal.NPS: "Product NPS (mean answer, 0-10)",
}


def _current_vendor() -> int:
    scope = current_scope()
    if not isinstance(scope, int):
        raise TenancyError("signal types are per vendor: call inside one vendor's scope")
    return scope


def _saved_types(vendor_id: int) -> list[SignalType]:
    return list(
        db.session.scalars(
            select(SignalType)
            .where(SignalType.vendor_id == vendor_id)
            .order_by(SignalType.built_in.desc(), SignalType.name)
        )
    )


def signal_types() -> list[SignalType]:
    """The current vendor's signal types, built-ins first; the built-in ones are made on first
    use (inside the caller's transaction, which commits them with its own change)."""
    return types_of(_current_vendor())


def types_of(vendor_id: int) -> list[SignalType]:
    """``vendor_id``'s types, named explicitly so a job in an all-tenants scope gets its own."""
    types = _saved_types(vendor_id)
    have = {t.key for t in types}
    missing = [kind for kind in BuiltInSignal if kind.value not in have]
    if not missing:
        return types
    table = SignalType.__table__
    db.session.execute(
        insert_for(db.session, table)
        .values(
            [
                {
                    "vendor_id": vendor_id,
                    "key": kind.value,
                    "name": BUILT_IN_NAMES[kind],
                    "built_in": True,
                }
                for kind in missing
            ]
        )
        .on_conflict_do_nothing(index_elements=["vendor_id", "key"])
    )
    return _saved_types(vendor_id)


def listed_types() -> list[SignalType]:
    """The vendor's types for a page that only reads: the saved ones, and the built-ins not
    made yet as unsaved rows (``signal_types()`` makes them when something is stored)."""
    types = _saved_types(_current_vendor())
    have = {t.key for t in types}
    missing = [
        SignalType(key=kind.value, name=BUILT_IN_NAMES[kind], built_in=True)
        for kind in BuiltInSignal
        if kind.value not in have
    ]
    return missing + types if missing else types


KEY_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_TYPE_NAME = 80


def _refuse_unless_admin(actor: Actor | None) -> Actor:
    if actor is None or actor.role is not Role.ADMIN:
        raise NotAllowed("Only an admin changes the vendor's signal types.")
    return actor


def add_signal_type(actor: Actor | None, key: str, name: str) -> SignalType:
    """An admin adds a type of the vendor's own ("api_calls", "API calls")."""
    actor = _refuse_unless_admin(actor)
    key = (key or "").strip()
    name = " ".join((name or "").split())
    if not 2 <= len(key) <= 40 or not KEY_PATTERN.fullmatch(key):
        raise ServiceError(
            "Key: 2 to 40 lower-case letters, digits and single underscores, starting with a "
            "letter (like api_calls)."
        )
    if not name:
        raise ServiceError("Name: what the figure is called on pages.")
    if len(name) > MAX_TYPE_NAME:
        raise ServiceError(f"Name: at most {MAX_TYPE_NAME} characters.")
    taken = {t.key for t in types_of(actor.vendor_id)}
    if key in taken:
        raise ServiceError(f"Key: “{key}” is already a signal type.")
    made = SignalType(vendor_id=actor.vendor_id, key=key, name=name, built_in=False)
    db.session.add(made)
    db.session.flush()
    audit.record("success.signal_type_added", made, changes={"key": key, "name": name})
    db.session.commit()
    return made


def _uses(signal_type: SignalType) -> int:
    """Rows anywhere that refer to the type (signals, playbook conditions, health components):
    read from the schema, so a table added later that refers to it counts too."""
    target = SignalType.__table__.c.id
    used = 0
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is target:
                used += db.session.scalar(
                    select(sa.func.count()).select_from(table).where(fk.parent == signal_type.id)
                )
    return used


def signal_type_in_use(signal_type: SignalType) -> bool:
    return _uses(signal_type) > 0


def delete_signal_type(actor: Actor | None, signal_type: SignalType) -> None:
    """An admin deletes a type of the vendor's own that nothing uses; built-ins stay."""
    _refuse_unless_admin(actor)
    if signal_type.built_in:
        raise ServiceError("Built-in signal types cannot be deleted.")
    if signal_type_in_use(signal_type):
        raise ServiceError(
            f"“{signal_type.name}” has signals or is used by a playbook or the health model, "
            "so it stays."
        )
    audit.record(
        "success.signal_type_deleted",
        signal_type,
        changes={"key": signal_type.key, "name": signal_type.name},
    )
    db.session.delete(signal_type)
    db.session.commit()
