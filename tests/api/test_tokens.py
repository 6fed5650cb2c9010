"""API tokens: made on their page and shown once, stored hashed, acting as their member (or,
for a service token, as the vendor with a chosen role), expiring, revoked, their last use
recorded; and every way a request can lack a usable token answers 401 with a problem."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from accounts.models import Membership
from api import tokens
from api.token_models import ApiToken
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.permissions import Role
from tests.api import factories
from tests.conftest import sign_in

SECRET = re.compile(r"sd_live_[A-Za-z0-9_-]{43}")


def _token_row(token_id: int) -> ApiToken:
    return db.session.get(ApiToken, token_id)


def test_a_member_makes_a_token_that_is_shown_once_and_stored_as_its_hash(
    client, tenant_a, unscoped
):
    buyer = tenant_a.people[Role.BUYER]
    sign_in(client, buyer)
    assert client.get("/settings/api-tokens/new").status_code == 200

    made = client.post(
        "/settings/api-tokens/new",
        data={
            "name": "ERP sync",
            "scopes": ["read:catalog", "write:orders"],
            "expires_in_days": 30,
        },
    )

    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(made.get_data(as_text=True)).group(0)
    with unscoped():
        row = db.session.scalars(select(ApiToken)).one()
        assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert row.prefix == secret[:12]
        assert secret not in str([getattr(row, c.key) for c in ApiToken.__table__.c])
        assert row.scopes == ["read:catalog", "write:orders"]
        assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
        created = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "api_token.created")
        ).one()
        assert secret not in str(created.changes)
    listing = client.get("/settings/api-tokens").get_data(as_text=True)
    assert row.prefix in listing
    assert "ERP sync" in listing
    assert secret not in listing

    me = client.get("/api/v1/me", headers=factories.bearer(secret))
    assert me.status_code == 200
    assert me.json["acting_as"]["membership_id"] == buyer.membership_id
    assert me.json["acting_as"]["role"] == "buyer"
    assert me.json["acting_as"]["organization"]["id"] == tenant_a.customer_id
    assert me.json["token"]["scopes"] == ["read:catalog", "write:orders"]
    assert me.json["token"]["expires_at"].endswith("Z")


def test_the_form_refuses_no_scope_an_unknown_scope_and_a_lifetime_over_a_year(
    client, tenant_a, unscoped
):
    sign_in(client, tenant_a.people[Role.CSM])
    for data in (
        {"name": "x", "expires_in_days": 30},
        {"name": "x", "scopes": ["admin:everything"], "expires_in_days": 30},
        {"name": "x", "scopes": ["read:catalog"], "expires_in_days": 400},
        {"name": "", "scopes": ["read:catalog"], "expires_in_days": 30},
    ):
        page = client.post("/settings/api-tokens/new", data=data)
        assert page.status_code == 200
        assert not SECRET.search(page.get_data(as_text=True))
    with unscoped():
        assert db.session.scalars(select(ApiToken)).all() == []
        wanted = tokens.TokenRequest("x", ["read:catalog"], timedelta(days=366))
        with pytest.raises(ServiceError):
            tokens.make_personal_token(factories.actor_of(tenant_a.people[Role.CSM]), wanted)


def _refused(client, headers: dict[str, str]) -> dict:
    answer = client.get("/api/v1/servlets", headers=headers)
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "data" not in answer.json
    assert answer.json["status"] == 401
    return answer.json


def test_missing_malformed_unknown_expired_and_revoked_tokens_get_401_and_no_data(
    client, tenant_a, unscoped
):
    with unscoped():
        expired = factories.personal(tenant_a.people[Role.ADMIN])
        revoked = factories.personal(tenant_a.people[Role.ADMIN])
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == expired.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        tokens.revoke(factories.actor_of(tenant_a.people[Role.ADMIN]), _token_row(revoked.id))
        db.session.commit()

    assert "Bearer" in _refused(client, {})["detail"]
    assert "not Bearer" in _refused(client, {"Authorization": "Basic YWRtaW46YWRtaW4="})["detail"]
    assert "not Bearer" in _refused(client, {"Authorization": "Bearer " + "x" * 500})["detail"]
    unknown = "sd_live_" + "A" * 43
    assert "not known" in _refused(client, factories.bearer(unknown))["detail"]
    assert "expired" in _refused(client, expired.headers)["detail"]
    assert "revoked" in _refused(client, revoked.headers)["detail"]


def test_a_signed_in_browser_without_a_token_is_401_and_gets_no_cookie(client, tenant_a):
    sign_in(client, tenant_a.people[Role.ADMIN])
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert "Set-Cookie" not in answer.headers
    assert client.get("/settings/api-tokens").status_code == 200  # the session still works


def test_a_token_stops_when_its_member_loses_access(client, tenant_a, unscoped):
    viewer = tenant_a.people[Role.VIEWER]
    with unscoped():
        made = factories.personal(viewer)
    assert client.get("/api/v1/me", headers=made.headers).status_code == 200
    with unscoped():
        db.session.get(Membership, viewer.membership_id).active = False
        db.session.commit()
    assert "no longer has access" in _refused(client, made.headers)["detail"]


def test_revoking_on_the_page_asks_first_then_stops_the_token_and_is_audited(
    client, tenant_a, unscoped
):
    partner = tenant_a.people[Role.PARTNER_MANAGER]
    with unscoped():
        made = factories.personal(partner)
    sign_in(client, partner)
    confirm = client.get(f"/settings/api-tokens/{made.id}/revoke")
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=made.headers).status_code == 200

    assert client.post(f"/settings/api-tokens/{made.id}/revoke").status_code == 302

    _refused(client, made.headers)
    with unscoped():
        assert _token_row(made.id).revoked_by_id == partner.user_id
        revoked = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "api_token.revoked")
        ).one()
        assert (revoked.object_id, revoked.actor_id) == (made.id, partner.user_id)


def test_nobody_else_sees_or_revokes_a_personal_token(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        made = factories.personal(tenant_a.people[Role.CSM])
    for person in (
        tenant_a.people[Role.ADMIN],  # an admin does not manage people's personal tokens
        tenant_a.people[Role.FINANCE],
        tenant_b.people[Role.CSM],
    ):
        sign_in(client, person)
        assert client.get(f"/settings/api-tokens/{made.id}/revoke").status_code == 404
        assert client.post(f"/settings/api-tokens/{made.id}/revoke").status_code == 404
        assert "Test script" not in client.get("/settings/api-tokens").get_data(as_text=True)
    assert client.get("/api/v1/me", headers=made.headers).status_code == 200


def test_admins_make_service_tokens_that_act_for_the_vendor_with_the_chosen_role(
    client, tenant_a, unscoped
):
    admin = tenant_a.people[Role.ADMIN]
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.get("/settings/api-tokens/new-service").status_code == 403
    sign_in(client, admin)
    made = client.post(
        "/settings/api-tokens/new-service",
        data={
            "name": "Warehouse",
            "role": "finance",
            "scopes": ["read:billing"],
            "expires_in_days": 365,
        },
    )
    secret = SECRET.search(made.get_data(as_text=True)).group(0)

    me = client.get("/api/v1/me", headers=factories.bearer(secret)).json
    assert me["token"]["kind"] == "service"
    assert me["acting_as"]["role"] == "finance"
    assert me["acting_as"]["vendor"]["id"] == tenant_a.vendor_id
    assert me["acting_as"]["user_id"] == admin.user_id  # kept for the audit trail

    # Another admin of the vendor sees and may revoke it; a CSM sees nothing of it.
    with unscoped():
        token_id = db.session.scalar(select(ApiToken.id))
        other_admin = factories.person_like(tenant_a, Role.ADMIN)
    sign_in(client, other_admin)
    assert "Warehouse" in client.get("/settings/api-tokens").get_data(as_text=True)
    assert client.post(f"/settings/api-tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/me", headers=factories.bearer(secret)).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(client, tenant_a, unscoped, count_queries):
    with unscoped():
        made = factories.personal(tenant_a.people[Role.BUYER])
        assert _token_row(made.id).last_used_at is None

    client.get("/api/v1/me", headers=made.headers)
    with unscoped():
        first = _token_row(made.id).last_used_at
    assert first is not None
    with count_queries() as statements:
        client.get("/api/v1/me", headers=made.headers)
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    with unscoped():
        assert _token_row(made.id).last_used_at == first
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == made.id)
            .values(last_used_at=first - timedelta(minutes=2))
        )
        db.session.commit()

    client.get("/api/v1/me", headers=made.headers)
    with unscoped():
        assert _token_row(made.id).last_used_at > first
