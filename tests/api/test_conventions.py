"""The conventions every endpoint gets: problem+json for every error, bounded JSON bodies,
scopes, idempotency keys (a repeat answers as the first; two at once run once), ETags,
per-token rate limits, no CSRF and no cookies, the OpenAPI document and the reference page."""

from __future__ import annotations

import json
import re
import threading

import pytest
from sqlalchemy import select

from api.idempotency_models import IdempotencyKey
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import Role
from core.security_headers import CONTENT_SECURITY_POLICY
from tests.api import factories, probe

BODY = {"name": "Kick-off", "price": {"amount": 129900, "currency": "EUR"}}


@pytest.fixture
def api(app, tenant_a, unscoped):
    """A client, the probe resource, and a buyer's token that may write orders."""
    probe.with_probe(app)
    with unscoped():
        made = factories.personal(tenant_a.people[Role.BUYER], ["write:orders", "read:catalog"])
    client = app.test_client()
    client.token = made
    return client


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.json
    assert body["status"] == status
    assert body["type"].startswith("/api/v1/docs#problem-")
    assert body["title"]
    assert body["detail"]
    return body


def _post(client, body, key: str | None = None, **kwargs):
    headers = dict(client.token.headers)
    if key:
        headers["Idempotency-Key"] = key
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    kwargs.setdefault("content_type", "application/json")
    return client.post("/api/v1/probe", data=data, headers=headers, **kwargs)


def test_unknown_paths_and_methods_are_problems(api):
    for headers in ({}, api.token.headers):
        _problem(api.get("/api/v1/nothing-here", headers=headers), 404)
    refused = _problem(api.delete("/api/v1/servlets", headers=api.token.headers), 405)
    assert "GET" in api.delete("/api/v1/servlets").headers["Allow"]
    assert refused["title"] == "Method not allowed"
    _problem(api.post("/api/v1/openapi.json"), 405)
    _problem(api.get("/api/v1/servlets/99999999999", headers=api.token.headers), 404)


def test_bodies_must_be_json_of_a_bounded_size_and_depth(api):
    _problem(_post(api, "name=x", content_type="application/x-www-form-urlencoded"), 415)
    huge = json.dumps({**BODY, "name": "x" * (2 * 1024 * 1024)})
    _problem(_post(api, huge), 413)
    assert "not valid JSON" in _problem(_post(api, '{"name": "x",'), 400)["detail"]
    deep = '{"name": ' + "[" * 5000 + "]" * 5000 + "}"
    assert "nested" in _problem(_post(api, deep), 400)["detail"]
    nul = json.dumps({**BODY, "name": "a\u0000b"})
    assert "NUL" in _problem(_post(api, nul), 400)["detail"]
    _problem(_post(api, b"\xff\xfe{}"), 400)
    assert probe.runs == []


def test_refused_fields_are_listed_one_by_one(api):
    body = {
        "name": 12,
        "price": {"amount": 1.5, "currency": "EUR"},
        "due": "tomorrow",
        "lines": [{"quantity": 1}, {"quantity": "many"}],
        "colour": "red",
    }
    problem = _problem(_post(api, body), 422)
    pointers = {error["pointer"] for error in problem["errors"]}
    assert pointers == {"#/name", "#/price/amount", "#/due", "#/lines/1/quantity", "#/colour"}
    assert all(error["detail"] for error in problem["errors"])
    missing = _problem(_post(api, {}), 422)
    assert {e["pointer"] for e in missing["errors"]} == {"#/name", "#/price"}
    limit = _problem(api.get("/api/v1/servlets?limit=500", headers=api.token.headers), 422)
    assert limit["errors"] == [{"parameter": "limit", "detail": limit["errors"][0]["detail"]}]
    assert probe.runs == []


def test_a_token_without_the_scope_gets_403_and_no_data(api, tenant_a, unscoped):
    with unscoped():
        reader = factories.personal(tenant_a.people[Role.BUYER], ["read:orders"])
    api.token = reader
    problem = _problem(_post(api, BODY), 403)
    assert "write:orders" in problem["detail"]
    assert "insufficient_scope" in _post(api, BODY).headers["WWW-Authenticate"]
    assert probe.runs == []


def test_writes_are_audited_with_the_token_and_the_api_needs_no_csrf_token(
    app, api, tenant_a, unscoped
):
    app.config["WTF_CSRF_ENABLED"] = True
    made = _post(api, BODY)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.json["price"] == {"amount": 129900, "currency": "EUR"}
    assert made.json["at"].endswith("Z")
    with unscoped():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "probe.made")
        ).one()
        assert event.changes["api_token_id"] == api.token.id
        assert event.actor_id == tenant_a.people[Role.BUYER].user_id
        assert event.vendor_id == tenant_a.vendor_id


