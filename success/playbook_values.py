"""What a playbook may say: the values an admin types, checked into its columns.

Each condition kind asks for its own parameters (``REQUIRES``) and offers its own
placeholders to the reason template (``PLACEHOLDERS``); a playbook is refused with a reason
the admin can act on when a parameter is missing, out of range or names something the vendor
does not have (a signal type of another vendor, a servlet no longer published).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import select

from catalog.models import LifecycleStage, Servlet, ServletKind, ServletVersion, VersionState
from core.errors import ServiceError
from core.extensions import db
from success.health_models import HealthComponent
from success.models import ContactRole
from success.playbook_models import PlaybookCondition
from success.signal_models import SignalType

C = PlaybookCondition
E = TypeVar("E", bound=Enum)

MAX_NAME = 120
MAX_TEMPLATE = 1000
WINDOW_DAYS = (1, 730)
COOLING_OFF_DAYS = (0, 365)
# Threshold range per condition, with what the number means.
THRESHOLDS: dict[PlaybookCondition, tuple[float, float, str]] = {
    C.SIGNAL_DROP: (1, 100, "the drop in %"),
    C.LICENCE_CAP: (1, 500, "the % of licences bought"),
    C.COMPONENT_BELOW: (1, 100, "the component score (0-100)"),
    C.LOW_CSAT: (1, 5, "the CSAT (1-5)"),
}
# The parameter each condition needs besides threshold and window.
REQUIRES: dict[PlaybookCondition, str | None] = {
    C.SIGNAL_DROP: "signal_type_id",
    C.LICENCE_CAP: "signal_type_id",
    C.COMPONENT_BELOW: "component",
    C.CONTACT_CHANGED: "contact_role",
    C.NO_SERVLET_KIND: "servlet_kind",
    C.LOW_CSAT: None,
}
_COMMON = ("account", "days")
PLACEHOLDERS: dict[PlaybookCondition, tuple[str, ...]] = {
    C.SIGNAL_DROP: (*_COMMON, "signal", "value", "before", "drop"),
    C.LICENCE_CAP: (*_COMMON, "signal", "value", "bought", "percent"),
    C.COMPONENT_BELOW: (*_COMMON, "component", "score", "fact"),
    C.CONTACT_CHANGED: (*_COMMON, "role", "contact", "previous", "since"),
    C.NO_SERVLET_KIND: (*_COMMON, "kind", "last"),
    C.LOW_CSAT: (*_COMMON, "csat", "engagement", "comment"),
}


@dataclass(frozen=True)
class PlaybookValues:
    """A playbook as typed: enums by value ("" when not given), ids 0 or ``None`` when not
    chosen. Parameters the condition does not use are dropped."""

    name: str
    condition: str
    servlet_id: int | None
    reason_template: str
    signal_type_id: int | None = None
    component: str = ""
    contact_role: str = ""
    servlet_kind: str = ""
    threshold: float | None = None
    window_days: int | None = 30
    stage: str = ""
    cooling_off_days: int | None = 90
    enabled: bool = True


def _member(enum: type[E], value: str, what: str) -> E:
    try:
        return enum(value)
    except ValueError as error:
        labels = ", ".join(member.label for member in enum)  # type: ignore[attr-defined]
        raise ServiceError(f"{what}: choose one of {labels}.") from error


def placeholders_in(template: str) -> list[str]:
    """The placeholders of ``template``; refuses what ``str.format`` would not fill plainly
    (unbalanced braces, ``{value!r}``, ``{value:>9}``, positional ``{}``)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ServiceError(
            "Reason: a brace is not closed; write placeholders as {account}, or {{ for a brace."
        ) from error
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or not name:
            raise ServiceError(
                f"Reason: write placeholders plainly, as {{account}}; “{{{name}...}}” is not one."
            )
        names.append(name)
    return names


def _template(text: str, condition: PlaybookCondition) -> str:
    template = " ".join((text or "").split())
    if not template:
        raise ServiceError("Reason: say why the servlet helps, e.g. “usage at {account} fell”.")
    if len(template) > MAX_TEMPLATE:
        raise ServiceError(f"Reason: at most {MAX_TEMPLATE:,} characters.")
    allowed = PLACEHOLDERS[condition]
    unknown = sorted(set(placeholders_in(template)) - set(allowed))
    if unknown:
        shown = ", ".join(f"{{{name}}}" for name in unknown)
        offered = ", ".join(f"{{{name}}}" for name in allowed)
        raise ServiceError(f"Reason: {shown} is not known for “{condition.label}”; use {offered}.")
    return template


