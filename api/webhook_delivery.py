"""Delivering webhook messages: claimed once by the scheduler, signed per Standard Webhooks,
POSTed with a short timeout to an address checked again at every attempt, retried for a day,
and the endpoint disabled (its admins told) when it keeps failing.

Requests never send anything: they write ``WebhookMessage`` rows (``api.webhook_events``).
``deliver_webhooks`` claims due messages (``core.claims``), reads what it needs and ends its
transaction, POSTs them from a small thread pool (no database work in the threads), then
writes each outcome in a short transaction of its own. A message waits while an earlier
message about the same object to the same endpoint is undecided, so each receiver sees an
object's events in order.

Addresses (SSRF): an endpoint must be ``https`` (``http`` only with ``WEBHOOKS_ALLOW_HTTP``)
and every address its host resolves to must be public unless ``WEBHOOKS_ALLOW_PRIVATE``;
the connection goes to the address that was checked (so DNS cannot change between check and
connect), and redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import urllib3
from flask import current_app, url_for
from sqlalchemy.orm import aliased
from standardwebhooks import Webhook

from accounts.models import Membership, User
from api.webhook_models import (
    MAX_URL,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from core import audit, claims
from core.db import utcnow
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import Role
from core.scheduler import every

# After the first attempt fails, the next ones wait these delays (22 h 12 min in all); when
# the last attempt fails too, the message is given up.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)
ATTEMPTS = len(RETRY_DELAYS) + 1
assert ATTEMPTS <= claims.MAX_ATTEMPTS  # claims stops claiming after that
DISABLE_AFTER_FAILURES = 100
BATCH = 40
SENDERS = 8
SNIPPET_BYTES = 1000
USER_AGENT = "ServletDesk-Webhooks/1"

WEBHOOK_DISABLED = notification_kind(
    "webhook.disabled", "A webhook endpoint of ours was disabled after failing"
)


# --- addresses -----------------------------------------------------------------------------


class AddressRefused(ValueError):
    """An endpoint address that may not be called: the message says why, for the admin."""


@dataclass(frozen=True)
class Policy:
    allow_http: bool
    allow_private: bool
    timeout: float

    @classmethod
    def from_config(cls) -> Policy:
        config = current_app.config
        return cls(
            allow_http=bool(config.get("WEBHOOKS_ALLOW_HTTP", False)),
            allow_private=bool(config.get("WEBHOOKS_ALLOW_PRIVATE", False)),
            timeout=float(config.get("WEBHOOKS_TIMEOUT_SECONDS", 5)),
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP the connection goes to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def url_problem(url: str, policy: Policy) -> str | None:
    """What is wrong with ``url`` before any lookup, or ``None``."""
    if not url or len(url) > MAX_URL:
        return f"Enter an address of at most {MAX_URL:,} characters."
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "The address may not contain spaces or control characters."
    if not url.isascii():
        return "Write the address in ASCII: percent-encode the path, punycode the host."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "That is not a valid address."
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed:
        return "The address must start with https://."
    if not parts.hostname:
        return "The address needs a host name."
    if parts.username is not None or parts.password is not None:
        return "Put no user name or password in the address; verify our signature instead."
    if parts.fragment:
        return "The address may not have a #fragment."
    if port == 0:
        return "That is not a valid port."
    return None


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local, shared, reserved, unspecified and multicast addresses."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_multicast or not ip.is_global


def resolve(url: str, policy: Policy) -> Target:
    """Check ``url`` and look its host up; every address must be allowed. Raises
    ``AddressRefused``."""
    problem = url_problem(url, policy)
    if problem:
        raise AddressRefused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise AddressRefused(f"The host {host} could not be found.") from error
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    if not addresses:
        raise AddressRefused(f"The host {host} could not be found.")
    if not policy.allow_private and any(_refused(address) for address in addresses):
        raise AddressRefused(
            f"{host} points to a private or internal address; use a public address."
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, host, port, path, str(addresses[0]))


def check_url(url: str) -> str:
    """The address as it will be stored, or ``AddressRefused`` (registration time)."""
    url = (url or "").strip()
    resolve(url, Policy.from_config())
    return url


# --- one POST ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    snippet: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Delivery:
    """Everything one POST needs, read before the database transaction ends."""

    message_id: int
    url: str
    body: str
    headers: dict[str, str]


def body_of(message: WebhookMessage) -> str:
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secrets: list[str], msg_id: str, moment: datetime, body: str) -> dict[str, str]:
    """Standard Webhooks headers; several secrets (a rotation's grace) sign side by side."""
    signatures = " ".join(Webhook(secret).sign(msg_id, moment, body) for secret in secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signatures,
    }


def post(url: str, body: str, headers: dict[str, str], policy: Policy) -> Outcome:
    """POST ``body`` to ``url`` and say what happened; never raises, never follows a
    redirect, never waits much longer than ``policy.timeout`` per step. No database."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve(url, policy)
    except AddressRefused as error:
        return Outcome(None, took(), error=str(error))
    timeout = urllib3.Timeout(connect=policy.timeout, read=policy.timeout)
    options: dict[str, Any] = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **options)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers={**headers, "host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            snippet = response.read(SNIPPET_BYTES).decode("utf-8", "replace")
        except (urllib3.exceptions.HTTPError, OSError):
            snippet = ""
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError) as error:
        return Outcome(None, took(), error=_reason(error, policy))
    finally:
        pool.close()
    if 300 <= response.status < 400:
        where = response.headers.get("location", "")[:200]
        return Outcome(
            response.status, took(), snippet, f"Redirect refused (to {where or 'nowhere'})."
        )
    return Outcome(response.status, took(), snippet)


def _reason(error: Exception, policy: Policy) -> str:
    # urllib3's NewConnectionError is also a ConnectTimeoutError: ask for it first.
    if isinstance(error, urllib3.exceptions.NewConnectionError | ConnectionError):
        return "Could not connect."
    if isinstance(error, urllib3.exceptions.TimeoutError):
        return f"No answer within {policy.timeout:g} s."
    if isinstance(error, urllib3.exceptions.SSLError):
        return f"TLS failed: {error}"[:500]
    return f"{type(error).__name__}: {error}"[:500]


# --- the job -------------------------------------------------------------------------------


def _deliverable() -> tuple[sa.ColumnElement[bool], ...]:
    """Messages of enabled endpoints with no undecided earlier message about their object."""
    earlier = aliased(WebhookMessage)
    waiting = (
        sa.select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookMessage.endpoint_id,
            earlier.object_key == WebhookMessage.object_key,
            earlier.id < WebhookMessage.id,
            earlier.done_at.is_(None),
        )
        .exists()
    )
    enabled = sa.select(WebhookEndpoint.id).where(WebhookEndpoint.enabled.is_(True))
    return (WebhookMessage.endpoint_id.in_(enabled), ~waiting)


@every(5)
def deliver_webhooks(limit: int = BATCH) -> int:
    """Deliver due messages, each claimed once; returns how many attempts were made."""
    policy = Policy.from_config()
    _give_up_stalled()
    messages = claims.claim(WebhookMessage, *_deliverable(), limit=limit)
    if not messages:
        return 0
    endpoints = {
        endpoint.id: endpoint
        for endpoint in db.session.scalars(
            sa.select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({message.endpoint_id for message in messages})
            )
        )
    }
    now = utcnow()
    # A message whose endpoint was deleted meanwhile went with it (ON DELETE CASCADE).
    messages = [message for message in messages if message.endpoint_id in endpoints]
    deliveries = []
    for message in messages:
        endpoint = endpoints[message.endpoint_id]
        body = body_of(message)
        headers = signed_headers(endpoint.signing_secrets(now), message.msg_id, now, body)
        deliveries.append(Delivery(message.id, endpoint.url, body, headers))
    db.session.commit()  # no transaction stays open while receivers are called
    if not deliveries:
        return 0
    with ThreadPoolExecutor(max_workers=min(SENDERS, len(deliveries))) as senders:
        outcomes = list(senders.map(lambda d: post(d.url, d.body, d.headers, policy), deliveries))
    for message, delivery, outcome in zip(messages, deliveries, outcomes, strict=True):
        record(message, delivery, outcome)
        db.session.commit()
    return len(messages)


def record(message: WebhookMessage, delivery: Delivery, outcome: Outcome) -> None:
    """Log the attempt and settle the message and its endpoint's record (no commit)."""
    now = utcnow()
    if not _settle(message, outcome, now):
        return  # the lease passed to another claimer, whose outcome counts
    db.session.add(
        WebhookAttempt(
            vendor_id=message.vendor_id,
            message_id=message.id,
            endpoint_id=message.endpoint_id,
            attempted_at=now,
            request_headers={
                key: value for key, value in delivery.headers.items() if key != "user-agent"
            },
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            response_snippet=outcome.snippet,
            error=outcome.error[:500],
        )
    )
    endpoints = sa.update(WebhookEndpoint).where(WebhookEndpoint.id == message.endpoint_id)
    if outcome.succeeded:
        db.session.execute(
            endpoints.values(consecutive_failures=0, failing_since=None, last_success_at=now)
        )
        return
    db.session.execute(
        endpoints.values(
            consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
            failing_since=sa.func.coalesce(WebhookEndpoint.failing_since, now),
        )
    )
    given_up = message.attempts >= ATTEMPTS
    _disable_if_failing(message, given_up, now)


def _settle(message: WebhookMessage, outcome: Outcome, now: datetime) -> bool:
    error = outcome.error or f"Answered {outcome.status_code}."
    if outcome.succeeded:
        values: dict[str, Any] = {"status": MessageStatus.DELIVERED, "done_at": now}
        error = None
    elif message.attempts >= ATTEMPTS:
        values = {"status": MessageStatus.GIVEN_UP, "done_at": now}
    else:
        values = {"due_at": now + RETRY_DELAYS[message.attempts - 1]}
    result = db.session.execute(
        sa.update(WebhookMessage)
        .where(
            WebhookMessage.id == message.id,
            WebhookMessage.claim_token == message.claim_token,
        )
        .values(
            claim_token=None,
            claimed_until=None,
            last_error=error,
            last_status_code=outcome.status_code,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _disable_if_failing(message: WebhookMessage, given_up: bool, now: datetime) -> None:
    """Disable the endpoint after ``DISABLE_AFTER_FAILURES`` failures in a row, or when a
    message was given up (a day of retries) with no success since it was written. The
    conditional update disables once, so the admins are told once."""
    streak = WebhookEndpoint.consecutive_failures >= DISABLE_AFTER_FAILURES
    if given_up:
        silent = sa.or_(
            WebhookEndpoint.last_success_at.is_(None),
            WebhookEndpoint.last_success_at < message.created_at,
        )
        streak = sa.or_(streak, silent)
        reason = "A message could not be delivered for a day of retries."
    else:
        reason = f"{DISABLE_AFTER_FAILURES} deliveries in a row failed."
    disabled = db.session.execute(
        sa.update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == message.endpoint_id,
            WebhookEndpoint.enabled.is_(True),
            streak,
        )
        .values(enabled=False, disabled_at=now, disabled_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if disabled.rowcount == 1:
        endpoint = db.session.get(WebhookEndpoint, message.endpoint_id)
        db.session.refresh(endpoint)
        audit.record("webhook_endpoint.disabled", endpoint, changes={"reason": reason})
        tell_admins(endpoint, reason)


def tell_admins(endpoint: WebhookEndpoint, reason: str) -> int:
    """Tell every active admin of the endpoint's vendor, in the app and by email."""
    admins = db.session.scalars(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organization_id == endpoint.vendor_id,
            Membership.role == Role.ADMIN,
            Membership.active.is_(True),
            User.active.is_(True),
        )
        .order_by(User.id)
    ).all()
    subject = f"Webhook endpoint disabled: {endpoint.url[:120]}"
    body = (
        f"We stopped sending events to {endpoint.url}.\n{reason}\n\n"
        "Its undelivered messages wait. Fix the receiver, then enable the endpoint again on "
        "the webhooks page; messages given up can be replayed from its delivery log."
    )
    for admin in admins:
        notify(
            admin, subject, body, _link(endpoint), WEBHOOK_DISABLED, vendor_id=endpoint.vendor_id
        )
    return len(admins)


def _link(endpoint: WebhookEndpoint) -> str:
    try:
        return url_for("api.webhook_endpoint", webhook_endpoint_id=endpoint.id, _external=True)
    except RuntimeError:
        return ""


def _give_up_stalled() -> None:
    """A process that died during a message's last attempt leaves it claimed for good; once
    its lease has passed it is given up, so later messages of its object are not held."""
    now = utcnow()
    db.session.execute(
        sa.update(WebhookMessage)
        .where(
            WebhookMessage.done_at.is_(None),
            WebhookMessage.attempts >= ATTEMPTS,
            sa.or_(WebhookMessage.claimed_until.is_(None), WebhookMessage.claimed_until < now),
        )
        .values(
            status=MessageStatus.GIVEN_UP,
            done_at=now,
            claim_token=None,
            claimed_until=None,
            last_error="Given up: its last attempt never finished.",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
