"""Every error under ``/api/v1`` as ``application/problem+json`` (RFC 9457).

A problem reads ``{"type", "title", "status", "detail"}`` and, when input was refused,
``errors``: one entry per field, ``{"pointer": "#/lines/0/quantity", "detail": ...}`` for the
JSON body (a JSON Pointer as a URI fragment) or ``{"parameter": "limit", "detail": ...}`` for
the query string. ``type`` is a reference into the reference page, where each kind is
explained (``templates/api/docs.html``).

Views and hooks raise ``Problem``; anything else that goes wrong under the API's prefix
(a werkzeug ``HTTPException``, a ``ServiceError`` from a service, a webargs validation error,
an unexpected exception) is turned into a problem by ``problem_for``, which ``api.rest``
installs in front of the app's own error pages for API paths only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Response, json, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from core.audit import record_denied
from core.errors import NotAllowed, ServiceError
from core.extensions import db

PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"

# slug → title; the reference page explains each (its anchors are ``problem-<slug>``).
KINDS: dict[str, str] = {
    "bad-request": "Bad request",
    "malformed-json": "The body is not valid JSON",
    "unauthorized": "A valid API token is required",
    "forbidden": "Not allowed",
    "insufficient-scope": "The token lacks a scope this request needs",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflict",
    "idempotency-in-progress": "A request with this idempotency key is still running",
    "idempotency-key-reused": "This idempotency key was used for another request",
    "precondition-failed": "The resource changed since you read it",
    "body-too-large": "The body is too large",
    "unsupported-media-type": "The body must be JSON",
    "validation": "The input is not valid",
    "precondition-required": "If-Match is required",
    "rate-limited": "Too many requests",
    "document-pending": "The document is still being rendered",
    "server-error": "Something went wrong on our side",
}

# The kind of a plain HTTP error, by status.
_KIND_OF_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "validation",
    428: "precondition-required",
    429: "rate-limited",
}

# What webargs calls a location, as a problem's error entry names it.
_BODY_LOCATIONS = {"json", "json_or_form", "form", "files"}


class FieldErrorSchema(Schema):
    pointer = fields.String(metadata={"description": "Where in the JSON body, e.g. #/name."})
    parameter = fields.String(metadata={"description": "Which query parameter or header."})
    detail = fields.String(required=True)


class ProblemSchema(Schema):
    """The body of every error (documents ``problem_response``)."""

    type = fields.String(required=True, metadata={"example": "/api/v1/docs#problem-not-found"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(FieldErrorSchema))


class Problem(HTTPException):
    """An API error with its kind, what happened and, for refused input, the fields."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description=detail)
        self.code = status
        self.kind = kind
        self.detail = detail
        self.errors = errors
        self.extra_headers = dict(headers or {})


def is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def problem_type(kind: str) -> str:
    return f"{PREFIX}/docs#problem-{kind}"


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(problem.kind),
        "title": KINDS.get(problem.kind, HTTPStatus(problem.code).phrase),
        "status": problem.code,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = problem.errors
    response = Response(json.dumps(body), status=problem.code, mimetype=MEDIA_TYPE)
    response.headers.update(problem.extra_headers)
    return response


def problem_for(error: BaseException) -> Response:
    """The problem answer for any error raised while serving an API request."""
    if isinstance(error, Problem):
        return problem_response(error)
    if isinstance(error, ServiceError):
        return problem_response(_from_service_error(error))
    if isinstance(error, HTTPException) and error.code is not None and error.code < 500:
        return _from_http_exception(error)
    db.session.rollback()
    return problem_response(
        Problem(500, "server-error", "The request failed on our side; it was logged.")
    )


def _from_service_error(error: ServiceError) -> Problem:
    """A service's refusal: its message is written for people, so it is the detail."""
    db.session.rollback()
    if isinstance(error, NotAllowed):
        record_denied(request.endpoint or request.path, None)
    status = error.status_code
    kind = _KIND_OF_STATUS.get(status, "bad-request")
    if status == 400:  # the web app flashes these; an API client sent something refused
        status, kind = 422, "validation"
    field = getattr(error, "field", None)
    errors = [{"pointer": _pointer([field]), "detail": error.message}] if field else None
    return Problem(status, kind, error.message, errors=errors)


def pointed(error: ServiceError, labels: Mapping[str, str]) -> ServiceError:
    """A service's refusal of a value ("Hours: at most 24 in one day.") pointed at the body
    field its label names (``labels``: label → field), so the problem lists it under
    ``errors``; other refusals are left as they are."""
    label = error.message.partition(":")[0]
    if type(error) is ServiceError and label in labels:
        error.field = labels[label]  # type: ignore[attr-defined]
    return error


def _from_http_exception(error: HTTPException) -> Response:
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    headers = dict(data.get("headers") or {})
    if messages:  # webargs: the schema refused the body or the query string
        problem = Problem(
            code,
            _KIND_OF_STATUS.get(code, "validation"),
            "Some fields are missing or not valid; see errors.",
            errors=field_errors(messages),
            headers=headers,
        )
        return problem_response(problem)
    detail = error.description or HTTPStatus(code).description
    headers.update(_allowed_methods(error))
    if code == 429:
        detail = "Too many requests with this token; wait until RateLimit-Reset seconds pass."
    elif code == 404:
        detail = "There is no such resource, or it is not yours to see."
    problem = Problem(code, _KIND_OF_STATUS.get(code, "bad-request"), detail, headers=headers)
    return problem_response(problem)


def _allowed_methods(error: HTTPException) -> dict[str, str]:
    valid = getattr(error, "valid_methods", None)
    return {"Allow": ", ".join(sorted(valid))} if valid else {}


def field_errors(messages: Mapping[str, Any]) -> list[dict[str, str]]:
    """webargs' ``{"json": {"lines": {0: {"quantity": ["..."]}}}}`` as one entry per message."""
    errors: list[dict[str, str]] = []
    for location, refused in messages.items():
        in_body = location in _BODY_LOCATIONS
        for path, message in _flatten(refused, []):
            if in_body:
                errors.append({"pointer": _pointer(path), "detail": message})
            else:
                errors.append({"parameter": ".".join(map(str, path)), "detail": message})
    return errors


def _flatten(value: Any, path: list[Any]) -> Iterable[tuple[list[Any], str]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flatten(inner, path if key == "_schema" else [*path, key])
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _flatten(inner, path)
    else:
        yield path, str(value)


def _pointer(path: Iterable[Any]) -> str:
    """A JSON Pointer (RFC 6901) as a URI fragment: ``#/lines/0/quantity``; ``#`` is the body."""
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return "#" + "".join(f"/{part}" for part in escaped)