def fill(template: str, values: dict[str, Any]) -> str:
    """The reason a suggestion shows: ``template`` with its placeholders filled."""
    return template.format_map({name: str(value) for name, value in values.items()})[:2000]


def _number(value: Any, what: str, low: float, high: float, meaning: str = "") -> Any:
    if value is None:
        raise ServiceError(f"{what}: required{f' ({meaning})' if meaning else ''}.")
    if not low <= value <= high:
        raise ServiceError(f"{what}: from {low:g} to {high:g}{f' ({meaning})' if meaning else ''}.")
    return value


def _signal_type(type_id: int | None, vendor_id: int) -> int:
    if not type_id:
        raise ServiceError("Signal type: choose which figure the playbook watches.")
    found = db.session.scalar(
        select(SignalType.id).where(SignalType.id == type_id, SignalType.vendor_id == vendor_id)
    )
    if found is None:
        raise ServiceError(
            "Signal type: that signal type does not exist; choose one of your signal types."
        )
    return found


def offered_servlets(vendor_id: int) -> list[tuple[int, str, ServletKind]]:
    """The vendor's published, unretired servlets: (id, title, kind), by title."""
    return [
        tuple(row)  # type: ignore[misc]
        for row in db.session.execute(
            select(Servlet.id, ServletVersion.title, ServletVersion.kind)
            .join(ServletVersion, ServletVersion.servlet_id == Servlet.id)
            .where(
                Servlet.vendor_id == vendor_id,
                Servlet.retired_at.is_(None),
                ServletVersion.state == VersionState.PUBLISHED,
            )
            .order_by(ServletVersion.title, Servlet.id)
        )
    ]


def _servlet(servlet_id: int | None, vendor_id: int) -> int:
    if not servlet_id:
        raise ServiceError("Suggested servlet: choose the servlet to suggest.")
    if servlet_id not in {row[0] for row in offered_servlets(vendor_id)}:
        raise ServiceError("Suggested servlet: choose one of your published servlets.")
    return servlet_id


def validated(values: PlaybookValues, vendor_id: int) -> dict[str, Any]:
    """The playbook's columns from ``values``, or a refusal naming the field to fix."""
    name = " ".join((values.name or "").split())
    if not name:
        raise ServiceError("Name: say what the playbook watches, e.g. “Usage dropping”.")
    if len(name) > MAX_NAME:
        raise ServiceError(f"Name: at most {MAX_NAME} characters.")
    condition = _member(PlaybookCondition, values.condition, "Condition")
    columns: dict[str, Any] = {
        "name": name,
        "condition": condition,
        "enabled": bool(values.enabled),
        "signal_type_id": None,
        "component": None,
        "contact_role": None,
        "servlet_kind": None,
        "threshold": None,
        "window_days": _number(values.window_days, "Window (days)", *WINDOW_DAYS),
        "stage": _member(LifecycleStage, values.stage, "Stage") if values.stage else None,
        "cooling_off_days": _number(
            values.cooling_off_days, "Cooling-off (days)", *COOLING_OFF_DAYS
        ),
        "reason_template": _template(values.reason_template, condition),
    }
    needs = REQUIRES[condition]
    if needs == "signal_type_id":
        columns["signal_type_id"] = _signal_type(values.signal_type_id, vendor_id)
    elif needs == "component":
        columns["component"] = _member(HealthComponent, values.component, "Health component")
    elif needs == "contact_role":
        columns["contact_role"] = _member(ContactRole, values.contact_role, "Contact role")
    elif needs == "servlet_kind":
        columns["servlet_kind"] = _member(ServletKind, values.servlet_kind, "Servlet kind")
    if condition in THRESHOLDS:
        low, high, meaning = THRESHOLDS[condition]
        columns["threshold"] = float(_number(values.threshold, "Threshold", low, high, meaning))
    columns["servlet_id"] = _servlet(values.servlet_id, vendor_id)
    return columns
