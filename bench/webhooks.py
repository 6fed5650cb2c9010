"""``make bench``: outbound webhook fan-out, events delivered per second to a local receiver.

A SQLite file with one vendor and three endpoints on a threaded receiver on loopback; 2,000
events about 2,000 different objects are written to the outbox as the receivers of a change
would (``api.webhook_events.emit``: 6,000 messages), then the scheduler's job is run until
nothing is left, as it runs in production: claim a batch, sign each message per Standard
Webhooks, POST from the thread pool, record each outcome. Prints the messages delivered per
second (the receiver answers 200 at once, so this is the app's side of the work).
"""

from __future__ import annotations

import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from accounts.models import Organization
from api.webhook_delivery import deliver_webhooks
from api.webhook_events import emit
from api.webhook_models import MessageStatus, WebhookEndpoint, WebhookMessage
from core.app import create_app
from core.extensions import db
from core.permissions import OrgKind
from core.tenancy import all_tenants, tenant_scope

EVENTS = 2_000
ENDPOINTS = 3


class _Receiver(BaseHTTPRequestHandler):
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with _Receiver.lock:
            _Receiver.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: eight senders connecting at once would see
    # dropped SYNs and a one-second retransmit, a cost of this receiver, not of ours.
    request_queue_size = 128
    daemon_threads = True


def main() -> None:
    server = _Server(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite'}",
                "SECRET_KEY": "bench",
                "WEBHOOKS_ALLOW_HTTP": True,
                "WEBHOOKS_ALLOW_PRIVATE": True,
            }
        )
        with app.app_context():
            db.create_all()
            with all_tenants():
                vendor = Organization(name="Bench Vendor", kind=OrgKind.VENDOR)
                db.session.add(vendor)
                db.session.flush()
                db.session.add_all(
                    WebhookEndpoint(vendor_id=vendor.id, url=url, event_types=["order.placed"])
                    for _ in range(ENDPOINTS)
                )
                db.session.commit()
            with tenant_scope(vendor.id):
                for number in range(EVENTS):
                    emit(vendor.id, "order.placed", f"order:{number}", lambda n=number: {"id": n})
                db.session.commit()
            began = time.perf_counter()
            with all_tenants():
                while deliver_webhooks():
                    pass
                elapsed = time.perf_counter() - began
                delivered = db.session.scalar(
                    db.select(db.func.count()).where(
                        WebhookMessage.status == MessageStatus.DELIVERED
                    )
                )
    server.shutdown()
    if delivered != EVENTS * ENDPOINTS or _Receiver.received != delivered:
        raise RuntimeError(f"{delivered} delivered, {_Receiver.received} received")
    print(f"webhook_fanout_events_per_s: {delivered / elapsed:.0f}")


if __name__ == "__main__":
    main()
