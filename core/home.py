"""Role home pages as dashboards, filled by the areas: each registers panels for the roles
they concern (``home_panel``), and the home page shows a person the panels of their role, in
area order. A panel answers "what needs me now?" with the work waiting (rows, each with its
next action) and "how are we doing?" with figures, each linking to the list behind it; a
panel with nothing in it says so in one line and offers the action that would fill it.

Panels compute their figures with the same queries as the lists they link to, so a home
never says something the list behind it contradicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from babel.dates import format_timedelta
from sqlalchemy import Select, func, select

from core.db import utcnow
from core.extensions import db
from core.permissions import Actor, Role


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    link: str


@dataclass(frozen=True)
class Row:
    label: str
    detail: str
    link: str
    action: str = "Open"


@dataclass(frozen=True)
class Panel:
    key: str  # names the panel in tests (data-testid="panel-<key>")
    title: str
    figures: tuple[Figure, ...] = ()
    rows: tuple[Row, ...] = ()
    empty: str = ""  # said when no row waits
    action: tuple[str, str] | None = None  # (label, url): what fills the panel, or opens more
    more: int = 0  # rows waiting beyond those shown
    notes: tuple[str, ...] = field(default=())


PanelMaker = Callable[[Actor], Panel | None]

_panels: list[tuple[frozenset[Role], PanelMaker]] = []


def home_panel(*roles: Role) -> Callable[[PanelMaker], PanelMaker]:
    """Register ``maker`` to build a panel on the home page of ``roles``."""

    def register(maker: PanelMaker) -> PanelMaker:
        _panels.append((frozenset(roles), maker))
        return maker

    return register


def panels_for(actor: Actor) -> list[Panel]:
    made = (maker(actor) for roles, maker in _panels if actor.role in roles)
    return [panel for panel in made if panel is not None]


def count(stmt: Select) -> int:
    """How many rows the list behind a figure shows (its statement, counted)."""
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def ago(moment: datetime) -> str:
    """ "3 days ago": how long a piece of work has waited."""
    return format_timedelta(moment - utcnow(), add_direction=True, locale="en_US")


def registered() -> list[str]:
    return [f"{maker.__module__}.{maker.__qualname__}" for _, maker in _panels]
