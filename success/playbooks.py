"""Playbooks: the vendor's rules, which admins write and CSMs read.

What a playbook may say is checked by ``success.playbook_values``; every change is audited.
``add_standard_playbooks`` writes the five rules of the issue for a vendor that has none,
each with the vendor's own published servlet of the right kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, with_expression

from catalog.models import (
    Recommendation,
    RecommendationState,
    ServletKind,
    ServletVersion,
    VersionState,
)
from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, Role
from success.models import ContactRole
from success.playbook_models import Playbook, PlaybookCondition, Suggestion, SuggestionState
from success.playbook_values import PlaybookValues, offered_servlets, validated
from success.signal_types import signal_types

C = PlaybookCondition

REFUSED = "Only the vendor's admins change playbooks."


def edits_playbooks(actor: Actor | None) -> bool:
    return actor is not None and actor.role is Role.ADMIN


# --- changes ---------------------------------------------------------------------------------


def _recorded(columns: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in columns.items()}


def _refuse_unless_admin(actor: Actor | None) -> Actor:
    if not edits_playbooks(actor):
        raise NotAllowed(REFUSED)
    return actor  # type: ignore[return-value]


def create_playbook(actor: Actor | None, values: PlaybookValues) -> Playbook:
    actor = _refuse_unless_admin(actor)
    columns = validated(values, actor.vendor_id)
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
    columns = validated(values, actor.vendor_id)
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
        columns = validated(value, actor.vendor_id)
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


def servlet_title(owner: type[Playbook] | type[Suggestion]) -> Any:
    """The published title of the servlet a playbook or suggestion offers (for
    ``with_expression``)."""
    return (
        select(ServletVersion.title)
        .where(
            ServletVersion.servlet_id == owner.servlet_id,
            ServletVersion.state == VersionState.PUBLISHED,
        )
        .correlate(owner)
        .scalar_subquery()
    )


def listed() -> list[Playbook]:
    """The vendor's playbooks by name, with their servlet's title and signal type."""
    return list(
        db.session.scalars(
            select(Playbook)
            .options(
                with_expression(Playbook.servlet_title, servlet_title(Playbook)),
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
            with_expression(Playbook.servlet_title, servlet_title(Playbook)),
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
