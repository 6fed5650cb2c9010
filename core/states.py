"""State machines as data: one table per object of which moves exist and who may make them,
and one ``transition`` that checks, stamps, audits and signals.

A table maps each (from, to) pair to the roles that may make the move; ``SYSTEM`` stands for
work with no person behind it (a payment webhook, a scheduled job, another area's signal).
A pair missing from the table is no move at all, whoever asks; a state with no move out is
terminal. Services still decide *whether* a move makes sense for this object now (delivery
started, money owed); the table says which moves exist and whose they are, so a page, the API
and a test can all ask ``can(...)`` the same question.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from blinker import Signal

from core import audit
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed
from core.permissions import Actor, Role


class _System:
    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM: Final = _System()
Mover = Role | _System


@dataclass(frozen=True)
class StateMachine:
    """The moves of one kind of object.

    ``initial`` are the states a new object may start in (``begin``); ``name`` prefixes the
    audit actions (``order.confirmed``); ``stamps`` names the timestamp attribute set on
    entering a state; ``changed`` is sent after every move with ``before``, ``to``, ``actor``
    and ``reason`` (receivers run inside the mover's transaction).
    """

    name: str
    states: type[Enum]
    initial: frozenset[Any]
    moves: Mapping[tuple[Any, Any], frozenset[Mover]]
    stamps: Mapping[Any, str] = field(default_factory=dict)
    changed: Signal = field(default_factory=Signal)

    def exists(self, before: Any, to: Any) -> bool:
        return (before, to) in self.moves

    def can(self, actor: Actor | None, before: Any, to: Any) -> bool:
        """Whether ``actor`` (``None``: the system) may move an object from ``before`` to
        ``to``."""
        movers = self.moves.get((before, to), frozenset())
        return (SYSTEM if actor is None else actor.role) in movers

    def targets(self, before: Any) -> set[Any]:
        return {to for (start, to) in self.moves if start == before}

    def terminal(self) -> set[Any]:
        return {state for state in self.states if not self.targets(state)}


def begin(machine: StateMachine, obj: Any, state: Any) -> None:
    """Give a new object its first state (its creation is audited by the caller)."""
    if state not in machine.initial:
        raise InvalidTransition(f"A new {machine.name} cannot start {state.label.lower()}.")
    obj.state = state
    if state in machine.stamps:
        setattr(obj, machine.stamps[state], utcnow())


def transition(
    machine: StateMachine,
    obj: Any,
    to: Any,
    actor: Actor | None,
    reason: str = "",
    **changes: Any,
) -> None:
    """Move ``obj`` to ``to`` if the table has the move and ``actor`` may make it; stamp the
    time, audit, and signal. No commit: the caller's transaction holds the change."""
    before = obj.state
    if not machine.exists(before, to):
        raise InvalidTransition(
            f"{_what(machine, obj)} is {before.label.lower()}; it cannot become {to.label.lower()}."
        )
    if not machine.can(actor, before, to):
        raise NotAllowed("You do not have permission to do that.")
    obj.state = to
    if to in machine.stamps:
        setattr(obj, machine.stamps[to], utcnow())
    if reason:
        changes["reason"] = reason
    audit.record(
        f"{machine.name}.{to.value}",
        obj,
        changes={"state": [before.value, to.value], **changes},
    )
    machine.changed.send(obj, before=before, to=to, actor=actor, reason=reason)


def _what(machine: StateMachine, obj: Any) -> str:
    reference = getattr(obj, "reference", None)
    noun = machine.name.replace("_", " ").capitalize()
    return f"{noun} {reference}" if reference else f"This {machine.name.replace('_', ' ')}"
