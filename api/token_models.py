"""API tokens: personal ones that act as the member who made them, and service ones a vendor
admin makes for a system, acting with a role the admin chose.

Only the SHA-256 of a token is stored; its first characters (``prefix``) are kept so a person
can tell tokens apart. A token is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import Membership
from core.db import IdMixin, LabelledEnum, TenantMixin, TimestampMixin, enum_column, relationship
from core.extensions import db
from core.permissions import VENDOR_ROLES, Actor, Role

TOKEN_PREFIX = "sd_live_"  # noqa: S105 (the visible start of every token, not a secret)
SECRET_BYTES = 32  # 43 characters of URL-safe base64
VISIBLE_CHARACTERS = len(TOKEN_PREFIX) + 4  # "sd_live_AbC1": enough to tell tokens apart

# The areas a scope names; ``read:<area>`` lets a token read it, ``write:<area>`` also change it.
SCOPE_AREAS = ("catalog", "orders", "delivery", "billing", "success", "webhooks")
SCOPES = tuple(f"{access}:{area}" for area in SCOPE_AREAS for access in ("read", "write"))
# The roles a vendor admin may give a service token.
SERVICE_ROLES = VENDOR_ROLES


class TokenKind(LabelledEnum):
    PERSONAL = "personal"
    SERVICE = "service"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def grants(scopes: frozenset[str] | list[str], needed: str) -> bool:
    """Whether ``scopes`` allow ``needed``: a write scope includes reading the same area."""
    access, _, area = needed.partition(":")
    return needed in scopes or (access == "read" and f"write:{area}" in scopes)


class ApiToken(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A bearer token of the REST API.

    ``membership`` is who made it. A personal token acts as that membership (with its role as
    it is at each request); a service token acts with the maker's vendor and ``role`` (a vendor
    role), and keeps working when its maker leaves: it is the vendor's, any admin revokes it.
    """

    __tablename__ = "api_token"

    kind: Mapped[TokenKind] = mapped_column(enum_column(TokenKind, 16))
    name: Mapped[str] = mapped_column(sa.String(80))
    membership_id: Mapped[int] = mapped_column(sa.ForeignKey("membership.id"), index=True)
    role: Mapped[Role | None] = mapped_column(enum_column(Role))  # service tokens only
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    membership: Mapped[Membership] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    @classmethod
    def reach(cls, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
        """A member sees the tokens they made; a vendor admin also the vendor's service tokens."""
        if actor is None:
            return stmt.where(sa.false())
        own = cls.membership_id == actor.id
        if actor.role == Role.ADMIN:
            return stmt.where(sa.or_(own, cls.kind == TokenKind.SERVICE))
        return stmt.where(own)
