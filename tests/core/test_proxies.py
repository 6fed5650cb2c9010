"""Behind a trusted proxy the app sees the client's address and scheme; otherwise it ignores
forwarded headers anyone could send."""

from __future__ import annotations

import pytest
from flask import request

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def seen_by_app(app) -> tuple[str, bool]:
    seen = {}

    @app.get("/probe-client")
    def probe():
        seen.update(address=request.remote_addr, secure=request.is_secure)
        return "ok"

    response = app.test_client().get("/probe-client", headers=FORWARDED)
    return seen["address"], "Strict-Transport-Security" in response.headers


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_behind_one_trusted_proxy_its_forwarded_client_and_scheme_count(app):
    assert seen_by_app(app) == ("203.0.113.7", True)


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(app):
    assert seen_by_app(app) == ("127.0.0.1", False)
