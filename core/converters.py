"""Route converters: every ``<int:...>`` in a route is the id of a row, 1 to ``MAX_ID``.

A path id larger than an id column holds can name no row, yet matched as a plain integer it
reaches every lookup, where the database refuses to bind it (a 500). Out of range, the rule
simply does not match: a 404.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, Map, ValidationError

from core.bounds import MAX_ID


class IdConverter(IntegerConverter):
    """``IntegerConverter`` bounded to ids; still an ``IntegerConverter`` for the route tests."""

    regex = r"[0-9]+"  # ``\d`` would also match other scripts' digits

    def __init__(self, map: Map, fixed_digits: int = 0, min: int = 1, max: int = MAX_ID) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ID)):  # int() of thousands of digits is refused, not 404
            raise ValidationError()
        return super().to_python(value)


def init_app(app: Flask) -> None:
    """Make ``int`` the bounded id converter. Rules pick their converter when they are
    added, so this runs before any area's routes (first thing of the core blueprint)."""
    app.url_map.converters["int"] = IdConverter
