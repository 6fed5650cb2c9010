"""A local fake of the few Stripe endpoints the app uses, served over HTTP on loopback.

The real ``stripe`` library talks to it (``STRIPE_API_BASE``), so tests exercise the library's
own request encoding, headers and error handling, and never reach the network. Like Stripe,
it replays the first answer to a repeated idempotency key. Tests drive what happens on
Stripe's side (``pay``, ``expire``, ...) and sign events with the library's own scheme
(``stripe.WebhookSignature``), then post them to ``/webhooks/stripe``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

from core import stripe_gateway

WEBHOOK_SECRET = "whsec_test_servlet_desk"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    params: dict[str, Any]


class StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.code = status, kind, message, code


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0][c]=v`` form fields (Stripe's encoding) as nested dicts."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


class FakeStripe:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.down = False
        self._replies: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = {}
        self._serial = count(1)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # Polled often, so that stopping it (after every test) does not wait half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # --- life -------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def app_config(self) -> dict[str, str]:
        return {
            "STRIPE_SECRET_KEY": "sk_test_servlet_desk",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": self.url,
        }

    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._serial):06d}"

    # --- what happens on Stripe's side, driven by tests ----------------------------------

    def pay(self, session_id: str, *, delayed: bool = False) -> str:
        """The customer pays the session (``delayed``: a debit still processing); returns
        the charge id."""
        with self._lock:
            session = self.sessions[session_id]
            intent_id, charge_id = self._id("pi"), self._id("ch")
            self.intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "currency": session["currency"],
                "status": "processing" if delayed else "succeeded",
                "latest_charge": charge_id,
                "metadata": session["metadata"],
            }
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": session["amount_total"],
                "amount_refunded": 0,
                "refunded": False,
                "currency": session["currency"],
                "payment_intent": intent_id,
                "status": "pending" if delayed else "succeeded",
            }
            session.update(
                status="complete",
                payment_status="unpaid" if delayed else "paid",
                payment_intent=intent_id,
            )
            return charge_id

    def settle(self, session_id: str, *, succeeded: bool = True) -> None:
        """A delayed payment clears (or fails)."""
        with self._lock:
            session = self.sessions[session_id]
            intent = self.intents[session["payment_intent"]]
            intent["status"] = "succeeded" if succeeded else "requires_payment_method"
            self.charges[intent["latest_charge"]]["status"] = "succeeded" if succeeded else "failed"
            if succeeded:
                session["payment_status"] = "paid"

    def expire(self, session_id: str) -> None:
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] == "open":
                session["status"] = "expired"

    def charge_of(self, session_id: str) -> str:
        return self.intents[self.sessions[session_id]["payment_intent"]]["latest_charge"]

    def add_session(self, metadata: dict[str, str], amount: int, currency: str = "usd") -> str:
        """A session the app did not open (another account's, or forged metadata)."""
        with self._lock:
            session_id = self._id("cs")
            self.sessions[session_id] = self._session(session_id, metadata, amount, currency, {})
            return session_id

    def refund_in_dashboard(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        with self._lock:
            return self._refund(self.charges[charge_id], amount)

    # --- webhooks ----------------------------------------------------------------------

    def event(
        self,
        event_type: str,
        object_id: str,
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        secret: str = WEBHOOK_SECRET,
    ) -> tuple[bytes, dict[str, str]]:
        """A signed event about the object as it is now: (body, headers)."""
        with self._lock:
            obj = self._object(object_id)
            body = json.dumps(
                {
                    "id": event_id or self._id("evt"),
                    "object": "event",
                    "api_version": stripe.api_version,
                    "created": int(time.time()),
                    "livemode": False,
                    "type": event_type,
                    "data": {"object": obj},
                }
            )
        return body.encode(), {"Stripe-Signature": sign(body, secret, timestamp)}

    def _object(self, object_id: str) -> dict[str, Any]:
        for store in (self.sessions, self.charges, self.intents, self.refunds):
            if object_id in store:
                return json.loads(json.dumps(store[object_id]))
        return {"id": object_id, "object": "unknown"}

    # --- the API ------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        params: dict[str, Any],
        headers: dict[str, str],
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(Recorded(method, path, headers, {**query, **params}))
            if self.down:
                return 500, _error("api_error", "The fake is down.")
            key = headers.get("idempotency-key")
            if method == "POST" and key in self._replies:
                first_params, status, body = self._replies[key]
                if first_params != params:
                    return 400, _error(
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters.",
                    )
                return status, body
            try:
                status, body = 200, self._route(method, path, query, params)
            except StripeError as error:
                status, body = error.status, _error(error.kind, error.message, error.code)
            if method == "POST" and key:
                self._replies[key] = (params, status, body)
            return status, body

    def _route(
        self, method: str, path: str, query: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        match method, parts:
            case "POST", ["v1", "checkout", "sessions"]:
                return self._create_session(params)
            case "GET", ["v1", "checkout", "sessions"]:
                found = [
                    s
                    for s in self.sessions.values()
                    if s.get("payment_intent") == query.get("payment_intent")
                ]
                return {
                    "object": "list",
                    "data": found,
                    "has_more": False,
                    "url": "/v1/checkout/sessions",
                }
            case "GET", ["v1", "checkout", "sessions", session_id]:
                return self._find(self.sessions, session_id)
            case "POST", ["v1", "checkout", "sessions", session_id, "expire"]:
                session = self._find(self.sessions, session_id)
                if session["status"] != "open":
                    raise StripeError(
                        400,
                        "invalid_request_error",
                        'Only Checkout Sessions with a status in ["open"] can be expired.',
                    )
                session["status"] = "expired"
                return session
            case "GET", ["v1", "payment_intents", intent_id]:
                return self._find(self.intents, intent_id)
            case "GET", ["v1", "charges", charge_id]:
                return self._find(self.charges, charge_id)
            case "POST", ["v1", "refunds"]:
                intent = self._find(self.intents, params.get("payment_intent", ""))
                charge = self.charges[intent["latest_charge"]]
                amount = int(params["amount"]) if "amount" in params else None
                return self._refund(charge, amount, params.get("metadata", {}))
        raise StripeError(
            404, "invalid_request_error", f"Unrecognized request URL ({method} {path})."
        )

    def _find(self, store: dict[str, dict[str, Any]], object_id: str) -> dict[str, Any]:
        if object_id not in store:
            raise StripeError(
                404, "invalid_request_error", f"No such object: '{object_id}'", "resource_missing"
            )
        return store[object_id]

    def _session(
        self,
        session_id: str,
        metadata: dict[str, str],
        amount: int,
        currency: str,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "id": session_id,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "status": "open",
            "payment_status": "unpaid",
            "mode": params.get("mode", "payment"),
            "amount_total": amount,
            "currency": currency,
            "metadata": metadata,
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "payment_intent": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "expires_at": int(time.time()) + 24 * 3600,
            "livemode": False,
        }

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        items = params.get("line_items", {}).values()
        amount = sum(
            int(item["quantity"]) * int(item["price_data"]["unit_amount"]) for item in items
        )
        currencies = {item["price_data"]["currency"] for item in items}
        if amount <= 0 or len(currencies) != 1:
            raise StripeError(400, "invalid_request_error", "Invalid line items.")
        session_id = self._id("cs")
        self.sessions[session_id] = self._session(
            session_id, params.get("metadata", {}), amount, currencies.pop(), params
        )
        return self.sessions[session_id]

    def _refund(
        self, charge: dict[str, Any], amount: int | None, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        left = charge["amount"] - charge["amount_refunded"]
        amount = left if amount is None else amount
        if left <= 0:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                "charge_already_refunded",
            )
        if not 0 < amount <= left:
            raise StripeError(400, "invalid_request_error", "Invalid refund amount.")
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund_id = self._id("re")
        self.refunds[refund_id] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "currency": charge["currency"],
            "status": "succeeded",
            "metadata": metadata or {},
        }
        return self.refunds[refund_id]


def _error(kind: str, message: str, code: str = "") -> dict[str, Any]:
    error = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header, computed by the library's own helper."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


def _handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, reply = fake.handle(
                method,
                url.path,
                _nested(parse_qsl(url.query)),
                _nested(parse_qsl(body)),
                {name.lower(): value for name, value in self.headers.items()},
            )
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stripe_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """A running fake; a test module uses it with ``app_config`` returning its config."""
    monkeypatch.setattr(stripe_gateway, "NETWORK_RETRIES", 0)  # a 'down' fake fails at once
    fake = FakeStripe().start()
    yield fake
    fake.stop()
