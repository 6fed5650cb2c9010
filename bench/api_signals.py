"""``make bench``: usage signals ingested through the REST API, rows per second.

A SQLite file with one vendor, 1,000 customers and a service token (CSM role, scope
``write:success``); ten requests of 10,000 rows each (1,000 customers, the five built-in
signal types, twenty days) are POSTed to ``/api/v1/signals`` through the real app (Flask's
test client: the whole request path, token check, rate limit, idempotency, schema, every
row's checks and the upsert, without a socket). Prints the rows stored per second, first as
new rows and then the same batches again, every row an update.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from accounts.models import Membership, Organization, User
from api import tokens
from core.app import create_app
from core.db import utcnow
from core.extensions import db
from core.permissions import OrgKind, Role
from core.tenancy import all_tenants
from success.signal_models import BuiltInSignal, UsageSignal

CUSTOMERS = 1_000
DAYS = 20
BATCH = 10_000


def _vendor() -> tuple[list[int], str]:
    """The customers' ids and a service token's secret."""
    vendor = Organization(name="Bench Vendor", kind=OrgKind.VENDOR)
    db.session.add(vendor)
    db.session.flush()
    db.session.execute(
        insert(Organization),
        [
            {"name": f"Customer {n:04}", "kind": OrgKind.CUSTOMER, "vendor_id": vendor.id}
            for n in range(CUSTOMERS)
        ],
    )
    user = User(email="admin@bench.example", name="Bench Admin", password_hash="!")  # noqa: S106 (no password: never signs in)
    admin = Membership(user=user, organization=vendor, role=Role.ADMIN, vendor_id=vendor.id)
    db.session.add_all([user, admin])
    db.session.commit()
    wanted = tokens.TokenRequest(
        "Analytics push", ["write:success"], timedelta(days=7), role=Role.CSM
    )
    secret = tokens.make_service_token(admin, wanted).secret  # a Membership is an Actor
    customers = db.session.scalars(
        select(Organization.id).where(Organization.vendor_id == vendor.id).order_by(Organization.id)
    ).all()
    return list(customers), secret


def _batches(customers: list[int]) -> list[bytes]:
    """Every (customer, type, day) once, in request bodies of ``BATCH`` rows."""
    today = utcnow().date()
    rows = [
        {
            "account": customer,
            "signal": kind.value,
            "date": (today - timedelta(days=day)).isoformat(),
            "value": (customer * 7 + day) % 11 if kind is BuiltInSignal.NPS else 40 + day,
        }
        for day in range(DAYS)
        for kind in BuiltInSignal
        for customer in customers
    ]
    return [
        json.dumps({"rows": rows[start : start + BATCH]}).encode()
        for start in range(0, len(rows), BATCH)
    ]


def _send(client, bodies: list[bytes], secret: str) -> float:
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    began = time.perf_counter()
    for body in bodies:
        answer = client.post("/api/v1/signals", data=body, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code}: {answer.get_data(as_text=True)[:300]}")
    return time.perf_counter() - began


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite'}",
                "SECRET_KEY": "bench",
            }
        )
        with app.app_context():
            db.create_all()
            with all_tenants():
                customers, secret = _vendor()
            db.session.remove()
        bodies = _batches(customers)
        rows = BATCH * len(bodies)
        client = app.test_client()
        first = _send(client, bodies, secret)
        again = _send(client, bodies, secret)
        with app.app_context(), all_tenants():
            stored = db.session.scalar(select(func.count()).select_from(UsageSignal))
    if stored != rows:
        raise RuntimeError(f"{stored} rows stored of {rows}")
    print(f"api_signals_rows_per_s: {rows / first:.0f}")
    print(f"api_signals_rows_per_s_updates: {rows / again:.0f}")


if __name__ == "__main__":
    main()
