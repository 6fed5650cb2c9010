"""Query-string parameters, parsed and bounded in one place.

Every view reads ``request.args`` through these functions. A value that does not parse or
does not fit is ignored, as a search box would ignore it, and the page says so in a flash
message; an empty value is simply absent (a filter form sends every box).

Links back to a page are built from parsed values (``query_args``) or by copying the query
string as text (``core.templating.page_url``), never by passing ``request.args`` to
``url_for``, whose reserved names (``_scheme``, ``_anchor``, ``_external``) a visitor could
otherwise set.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date
from enum import Enum
from typing import TypeVar

from flask import flash, request

from core.bounds import OutOfBounds, parse_day, parse_id, parse_int

E = TypeVar("E", bound=Enum)
T = TypeVar("T")


def _raw(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    return value or None


def _ignored(name: str, error: OutOfBounds) -> None:
    flash(f"Ignored “{name}” in the address: expected {error}.", "warning")


def text(name: str, max_length: int = 200) -> str:
    """Free text (a search box), cut to ``max_length``."""
    return request.args.get(name, "").strip()[:max_length]


def object_id(name: str) -> int | None:
    """The id of a row (``?customer=12``), or ``None``."""
    return _parsed(name, parse_id, None)


def integer(name: str, low: int, high: int, default: int | None = None) -> int | None:
    """A whole number from ``low`` to ``high``, or ``default``."""
    return _parsed(name, lambda raw: parse_int(raw, low, high), default)


def day(name: str) -> date | None:
    """A date as ``YYYY-MM-DD`` (what a date input sends), or ``None``."""
    return _parsed(name, parse_day, None)


def _parsed(name: str, parse: Callable[[str], T], default: T | None) -> T | None:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except OutOfBounds as error:
        _ignored(name, error)
        return default


def choice(name: str, values: Collection[str], default: str = "") -> str:
    """One of ``values``, or ``default``."""
    raw = _raw(name)
    if raw is None:
        return default
    if raw not in values:
        _ignored(name, OutOfBounds("one of " + ", ".join(values)))
        return default
    return raw


def member(name: str, enum: type[E]) -> E | None:
    """A member of ``enum`` by value, or ``None``."""
    value = choice(name, [m.value for m in enum])
    return enum(value) if value else None


def query_args(values: Mapping[str, object]) -> dict[str, str]:
    """Parsed filter values, by parameter name, back as query-string text for the links that
    keep them (an export); ``None`` and empty values are left out."""
    args = {}
    for name, value in values.items():
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, date):
            value = value.isoformat()
        if value is not None and value != "":
            args[name] = str(value)
    return args
