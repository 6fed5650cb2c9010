"""Cursor pages: ``?limit=`` (1 to 100) and an opaque ``?cursor=`` from the previous page.

A list is ordered by unique keys, ascending (``(Model.id,)``, or ``(Model.updated_at,
Model.id)`` where a resource has a change time); the cursor holds the last row's keys and the
next page starts after them (``WHERE (keys) > (cursor)``). So a walk neither repeats nor
skips a row when rows are inserted meanwhile (new ones come at the end), and every page costs
one indexed statement however deep it is, unlike an offset.

The body is ``{"data": [...], "next_cursor": "..." | null}``, and the next page's full URL
is also in ``Link: <...>; rel="next"``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import request, url_for
from marshmallow import Schema, fields, validate

from api.fields import ApiSchema, Timestamp, rfc3339
from api.problems import Problem
from core.bounds import MAX_ID
from core.extensions import db

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 200


class ListArgs(ApiSchema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        strict=False,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT}."},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=MAX_CURSOR_LENGTH),
        metadata={"description": "next_cursor of the previous page; omit for the first."},
    )


class ChangedListArgs(ListArgs):
    updated_since = Timestamp(
        load_default=None,
        metadata={"description": "Only items changed at or after this RFC 3339 time."},
    )


_page_schemas: dict[type[Schema], type[Schema]] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The schema of a page of ``item_schema`` (one per item schema, for the OpenAPI doc)."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(
            name,
            (Schema,),
            {
                "data": fields.List(fields.Nested(item_schema), required=True),
                "next_cursor": fields.String(
                    required=True,
                    allow_none=True,
                    metadata={
                        "description": "Pass as ?cursor= for the next page; null at the end."
                    },
                ),
            },
        )
    return _page_schemas[item_schema]


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None

    def answer(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """``(body, headers)`` for a view decorated with ``@blp.response(200, page_of(...))``;
        ``args`` are the parsed query values, which the next page keeps (its filters)."""
        headers = {}
        if self.next_cursor is not None:
            headers["Link"] = f'<{_next_url(self.next_cursor, args)}>; rel="next"'
        return {"data": self.items, "next_cursor": self.next_cursor}, headers


def keyset_page(stmt: sa.Select[Any], args: dict[str, Any], keys: Sequence[Any]) -> Page:
    """One page of ``stmt`` (which selects one entity) ordered by ``keys``."""
    limit = args["limit"]
    after = decode_cursor(args.get("cursor"), keys)
    if after is not None:
        bound = [sa.literal(value, key.type) for key, value in zip(keys, after, strict=True)]
        stmt = stmt.where(sa.tuple_(*keys) > sa.tuple_(*bound))
    rows = db.session.execute(stmt.add_columns(*keys).order_by(*keys).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(tuple(rows[-1])[1:]) if more else None
    return Page([row[0] for row in rows], next_cursor)


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [rfc3339(value) if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, keys: Sequence[Any]) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("wrong shape")
        return [_key_value(key, value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, TypeError, UnicodeError, binascii.Error) as error:
        raise Problem(
            400,
            "bad-request",
            "This cursor is not one this list gave; start again without it.",
            errors=[{"parameter": "cursor", "detail": "Not a cursor of this list."}],
        ) from error


def _key_value(key: Any, value: Any) -> Any:
    python_type = key.type.python_type
    if python_type is int:
        if type(value) is not int or not 0 <= value <= MAX_ID:
            raise ValueError("not an id")
        return value
    if python_type is datetime:
        if not isinstance(value, str):
            raise ValueError("not a time")
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("not a UTC time")
        return parsed
    raise ValueError(f"unsupported cursor key {key}")


def _next_url(cursor: str, args: dict[str, Any]) -> str:
    """Built from the parsed values, never from the raw query string."""
    values = {
        name: rfc3339(value) if isinstance(value, datetime) else value
        for name, value in args.items()
        if value is not None
    }
    values["cursor"] = cursor
    return url_for(request.endpoint or "", **(request.view_args or {}), **values, _external=True)