def test_a_repeated_idempotency_key_answers_as_the_first_time(api, unscoped):
    first = _post(api, BODY, key="order-42")
    again = _post(api, BODY, key="order-42")

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(probe.runs) == 1
    other_body = _problem(_post(api, {**BODY, "name": "Other"}, key="order-42"), 422)
    assert "another request" in other_body["detail"]
    assert _post(api, BODY, key="order-43").json["run"] == 2
    _problem(_post(api, BODY, key="x" * 300), 400)
    with unscoped():
        assert db.session.scalar(select(db.func.count(IdempotencyKey.id))) == 2


def test_a_refusal_is_remembered_for_its_key_but_a_server_error_frees_it(app, api):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production
    _problem(_post(api, {"name": 1}, key="bad"), 422)
    _problem(_post(api, {"name": 1}, key="bad"), 422)
    probe.pause_seconds = "not a number"  # the view fails with a TypeError: a 500
    try:
        _problem(_post(api, BODY, key="retry-me"), 500)
    finally:
        probe.pause_seconds = 0.0
    assert _post(api, BODY, key="retry-me").status_code == 201


def test_two_requests_with_one_key_at_once_run_once(app, api):
    probe.pause_seconds = 0.4
    answers: list = []

    def send() -> None:
        client = app.test_client()
        client.token = api.token
        answers.append(_post(client, BODY, key="same"))

    threads = [threading.Thread(target=send) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    finally:
        probe.pause_seconds = 0.0

    assert len(probe.runs) == 1
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses in ([201, 201], [201, 409]), statuses
    later = _post(api, BODY, key="same")
    assert later.status_code == 201
    assert later.json["run"] == 1


def test_etags_detect_stale_and_missing_preconditions(api):
    read = api.get("/api/v1/probe/note", headers=api.token.headers)
    etag = read.headers["ETag"]
    assert (
        api.get(
            "/api/v1/probe/note", headers={**api.token.headers, "If-None-Match": etag}
        ).status_code
        == 304
    )
    change = {"text": "second"}
    _problem(api.patch("/api/v1/probe/note", json=change, headers=api.token.headers), 428)
    stale = {**api.token.headers, "If-Match": '"0123"'}
    _problem(api.patch("/api/v1/probe/note", json=change, headers=stale), 412)
    fresh = {**api.token.headers, "If-Match": etag}
    changed = api.patch("/api/v1/probe/note", json=change, headers=fresh)
    assert changed.status_code == 200
    assert changed.json["text"] == "second"
    _problem(api.patch("/api/v1/probe/note", json={"text": "third"}, headers=fresh), 412)


@pytest.mark.parametrize("app_config", [{"API_RATE_LIMIT": "3 per minute"}])
def test_each_token_has_its_own_rate_limit_with_headers(api, tenant_a, unscoped):
    with unscoped():
        other = factories.personal(tenant_a.people[Role.CSM])
    seen = [api.get("/api/v1/me", headers=api.token.headers) for _ in range(3)]
    assert [a.headers["RateLimit-Remaining"] for a in seen] == ["2", "1", "0"]
    assert all(a.headers["RateLimit-Limit"] == "3" for a in seen)
    assert 0 < int(seen[0].headers["RateLimit-Reset"]) <= 60
    refused = api.get("/api/v1/me", headers=api.token.headers)
    _problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert api.get("/api/v1/me", headers=other.headers).status_code == 200
    assert "RateLimit-Limit" not in api.get("/api/v1/me").headers  # no token, not counted


def test_the_openapi_document_is_3_1_and_lists_the_endpoints(client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    assert document["openapi"] == "3.1.0"
    assert {"/api/v1/me", "/api/v1/servlets", "/api/v1/servlets/{servlet_id}"} <= set(
        document["paths"]
    )
    assert {"/api/v1/catalogs", "/api/v1/catalogs/{catalog_id}"} <= set(document["paths"])
    assert document["security"] == [{"bearerToken": []}]
    for reference in re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(document)):
        node = document
        for part in reference.split("/"):
            node = node[part]  # every reference resolves
    problem = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(problem) == ["application/problem+json"]
    servlet = document["components"]["schemas"]["Servlet"]
    assert servlet["properties"]["updated_at"]["format"] == "date-time"
    assert servlet["properties"]["retired_at"]["type"] == ["string", "null"]  # 3.1, not nullable


def test_the_reference_page_loads_from_this_site_with_no_inline_script(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert len(scripts) == 2
    assert all('src="/static/' in attributes and not body.strip() for attributes, body in scripts)
    assert "style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    assert "<style" not in html
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
    assert 'id="problem-validation"' in html
