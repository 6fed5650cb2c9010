"""Signed, expiring, single-use links for password reset and invitations.

A token carries the user's security stamp; setting a password rotates the stamp, so a token
works once and every older token dies with it. No token table is needed.
"""

from __future__ import annotations

from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from accounts.models import User
from core.extensions import db


class Purpose(StrEnum):
    RESET = "password-reset"
    INVITE = "invitation"


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose.value)


def make_token(user: User, purpose: Purpose) -> str:
    return _serializer(purpose).dumps({"u": user.id, "s": user.security_stamp})


def user_for_token(token: str, purpose: Purpose) -> User | None:
    """The user a valid, unexpired, unused token belongs to; ``None`` for anything else."""
    max_age = current_app.config["TOKEN_MAX_AGE_HOURS"] * 3600
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    user = db.session.get(User, payload.get("u")) if isinstance(payload.get("u"), int) else None
    if user is None or not user.active or user.security_stamp != payload.get("s"):
        return None
    return user
