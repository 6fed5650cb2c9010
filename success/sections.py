"""The account page's sections beyond the record: each part of the success area (health,
signals, suggestions, plans, surveys, reports) declares its own here, so the page is one
template looping over what the areas add, and no part edits another's view.

A maker gets the customer, the person looking and today, and returns a ``Section`` (or
``None`` when it has nothing to show that person); it runs a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from accounts.models import Organization
from core.permissions import Actor


@dataclass(frozen=True)
class Section:
    template: str  # rendered with ``section`` (this object) and the page's variables
    context: dict[str, Any] = field(default_factory=dict)
    column: Literal["side", "main"] = "main"


SectionMaker = Callable[[Organization, Actor, date], Section | None]

_makers: list[tuple[int, SectionMaker]] = []


def account_section(order: int) -> Callable[[SectionMaker], SectionMaker]:
    """Register ``maker``; sections show by ``order``, lowest first, in their column."""

    def register(maker: SectionMaker) -> SectionMaker:
        _makers.append((order, maker))
        _makers.sort(key=lambda entry: entry[0])
        return maker

    return register


def sections_for(customer: Organization, actor: Actor, today: date) -> list[Section]:
    made = (maker(customer, actor, today) for _, maker in _makers)
    return [section for section in made if section is not None]
