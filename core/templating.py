"""Template filters: the one place money and times are formatted for people."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_datetime

from core import bp
from core.money import Money


@bp.app_template_filter("money")
def money_filter(value: Money | None) -> str:
    return "—" if value is None else value.format()


@bp.app_template_filter("datetime")
def datetime_filter(value: datetime | None) -> str:
    return "—" if value is None else format_datetime(value, "medium", tzinfo="UTC", locale="en")


@bp.app_template_filter("date")
def date_filter(value: date | datetime | None) -> str:
    return "—" if value is None else format_date(value, "medium", locale="en")
