"""Making and revoking API tokens: checked, audited (never with the secret) and committed.

Any signed-in member makes personal tokens; a vendor admin also makes service tokens, which
act with a vendor role the admin picks. Scopes name areas (``read:orders``,
``write:catalog``...) and only narrow what the role already allows: a token never does more
than its member could in the web app. Every token expires, within ``MAX_LIFETIME``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from api.token_models import (
    SCOPES,
    SERVICE_ROLES,
    VISIBLE_CHARACTERS,
    ApiToken,
    TokenKind,
    hash_token,
    new_token,
)
from core import audit
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.permissions import Actor, Role, require

MAX_LIFETIME = timedelta(days=365)
LIFETIMES_DAYS = (7, 30, 90, 180, 365)
MAX_LIVE_TOKENS = 20  # per member (personal) and per vendor (service)
MAX_NAME = 80


@dataclass(frozen=True)
class TokenRequest:
    name: str
    scopes: Collection[str]
    lifetime: timedelta
    role: Role | None = None  # a service token's role


@dataclass(frozen=True)
class MadeToken:
    """The stored token and its secret, which exists only here: show it once."""

    token: ApiToken
    secret: str


def make_personal_token(actor: Actor, wanted: TokenRequest) -> MadeToken:
    require(actor)
    _check(wanted)
    live = _live_tokens().where(
        ApiToken.membership_id == actor.id, ApiToken.kind == TokenKind.PERSONAL
    )
    if db.session.scalar(live) >= MAX_LIVE_TOKENS:
        raise ServiceError(f"You have {MAX_LIVE_TOKENS} live tokens; revoke one first.")
    return _make(actor, TokenKind.PERSONAL, wanted, role=None)


def make_service_token(actor: Actor, wanted: TokenRequest) -> MadeToken:
    require(actor, Role.ADMIN)
    _check(wanted)
    if wanted.role not in SERVICE_ROLES:
        raise ServiceError("Choose the role the service acts with.")
    live = _live_tokens().where(
        ApiToken.vendor_id == actor.vendor_id, ApiToken.kind == TokenKind.SERVICE
    )
    if db.session.scalar(live) >= MAX_LIVE_TOKENS:
        raise ServiceError(f"The vendor has {MAX_LIVE_TOKENS} live service tokens; revoke one.")
    return _make(actor, TokenKind.SERVICE, wanted, role=wanted.role)


def revoke(actor: Actor, token: ApiToken) -> None:
    """Stop ``token`` at once (the caller loaded it within reach: its maker, or an admin for
    a service token). Revoking twice changes nothing."""
    require(actor)
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    token.revoked_by_id = actor.user_id
    audit.record("api_token.revoked", token, changes={"name": token.name, "kind": token.kind})
    db.session.commit()


def _check(wanted: TokenRequest) -> None:
    if not wanted.name.strip() or len(wanted.name) > MAX_NAME:
        raise ServiceError(f"Name the token in 1 to {MAX_NAME} characters.")
    unknown = set(wanted.scopes) - set(SCOPES)
    if unknown or not wanted.scopes:
        raise ServiceError("Choose at least one of the listed scopes.")
    if not timedelta(days=1) <= wanted.lifetime <= MAX_LIFETIME:
        raise ServiceError("A token expires within a day to a year.")


def _live_tokens() -> sa.Select[tuple[int]]:
    return sa.select(sa.func.count(ApiToken.id)).where(
        ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow()
    )


def _make(actor: Actor, kind: TokenKind, wanted: TokenRequest, role: Role | None) -> MadeToken:
    secret = new_token()
    token = ApiToken(
        vendor_id=actor.vendor_id,
        kind=kind,
        name=wanted.name.strip(),
        membership_id=actor.id,
        role=role,
        scopes=sorted(set(wanted.scopes)),
        prefix=secret[:VISIBLE_CHARACTERS],
        secret_hash=hash_token(secret),
        expires_at=utcnow() + wanted.lifetime,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token.created",
        token,
        changes={
            "name": token.name,
            "kind": kind.value,
            "role": role.value if role else None,
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    db.session.commit()
    return MadeToken(token, secret)
