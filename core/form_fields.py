"""WTForms fields that parse through ``core.bounds``: a form reads ids, decimals and dates
as the query string and the importer do, and refuses the rest with a message on the field.

WTForms' own ``DecimalField`` takes ``sNaN`` (which then breaks its range check) and
``1e-1000020`` (which PostgreSQL cannot store); ``DateField`` takes the year 9999, a day
later than which no date arithmetic works; ``IntegerField`` takes ids no column holds.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from wtforms import DateField, DecimalField, IntegerField

from core.bounds import OutOfBounds, parse_day, parse_decimal, parse_id


class IdField(IntegerField):
    """The id of a row, 1 to ``MAX_ID`` (a hidden field or a typed reference)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            self.data = _parsed(self, parse_id, valuelist[0])


class PlainDecimalField(DecimalField):
    """A decimal of at most ``whole_digits`` digits before the point and ``places`` after
    it, written plainly (no exponent); ``places`` also rounds what the field shows."""

    def __init__(self, *args: Any, whole_digits: int, places: int, **kwargs: Any) -> None:
        super().__init__(*args, places=places, **kwargs)
        self.whole_digits = whole_digits

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            self.data = _parsed(self, self._parse, valuelist[0])

    def _parse(self, text: str) -> Decimal:
        return parse_decimal(text, whole_digits=self.whole_digits, places=self.places)


class DayField(DateField):
    """A date as a date input sends it (``YYYY-MM-DD``), from 1900 to 2200."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            self.data = _parsed(self, parse_day, valuelist[0])


def _parsed(field: Any, parse: Callable[[str], Any], raw: Any) -> Any:
    """``parse(raw)``, or ``None`` with the field's error (WTForms reports a ``ValueError``
    raised from ``process_formdata`` as a processing error of the field)."""
    if not isinstance(raw, str) or not raw.strip():
        return None  # empty: the field's InputRequired or Optional decides
    try:
        return parse(raw)
    except OutOfBounds as error:
        field.data = None
        raise ValueError(field.gettext(f"Enter {error}.")) from error
