"""Template helpers: the one place money and times are formatted for people, the URLs every
page's layout repeats, and page links that keep a list's query string."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from babel.dates import format_date, format_datetime
from flask import current_app, request, url_for

from core import bp
from core.money import Money


@bp.app_template_global()
def fixed_url(endpoint: str, **values: str) -> str:
    """``url_for`` for a URL that depends only on the routes and the script root (a static
    file, a page without arguments), built once per process: every page's layout needs a
    dozen of them, and building each costs more than the rest of the navbar."""
    urls: dict[tuple[object, ...], str] = current_app.extensions.setdefault("fixed_urls", {})
    key = (request.script_root, endpoint, *sorted(values.items()))
    url = urls.get(key)
    if url is None:
        url = urls[key] = url_for(endpoint, **values)
    return url


@bp.app_template_global()
def page_url(endpoint: str, number: int) -> str:
    """The current page's address with another page number. The query string is copied as
    text, every filter (``kind=a&kind=b``) kept; it never reaches ``url_for`` as arguments."""
    args = [(name, value) for name, value in request.args.items(multi=True) if name != "page"]
    query = urlencode([*args, ("page", str(number))])
    return f"{url_for(endpoint, **(request.view_args or {}))}?{query}"


@bp.app_template_filter("money")
def money_filter(value: Money | None) -> str:
    return "—" if value is None else value.format()


@bp.app_template_filter("datetime")
def datetime_filter(value: datetime | None) -> str:
    return "—" if value is None else format_datetime(value, "medium", tzinfo="UTC", locale="en")


@bp.app_template_filter("date")
def date_filter(value: date | datetime | None) -> str:
    return "—" if value is None else format_date(value, "medium", locale="en")
