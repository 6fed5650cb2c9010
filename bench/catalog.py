"""``make bench``: how fast the customer catalog page is, next to a bare endpoint.

Builds a SQLite database with the demo data plus enough published servlets to make 1,000 in
the catalog a demo buyer sees, serves the app with gunicorn (2 workers) on loopback, signs in
through the real form, and drives ``/catalog`` and ``/ping`` with wrk at 8 connections.
Prints ``name: value`` lines.
"""

from __future__ import annotations

import os
import tempfile
from decimal import Decimal
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, select

from accounts.models import Organization, User
from accounts.services import open_session
from bench.demo import demo_shop
from bench.server import gunicorn, session_cookie, wrk
from catalog import catalogs, servlets
from catalog.content import ServletContent
from catalog.models import (
    BillingPolicy,
    CatalogItem,
    DeliveryMode,
    LifecycleStage,
    ServletKind,
)
from core.app import create_app
from core.extensions import db
from core.money import Money
from core.tenancy import all_tenants

SERVLETS = 1_000
BUYER = "buyer@blue.example"
PASSWORD = "servlet-demo-1"  # noqa: S105  (the printed demo password)
KINDS, STAGES, MODES = list(ServletKind), list(LifecycleStage), list(DeliveryMode)


def content(number: int, currency: str) -> ServletContent:
    return ServletContent(
        title=f"Benchmark Servlet {number:04}",
        kind=KINDS[number % len(KINDS)],
        stage=STAGES[number % len(STAGES)],
        outcome=f"Outcome number {number}: a measurable improvement for the customer.",
        summary="A fixed-price service used to measure the catalog page.",
        delivery_mode=MODES[number % len(MODES)],
        duration_days=1 + number % 20,
        effort_hours=8 + number % 40,
        price=Money(100_000 + number * 100, currency),
        billing_policy=BillingPolicy.PREPAID,
        start_within_days=5,
        deliver_within_days=10,
        csat_target=Decimal("4.5"),
        deliverables=[{"title": "Report", "description": "A written report."}],
    )


def populate(database_url: str) -> None:
    """Demo data, then published servlets added to the buyer's first catalog up to 1,000."""
    with demo_shop(database_url, BUYER) as shop:
        currency = db.session.get(Organization, shop.buyer.vendor_id).currency
        present = db.session.scalar(
            select(func.count()).where(CatalogItem.catalog_id == shop.catalog.id)
        )
        for number in range(present, SERVLETS):
            servlet = servlets.create_servlet(shop.admin, content(number, currency))
            servlets.publish_servlet(shop.admin, servlet)
            catalogs.add_item(shop.admin, shop.catalog, servlet.id)


def catalog_queries(database_url: str) -> tuple[int, int]:
    """SQL statements a signed-in ``GET /catalog`` runs in a fresh process, then again once
    the page is cached (the page's query budget, cold and warm)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SESSION_COOKIE_SECURE": False})
    client = app.test_client()
    with app.app_context():
        with all_tenants():
            user = db.session.scalar(select(User).where(User.email == BUYER))
            session_key = open_session(user)
            db.session.commit()
        engine = db.engine
    with client.session_transaction() as session:
        session["_user_id"] = session_key
    return _statements(client, engine), _statements(client, engine)


def _statements(client: FlaskClient, engine: Engine) -> int:
    statements: list[str] = []

    def listener(conn, cursor, statement, *args) -> None:
        if not statement.startswith("BEGIN"):  # transaction control on SQLite, not a query
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    response = client.get("/catalog")
    event.remove(engine, "before_cursor_execute", listener)
    if response.status_code != 200:
        raise RuntimeError(f"/catalog answered {response.status_code}")
    return len(statements)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="servlet-desk-bench-"))
    database_url = f"sqlite:///{workdir / 'bench.sqlite'}"
    populate(database_url)
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key",
        "SESSION_COOKIE_SECURE": "false",
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    with gunicorn(env) as base:
        cookie = session_cookie(base, BUYER, PASSWORD)
        # Warm-up: the first seconds fill each worker's compiled-SQL, template and page
        # caches; the figures are for the steady state a long-running server is in.
        wrk(base + "/catalog", cookie, seconds=5)
        catalog = wrk(base + "/catalog", cookie)
        plaintext = wrk(base + "/ping", None)
    os.environ["SECRET_KEY"] = env["SECRET_KEY"]
    cold_queries, cached_queries = catalog_queries(database_url)
    print(f"servlets: {SERVLETS}")
    print(f"catalog_rps: {catalog.requests_per_second:.0f}")
    print(f"plaintext_rps: {plaintext.requests_per_second:.0f}")
    ratio = catalog.requests_per_second / plaintext.requests_per_second
    print(f"catalog_vs_plaintext_ratio: {ratio:.3f}")
    print(f"catalog_p99_ms: {catalog.p99_ms:.1f}")
    print(f"catalog_queries: {cold_queries}")
    print(f"catalog_queries_cached: {cached_queries}")
    print(f"catalog_errors: {catalog.errors}")


if __name__ == "__main__":
    main()
