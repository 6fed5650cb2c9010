"""Who an API request acts as: the bearer token's membership becomes ``current_actor()``.

Under ``/api/v1`` no session is opened (``api.rest``), so Flask-Login asks the request loader
below, which reads ``Authorization: Bearer sd_live_...`` with one Core statement (the token, its
membership, user, organisation and vendor) and returns a ``TokenUser``. From there the request
is a signed-in one like any other: ``accounts.session`` sets the tenant scope from the
membership, and every policy, ``reach`` and ``get_or_404`` applies unchanged.

A personal token acts as its maker's membership with the role that membership has now; a
service token acts with its maker's user and vendor and the role chosen for it. Either
stops at once when revoked or expired, a personal one also when its membership, user or
organisation is deactivated, a service one when its vendor is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import event

from accounts.identity import MembershipSnapshot, OrganizationSnapshot
from accounts.models import Membership, Organization, User
from api.problems import Problem, is_api_request
from api.token_models import TOKEN_PREFIX, ApiToken, TokenKind, grants, hash_token
from core.audit import AuditEvent
from core.db import utcnow, writes
from core.extensions import db, login_manager
from core.permissions import Role
from core.tenancy import all_tenants

# ``last_used_at`` is written at most this often per token, not on every request.
LAST_USE_PRECISION = timedelta(minutes=1)
_BEARER = re.compile(rf"Bearer ({re.escape(TOKEN_PREFIX)}[A-Za-z0-9_-]{{43}})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the token itself allows, beside whom it acts as."""

    id: int
    kind: TokenKind
    name: str
    prefix: str
    scopes: frozenset[str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenUser:
    """``current_user`` of an API request (the parts of ``SignedInUser`` the app reads)."""

    id: int
    email: str
    name: str
    membership: MembershipSnapshot
    token: TokenGrant
    session_id: None = None  # no server-side session: nothing to end

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def get_id(self) -> None:
        return None


_token, _membership, _user = ApiToken.__table__, Membership.__table__, User.__table__
_organization = Organization.__table__.alias("organization")
_vendor = Organization.__table__.alias("vendor")
_ORGANIZATION_COLUMNS = ("id", "name", "kind", "active", "currency", "catalog_revision")

_TOKEN = (
    sa.select(
        _token.c.id,
        _token.c.kind,
        _token.c.name,
        _token.c.prefix,
        _token.c.scopes,
        _token.c.role.label("token_role"),
        _token.c.expires_at,
        _token.c.revoked_at,
        _token.c.last_used_at,
        _user.c.id.label("user_id"),
        _user.c.email,
        _user.c.name.label("user_name"),
        _user.c.active.label("user_active"),
        _membership.c.id.label("membership_id"),
        _membership.c.organization_id,
        _membership.c.vendor_id,
        _membership.c.role,
        _membership.c.active.label("membership_active"),
        *(_organization.c[c].label(f"org_{c}") for c in _ORGANIZATION_COLUMNS),
        *(_vendor.c[c].label(f"vendor_org_{c}") for c in _ORGANIZATION_COLUMNS),
    )
    .select_from(
        _token.join(_membership, _membership.c.id == _token.c.membership_id)
        .join(_user, _user.c.id == _membership.c.user_id)
        .join(_organization, _organization.c.id == _membership.c.organization_id)
        .join(_vendor, _vendor.c.id == _membership.c.vendor_id)
    )
    .where(_token.c.secret_hash == sa.bindparam("secret_hash"))
)


def bearer_token() -> str | None:
    """The token of the ``Authorization`` header, or ``None`` (the reason kept for the 401)."""
    header = request.headers.get("Authorization", "")
    if not header:
        g.api_auth_failure = "Send an API token as Authorization: Bearer sd_live_..."
        return None
    found = _BEARER.fullmatch(header.strip()) if len(header) < 200 else None
    if found is None:
        g.api_auth_failure = "The Authorization header is not Bearer and an sd_live_ token."
        return None
    return found.group(1)


@login_manager.request_loader
def load_token_user(_request: Any) -> TokenUser | None:
    """Flask-Login's loader for requests without a session: API requests only."""
    if not is_api_request():
        return None
    token = bearer_token()
    if token is None:
        return None
    with all_tenants():
        row = db.session.execute(_TOKEN, {"secret_hash": hash_token(token)}).first()
    now = utcnow()
    refusal = _refusal(row, now)
    if refusal is not None:
        g.api_auth_failure = refusal
        return None
    _record_use(row.id, row.last_used_at, now)
    g.api_token_id = row.id
    return _token_user(row)


def _refusal(row: Any, now: datetime) -> str | None:
    if row is None:
        return "This token is not known."
    if row.revoked_at is not None:
        return "This token was revoked."
    if row.expires_at <= now:
        return "This token has expired."
    if not row.vendor_org_active:
        return "This token's vendor is no longer active."
    if row.kind == TokenKind.PERSONAL and not (
        row.user_active and row.membership_active and row.org_active
    ):
        return "The member this token acts as no longer has access."
    return None


def _record_use(token_id: int, last_used_at: datetime | None, now: datetime) -> None:
    """At most one write per token and ``LAST_USE_PRECISION``: the conditional update lets
    one of several concurrent requests through. Its own short transaction, which (even in a
    GET) takes SQLite's write lock when it begins (``core.db.writes``)."""
    if last_used_at is not None and last_used_at > now - LAST_USE_PRECISION:
        return
    db.session.commit()  # ends the read transaction, so the write begins anew
    with writes(), all_tenants():
        db.session.execute(
            sa.update(_token)
            .where(
                _token.c.id == token_id,
                sa.or_(
                    _token.c.last_used_at.is_(None),
                    _token.c.last_used_at <= now - LAST_USE_PRECISION,
                ),
            )
            .values(last_used_at=now)
        )
        db.session.commit()


def _token_user(row: Any) -> TokenUser:
    values = row._mapping
    organization = OrganizationSnapshot(*(values[f"org_{c}"] for c in _ORGANIZATION_COLUMNS))
    vendor = OrganizationSnapshot(*(values[f"vendor_org_{c}"] for c in _ORGANIZATION_COLUMNS))
    membership = MembershipSnapshot(
        id=row.membership_id,
        user_id=row.user_id,
        organization_id=row.organization_id,
        vendor_id=row.vendor_id,
        role=row.role,
        active=True,
        organization=organization,
        vendor=vendor,
    )
    grant = TokenGrant(
        id=row.id,
        kind=TokenKind(row.kind),
        name=row.name,
        prefix=row.prefix,
        scopes=frozenset(row.scopes or ()),
        expires_at=row.expires_at,
    )
    if grant.kind == TokenKind.SERVICE:
        # The vendor acts, with the chosen role; the maker's user and address stay for the
        # audit trail (whose events also name the token).
        membership = replace(membership, role=Role(row.token_role))
        return TokenUser(row.user_id, row.email, row.name, membership, grant)
    return TokenUser(row.user_id, row.email, row.user_name, membership, grant)


def current_token() -> TokenGrant | None:
    user = current_user._get_current_object() if has_request_context() else None
    return user.token if isinstance(user, TokenUser) else None


# --- scopes ----------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def needs_scope(scope: str) -> Callable[[F], F]:
    """Put below ``@blp.route``: this view needs ``scope`` instead of its blueprint's."""

    def decorator(view: F) -> F:
        view.api_scope = scope  # type: ignore[attr-defined]
        return view

    return decorator


def required_scope() -> str | None:
    """The scope this request needs: the view's own, else ``read:``/``write:`` of its
    blueprint's area by method; ``None`` when any valid token will do."""
    view = current_app.view_functions.get(request.endpoint or "")
    own = getattr(view, "api_scope", None)
    if own is not None:
        return own
    area = getattr(current_app.blueprints.get(request.blueprint or ""), "area", None)
    if area is None:
        return None
    access = "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"
    return f"{access}:{area}"


def authorize() -> None:
    """Before every API view: a valid token (401) holding the scope the view needs (403)."""
    token = current_token()
    if token is None:
        detail = g.get("api_auth_failure", "Send an API token as Authorization: Bearer ...")
        raise Problem(
            401,
            "unauthorized",
            detail,
            headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
        )
    needed = required_scope()
    if needed is not None and not grants(token.scopes, needed):
        raise Problem(
            403,
            "insufficient-scope",
            f"This token lacks the scope {needed}. Make a token with it on API tokens.",
            headers={
                "WWW-Authenticate": f'Bearer realm="api", error="insufficient_scope", '
                f'scope="{needed}"'
            },
        )


# --- audit -----------------------------------------------------------------------------------


@event.listens_for(AuditEvent, "before_insert")
def _name_the_token(mapper: Any, connection: Any, audit_event: AuditEvent) -> None:
    """Every audit event written while serving an API request names the token that made it."""
    if not has_request_context():
        return
    token_id = g.get("api_token_id")
    if token_id is not None:
        audit_event.changes = {**(audit_event.changes or {}), "api_token_id": token_id}
