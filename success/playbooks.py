"""Playbooks: the vendor's rules, which admins write and CSMs read.

Each condition kind asks for its own parameters (``REQUIRES``) and offers its own
placeholders to the reason template (``PLACEHOLDERS``); a playbook is refused with a reason
the admin can act on when a parameter is missing, out of range or names something the vendor
does not have (a signal type of another vendor, a servlet no longer published). Every change
is audited. ``add_standard_playbooks`` writes the five rules of the issue for a vendor that
has none, each with the vendor's own published servlet of the right kind.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, with_expression

from catalog.models import (
    LifecycleStage,
    Recommendation,
    RecommendationState,
    Servlet,
    ServletKind,
    ServletVersion,
    VersionState,
)
from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, Role
from success.health_models import HealthComponent
from success.models import ContactRole
from success.playbook_models import Playbook, PlaybookCondition, Suggestion, SuggestionState
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
REFUSED = "Only the vendor's admins change playbooks."


def edits_playbooks(actor: Actor | None) -> bool:
    return actor is not None and actor.role is Role.ADMIN


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


# --- validation ------------------------------------------------------------------------------


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


def _validated(values: PlaybookValues, vendor_id: int) -> dict[str, Any]:
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


# --- changes ---------------------------------------------------------------------------------


def _recorded(columns: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in columns.items()}


def _refuse_unless_admin(actor: Actor | None) -> Actor:
    if not edits_playbooks(actor):
        raise NotAllowed(REFUSED)
    return actor  # type: ignore[return-value]


def create_playbook(actor: Actor | None, values: PlaybookValues) -> Playbook:
    actor = _refuse_unless_admin(actor)
    columns = _validated(values, actor.vendor_id)
    playbook = Playbook(vendor_id=actor.vendor_id, **columns)
    db.session.add(playbook)
    db.session.flush()
    audit.record("success.playbook_created", playbook, changes=_recorded(columns))
    db.session.commit()
    return playbook


def update_playbook(actor: Actor | None, playbook: Playbook, values: PlaybookValues) -> Playbook:
    actor = _refuse_unless_admin(actor)
    if playbook.vendor_id != actor.vendor_id:
        raise NotAllowed(REFUSED)
    columns = _validated(values, actor.vendor_id)
    enabled = columns.pop("enabled")
    changes = audit.diff(playbook, columns)
    if changes:
        playbook.updated_at = utcnow()
        audit.record("success.playbook_updated", playbook, changes=changes)
    if enabled != playbook.enabled:
        _switch(playbook, enabled)
    db.session.commit()
    return playbook


def set_enabled(actor: Actor | None, playbook: Playbook, enabled: bool) -> int:
    """Switch a playbook on or off; off also resolves its open suggestions (nothing watches
    them any more). Returns how many were resolved."""
    actor = _refuse_unless_admin(actor)
    if playbook.vendor_id != actor.vendor_id:
        raise NotAllowed(REFUSED)
    resolved = _switch(playbook, enabled) if enabled != playbook.enabled else 0
    db.session.commit()
    return resolved


def _switch(playbook: Playbook, enabled: bool) -> int:
    playbook.enabled = enabled
    playbook.updated_at = utcnow()
    resolved = 0
    if not enabled:
        resolved = db.session.execute(
            sa.update(Suggestion)
            .where(Suggestion.playbook_id == playbook.id, Suggestion.state == SuggestionState.OPEN)
            .values(state=SuggestionState.RESOLVED, decided_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    action = "success.playbook_enabled" if enabled else "success.playbook_disabled"
    audit.record(
        action, playbook, changes={"enabled": [not enabled, enabled], "resolved": resolved}
    )
    return resolved


# --- the standard playbooks ------------------------------------------------------------------


@dataclass(frozen=True)
class Standard:
    name: str
    condition: PlaybookCondition
    kind: ServletKind  # of the servlet it suggests
    reason: str
    signal: str = ""  # built-in signal type key
    contact_role: str = ""
    servlet_kind: str = ""
    threshold: float | None = None
    window_days: int = 30
    cooling_off_days: int = 90


STANDARD = (
    Standard(
        "Usage dropping",
        C.SIGNAL_DROP,
        ServletKind.HEALTH_CHECK,
        "Active users at {account} fell {drop} % in {days} days (from {before} to {value}). "
        "A health check finds out why and what to fix before it shows in the renewal.",
        signal="active_users",
        threshold=25,
    ),
    Standard(
        "Licences near the cap",
        C.LICENCE_CAP,
        ServletKind.EXPANSION,
        "{account} uses {value} of the {bought} licences it bought ({percent} %). "
        "An expansion plan sizes the next tier before people are turned away.",
        signal="licences_used",
        threshold=90,
        cooling_off_days=60,
    ),
    Standard(
        "New admin contact",
        C.CONTACT_CHANGED,
        ServletKind.ONBOARDING,
        "{contact} took over as {role} contact at {account} on {since} (from {previous}). "
        "Admin onboarding gets them productive in days rather than months.",
        contact_role=ContactRole.ADMIN.value,
        window_days=45,
    ),
    Standard(
        "No health check in 6 months",
        C.NO_SERVLET_KIND,
        ServletKind.HEALTH_CHECK,
        "{account} has had no health check in {days} days (last: {last}). "
        "A regular check keeps configuration drift and risks in view.",
        servlet_kind=ServletKind.HEALTH_CHECK.value,
        window_days=180,
        cooling_off_days=60,
    ),
    Standard(
        "Low CSAT follow-up",
        C.LOW_CSAT,
        ServletKind.ADOPTION,
        "{account} rated {engagement} {csat} out of 5. An optimisation session "
        "follows up on what fell short and wins back confidence.",
        threshold=3,
        window_days=60,
    ),
)


@dataclass(frozen=True)
class StandardOutcome:
    made: list[Playbook]
    skipped: list[str]  # why a standard rule was not added


def default_playbooks(vendor_id: int) -> tuple[list[PlaybookValues], list[str]]:
    """The standard rules as values for ``vendor_id`` (inside its tenant scope), each with
    the vendor's first published servlet of the right kind; a rule with no such servlet is
    skipped and said so."""
    from success.signals import signal_types

    types = {signal_type.key: signal_type.id for signal_type in signal_types()}
    by_kind: dict[ServletKind, int] = {}
    for servlet_id, _, kind in offered_servlets(vendor_id):
        by_kind.setdefault(kind, servlet_id)
    made: list[PlaybookValues] = []
    skipped: list[str] = []
    for rule in STANDARD:
        if rule.kind not in by_kind:
            skipped.append(
                f"“{rule.name}” needs a published {rule.kind.label.lower()} servlet; "
                "publish one and add the playbook."
            )
            continue
        made.append(
            PlaybookValues(
                name=rule.name,
                condition=rule.condition.value,
                servlet_id=by_kind[rule.kind],
                reason_template=rule.reason,
                signal_type_id=types.get(rule.signal) if rule.signal else None,
                contact_role=rule.contact_role,
                servlet_kind=rule.servlet_kind,
                threshold=rule.threshold,
                window_days=rule.window_days,
                cooling_off_days=rule.cooling_off_days,
            )
        )
    return made, skipped


def has_playbooks() -> bool:
    return db.session.scalar(select(func.count(Playbook.id))) > 0


def add_standard_playbooks(actor: Actor | None) -> StandardOutcome:
    """Add the standard playbooks for a vendor that has none (an admin's button, the demo);
    one transaction, one audit event per playbook."""
    actor = _refuse_unless_admin(actor)
    if has_playbooks():
        raise ServiceError("You have playbooks already; add more one by one.")
    values, skipped = default_playbooks(actor.vendor_id)
    made = []
    for value in values:
        columns = _validated(value, actor.vendor_id)
        playbook = Playbook(vendor_id=actor.vendor_id, **columns)
        db.session.add(playbook)
        db.session.flush()
        audit.record(
            "success.playbook_created",
            playbook,
            changes=_recorded(columns) | {"standard": True},
        )
        made.append(playbook)
    db.session.commit()
    return StandardOutcome(made, skipped)


# --- reading ---------------------------------------------------------------------------------


def describe(playbook: Playbook) -> str:
    """The condition in words: "Active users fell 25 % or more over 30 days"."""
    p, days = playbook, playbook.window_days
    signal = p.signal_type.name if p.signal_type is not None else "A signal"
    threshold = f"{p.threshold:g}" if p.threshold is not None else "?"
    text = {
        C.SIGNAL_DROP: f"{signal} fell {threshold} % or more over {days} days",
        C.LICENCE_CAP: f"{signal} reached {threshold} % of licences bought",
        C.COMPONENT_BELOW: f"{p.component.label if p.component else '?'} scores under {threshold}",
        C.CONTACT_CHANGED: (
            f"A new {p.contact_role.label.lower() if p.contact_role else '?'} contact "
            f"in the last {days} days"
        ),
        C.NO_SERVLET_KIND: (
            f"No {p.servlet_kind.label.lower() if p.servlet_kind else '?'} engagement "
            f"in {days} days"
        ),
        C.LOW_CSAT: f"An engagement rated {threshold} or less in the last {days} days",
    }[p.condition]
    return f"{text}, at the {p.stage.label.lower()} stage" if p.stage else text


def _servlet_title() -> Any:
    return (
        select(ServletVersion.title)
        .where(
            ServletVersion.servlet_id == Playbook.servlet_id,
            ServletVersion.state == VersionState.PUBLISHED,
        )
        .correlate(Playbook)
        .scalar_subquery()
    )


def listed() -> list[Playbook]:
    """The vendor's playbooks by name, with their servlet's title and signal type."""
    return list(
        db.session.scalars(
            select(Playbook)
            .options(
                with_expression(Playbook.servlet_title, _servlet_title()),
                joinedload(Playbook.signal_type),
            )
            .order_by(Playbook.name, Playbook.id)
        )
    )


def one(playbook_id: int) -> Playbook | None:
    return db.session.scalar(
        select(Playbook)
        .where(Playbook.id == playbook_id)
        .options(
            with_expression(Playbook.servlet_title, _servlet_title()),
            joinedload(Playbook.signal_type),
        )
    )


@dataclass(frozen=True)
class Stats:
    fired: int = 0  # suggestions made
    recommended: int = 0  # of which turned into recommendations
    bought: int = 0  # of those, ordered

    @property
    def conversion(self) -> float | None:
        """Bought ÷ fired; ``None`` before it fired."""
        return self.bought / self.fired if self.fired else None


def stats() -> dict[int, Stats]:
    """Per playbook: how often it fired, how many became recommendations and how many of
    those were bought (one grouped query)."""
    bought = func.sum(sa.case((Recommendation.state == RecommendationState.ORDERED, 1), else_=0))
    rows = db.session.execute(
        select(
            Suggestion.playbook_id,
            func.count(Suggestion.id),
            func.count(Suggestion.recommendation_id),
            bought,
        )
        .outerjoin(Recommendation, Recommendation.id == Suggestion.recommendation_id)
        .group_by(Suggestion.playbook_id)
    )
    return {row[0]: Stats(row[1], row[2], int(row[3] or 0)) for row in rows}
