"""How failed sign-ins are limited, so that guessing is slow and nobody locks others out.

Only refused attempts count; a successful sign-in never does. Three limits apply to a browser
the account has not signed in from before:

- per address and account (``SIGN_IN_RATE_LIMIT``, 5 a minute): the tight one. It stops
  guessing one person's password from one place and touches nobody else: other people behind
  the same address (an office, a mobile carrier) still sign in.
- per account, from every address (``ACCOUNT_LIMIT``): a slow attack on one person spread
  over many addresses.
- per address, over every account (``ADDRESS_LIMIT``): one address trying a few passwords on
  many accounts (password spraying). Loose, because many people may share an address.

The last two could let an attacker lock an account's owner (or a whole office) out. So a
successful sign-in leaves a signed "known browser" cookie naming the account (by a keyed hash,
sent to /sign-in only). In a known browser those two limits do not apply, and the tight one
counts per browser instead of per address: an attack on an account or from an address only
ever delays people on browsers they have not signed in with before (OWASP's "device cookies").

Accounts are named in the limiter's store by a keyed hash of the normalised email, so the
store holds no addresses, and unknown emails are limited exactly like known ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request, url_for
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from core.extensions import limiter

ACCOUNT_LIMIT = "20 per hour"
ADDRESS_LIMIT = "100 per hour"

COOKIE = "known_browser"
COOKIE_MAX_AGE = 180 * 24 * 3600
MAX_ACCOUNTS_PER_BROWSER = 10


@dataclass(frozen=True)
class KnownBrowser:
    id: str
    accounts: tuple[str, ...]  # account keys, newest first


def account_key(email: str) -> str:
    """The account an attempt is about: a keyed hash of the normalised email ('' for none)."""
    email = email.strip().lower()[:254]
    if not email:
        return ""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, email.encode(), hashlib.sha256).hexdigest()[:32]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-browser")


def known_browser() -> KnownBrowser | None:
    """The browser's signed cookie, if it has a valid one (read once per request)."""
    if "known_browser" not in g:
        g.known_browser = _read_cookie(request.cookies.get(COOKIE, ""))
    return g.known_browser


def _read_cookie(value: str) -> KnownBrowser | None:
    if not value or len(value) > 2048:
        return None
    try:
        payload = _serializer().loads(value, max_age=COOKIE_MAX_AGE)
        return KnownBrowser(str(payload["b"]), tuple(str(a) for a in payload["a"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def _attempted_account() -> str:
    if "attempted_account" not in g:
        g.attempted_account = account_key(request.form.get("email", ""))
    return g.attempted_account


def _known_here() -> bool:
    """The attempted account has signed in from this browser before."""
    browser = known_browser()
    return browser is not None and _attempted_account() in browser.accounts


def _per_place_and_account() -> str:
    account = _attempted_account()
    if not account:
        return ""  # no account named: only the per-address limit applies
    browser = known_browser()
    if browser is not None and account in browser.accounts:
        return f"browser:{browser.id}:{account}"
    return f"address:{get_remote_address()}:{account}"


def _per_account() -> str:
    account = _attempted_account()
    return f"account:{account}" if account else ""


def _per_address() -> str:
    return f"address:{get_remote_address()}"


def _failed(response: Response) -> bool:
    """A refused sign-in answers with the form again (or 429); a success redirects."""
    return response.status_code != 302


def _tight_limit() -> str:
    return current_app.config["SIGN_IN_RATE_LIMIT"]


F = TypeVar("F", bound=Callable[..., Any])


def limited(view: F) -> F:
    """Apply the three limits above to a sign-in view (POST only)."""
    for limit, key_func, exempt_when in (
        (_tight_limit, _per_place_and_account, None),
        (ACCOUNT_LIMIT, _per_account, _known_here),
        (ADDRESS_LIMIT, _per_address, _known_here),
    ):
        view = limiter.limit(
            limit,
            key_func=key_func,
            exempt_when=exempt_when,
            methods=["POST"],
            deduct_when=_failed,
        )(view)
    return view


def remember_browser(response: Response, email: str) -> None:
    """After a successful sign-in: this browser is now known for this account."""
    browser = known_browser() or KnownBrowser(secrets.token_urlsafe(16), ())
    account = account_key(email)
    accounts = (account, *(a for a in browser.accounts if a != account))
    value = _serializer().dumps({"b": browser.id, "a": accounts[:MAX_ACCOUNTS_PER_BROWSER]})
    response.set_cookie(
        COOKIE,
        value,
        max_age=COOKIE_MAX_AGE,
        path=url_for("accounts.sign_in"),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
