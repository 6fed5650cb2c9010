"""The value types every API schema shares: timestamps, days, money, ids, hours.

Timestamps are RFC 3339 in UTC with ``Z`` (``2026-12-02T09:30:00Z``), and one with an offset
is read as the instant it names; a time without an offset is refused. Money is
``{"amount": 129900, "currency": "EUR"}``: integer minor units and the ISO 4217 code, as in
webhook payloads and as Stripe does, never a float.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from core.bounds import FIRST_DAY, LAST_DAY, MAX_ID, OutOfBounds, parse_decimal, plain_decimal
from core.money import Money

MAX_TIMESTAMP_LENGTH = 40
MAX_MINOR = 10**17  # 15 digits before the point and two after: ``core.money``'s bound


class ApiSchema(Schema):
    """The base of API schemas: input with a field the schema does not know is refused."""

    class Meta:
        unknown = RAISE


def rfc3339(value: datetime) -> str:
    """``2026-12-02T09:30:00Z`` (microseconds when there are any)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Timestamp(fields.DateTime):
    """An RFC 3339 instant, written in UTC with ``Z``."""

    default_error_messages = {
        "invalid": "Not an RFC 3339 time with an offset, e.g. 2026-12-02T09:30:00Z.",
    }

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else rfc3339(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_LENGTH or "T" not in value:
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as error:
            raise self.make_error("invalid") from error
        if parsed.tzinfo is None or not FIRST_DAY <= parsed.date() <= LAST_DAY:
            raise self.make_error("invalid")
        return parsed.astimezone(UTC)


class Day(fields.Date):
    """A calendar day, ``YYYY-MM-DD``, within ``core.bounds``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(f"A date from {FIRST_DAY.year} to {LAST_DAY.year}.")
        return day


class Id(fields.Integer):
    """An object id: a whole number an id column can hold (else refused, never a 500)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(1, MAX_ID))
        super().__init__(**kwargs)


class MoneySchema(Schema):
    amount = fields.Integer(
        required=True,
        strict=True,  # 12.5 is refused, never truncated
        validate=validate.Range(-MAX_MINOR, MAX_MINOR),
        metadata={"description": "Integer minor units (cents for EUR)."},
    )
    currency = fields.String(
        required=True, validate=validate.Length(equal=3), metadata={"example": "EUR"}
    )


class MoneyField(fields.Nested):
    """A ``core.money.Money`` as ``{"amount", "currency"}``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(MoneySchema, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Money:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            return Money(loaded["amount"], loaded["currency"].upper())
        except (TypeError, ValueError) as error:
            raise ValidationError(str(error)) from error


class Hours(fields.Field):
    """Hours as a JSON number or string (``1.5``, ``"0.25"``), at most two decimals, read as
    the web form reads them (``core.bounds.parse_decimal``); written as a string. Documented
    as string or number (registered in ``api.rest``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"example": "1.5"} | kwargs.get("metadata", {})
        super().__init__(**kwargs)

    def _serialize(self, value: Decimal | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else plain_decimal(Decimal(value))

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError("A number of hours, e.g. 1.5.")
        try:
            return parse_decimal(str(value), whole_digits=2, places=2)
        except OutOfBounds as error:
            raise ValidationError(f"Expected {error}.") from error
