"""The bounds of every value a person can type, and the parsers that refuse what does not fit.

Route converters (``core.converters``), query parameters (``core.params``), form fields
(``core.form_fields``), money (``core.money``), intake answers and imports all parse through
these, so "a number" or "an id" means the same everywhere. A ``Decimal`` accepts
``1e999999`` in nine characters; scaled to cents it overflows and written out in full it is a
million digits. So numbers are read as plain decimals of bounded length (digits, one point, a
sign; no exponent, no float), ids as what an id column holds, dates within two centuries.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

MAX_INT = 2**31 - 1  # an INTEGER column
# Every id is an INTEGER primary key (core.db.IdMixin). PostgreSQL refuses a larger number
# bound to it ("integer out of range"), SQLite one beyond 2**63-1: no row has such an id.
MAX_ID = MAX_INT
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2200, 12, 31)
MAX_NUMBER_LENGTH = 40  # characters of a typed number, separators included

_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class OutOfBounds(ValueError):
    """A typed value that does not parse or does not fit; ``str()`` says what was expected,
    e.g. "a whole number from 1 to 10,000"."""


class TooLarge(OutOfBounds):
    """A number with more digits before its decimal point than the value may have."""


class TooManyDecimals(OutOfBounds):
    """A number with more digits after its decimal point than the value may have."""


def parse_int(text: str, low: int, high: int) -> int:
    """ASCII digits with an optional sign, from ``low`` to ``high``."""
    cleaned = text.strip()
    if len(cleaned) > MAX_NUMBER_LENGTH or not _WHOLE.fullmatch(cleaned):
        raise OutOfBounds("a whole number")
    value = int(cleaned)
    if not low <= value <= high:
        raise OutOfBounds(f"a whole number from {low:,} to {high:,}")
    return value


def parse_id(text: str) -> int:
    """The id of a row: 1 to ``MAX_ID``."""
    try:
        return parse_int(text, 1, MAX_ID)
    except OutOfBounds as error:
        raise OutOfBounds("an id (a whole number from 1)") from error


def parse_decimal(text: str, *, whole_digits: int, places: int) -> Decimal:
    """``"1,234.50"`` → ``Decimal("1234.50")``: at most ``whole_digits`` digits before the
    point and ``places`` after it (trailing zeros aside); thousands commas are dropped."""
    cleaned = text.strip().replace(",", "")
    if len(cleaned) > MAX_NUMBER_LENGTH or not _DECIMAL.fullmatch(cleaned):
        raise OutOfBounds("a plain number such as 25 or 12.50")
    whole, _, fraction = cleaned.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > whole_digits:
        raise TooLarge(f"a number of at most {whole_digits} digits before the decimal point")
    if len(fraction.rstrip("0")) > places:
        raise TooManyDecimals(f"a number with at most {places} decimals")
    return Decimal(cleaned)


def plain_decimal(value: Decimal) -> str:
    """A parsed decimal as people write it: no exponent, no trailing zeros, no ``-0``."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` between ``FIRST_DAY`` and ``LAST_DAY`` (what a date input sends)."""
    cleaned = text.strip()
    try:
        if not _DAY.fullmatch(cleaned):
            raise ValueError(cleaned)
        day = date.fromisoformat(cleaned)
    except ValueError as error:
        raise OutOfBounds("a date as YYYY-MM-DD") from error
    if not FIRST_DAY <= day <= LAST_DAY:
        raise OutOfBounds(f"a date from {FIRST_DAY.year} to {LAST_DAY.year}")
    return day


def has_nul(text: str) -> bool:
    """No text column holds NUL (PostgreSQL refuses it outright), and no person types it."""
    return "\x00" in text
