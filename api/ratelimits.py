"""Rate limits per API token, with ``RateLimit-*`` headers on every answer.

A Flask-Limiter of its own (the app's limiter leaves reads alone and limits only sign-in
attempts): one application-wide limit keyed by the token's id, so all of a token's requests
share one budget whatever the endpoint, in the store ``RATELIMIT_STORAGE_URI`` names (Redis
when several hosts serve). Requests without a valid token are not counted: they get a 401
before any work. Headers follow the IETF draft: ``RateLimit-Limit``, ``RateLimit-Remaining``
and ``RateLimit-Reset`` (seconds until the window resets); a 429 adds ``Retry-After``.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, current_app
from flask_limiter import Limiter

from api.auth import current_token
from api.problems import is_api_request

# Per token and minute; ``API_RATE_LIMIT`` in the app's config overrides it (tests do).
DEFAULT_LIMIT = "600 per minute"


def _token_key() -> str:
    token = current_token()
    return f"api-token:{token.id}" if token is not None else ""


def _limit() -> str:
    return str(current_app.config.get("API_RATE_LIMIT", DEFAULT_LIMIT))


api_limiter = Limiter(
    key_func=_token_key,
    application_limits=[_limit],
    headers_enabled=False,  # set below, in the draft standard's form
    key_prefix="api",
)


@api_limiter.request_filter
def _not_a_token_request() -> bool:
    return not is_api_request() or current_token() is None


def init_app(app: Flask) -> None:
    api_limiter.init_app(app)
    app.after_request(_rate_limit_headers)


def _rate_limit_headers(response: Response) -> Response:
    limit = api_limiter.current_limit if is_api_request() else None
    if limit is None:
        return response
    window = limit.limit.get_expiry()
    reset = min(window, max(0, math.ceil(limit.reset_at - time.time())))
    response.headers["RateLimit-Limit"] = str(limit.limit.amount)
    response.headers["RateLimit-Remaining"] = str(limit.remaining)
    response.headers["RateLimit-Reset"] = str(reset)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(reset)
    return response
