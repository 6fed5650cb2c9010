"""What an API request body may be: JSON, bounded in size and depth, read once.

The limits hold where the body enters, before any schema sees it (STYLE.md rule 20): at most
``MAX_BODY_BYTES`` (413), ``application/json`` or ``+json`` (415), UTF-8, valid JSON nested
no deeper than ``core.uploads.MAX_JSON_DEPTH`` and without NUL (400). The schemas then refuse
unknown fields and wrong types field by field (422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request
from marshmallow import missing
from webargs.flaskparser import FlaskParser

from api.problems import Problem
from core.uploads import MAX_JSON_DEPTH, UploadRefused, upload_json

# One request's body; a view that takes more (bulk ingest) says so with ``@body_limit``.
MAX_BODY_BYTES = 1024 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = TypeVar("F", bound=Callable[..., Any])


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Put below ``@blp.route``: this view's body may be up to ``max_bytes``."""

    def decorator(view: F) -> F:
        view.api_max_body = max_bytes  # type: ignore[attr-defined]
        return view

    return decorator


def check_body() -> None:
    """Before every API view: a body, when there is one, is JSON of a bounded size."""
    view = current_app.view_functions.get(request.endpoint or "")
    request.max_content_length = getattr(view, "api_max_body", MAX_BODY_BYTES)
    if request.method not in _BODY_METHODS:
        return
    length = request.content_length
    has_body = bool(length) or "chunked" in request.headers.get("Transfer-Encoding", "")
    if has_body and not request.is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            "Send the body as JSON with Content-Type: application/json.",
            headers={"Accept-Post": "application/json"},
        )
    if length is not None and length > request.max_content_length:
        raise Problem(
            413, "body-too-large", f"The body may be at most {request.max_content_length} bytes."
        )


def json_body() -> Any:
    """The request's JSON document (``missing`` when the body is empty), checked as above."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return missing
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Problem(400, "malformed-json", "The body is not UTF-8 text.") from error
    try:
        return upload_json(text, MAX_JSON_DEPTH)
    except UploadRefused as error:
        detail = str(error)
        if "NUL" in detail:  # core's wording speaks of files
            detail = "The body holds a NUL character (\\u0000), which no text field can store."
        raise Problem(400, "malformed-json", detail) from error


class JsonBodyParser(FlaskParser):
    """webargs' Flask parser reading the body through ``json_body``."""

    __location_map__ = {**FlaskParser.__location_map__, "json": "load_checked_json"}

    def load_checked_json(self, req: Any, schema: Any) -> Any:
        return json_body()
