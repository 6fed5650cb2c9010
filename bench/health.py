"""``make bench``: the nightly health recompute of 10,000 accounts over 1,000,000 signals.

Builds a SQLite file with one vendor, 10,000 customers with account records, the built-in
signal types and 1,000,000 usage signals over the last year (Core ``executemany``, 100 per
customer: active users and licences used weekly, tickets, escalations and NPS answers now
and then), then times ``success.health.recompute`` for every customer as the nightly queued
job runs it, first with no score yet (every row inserted) and then again the next day.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from accounts.models import Organization
from core.app import create_app
from core.db import utcnow
from core.extensions import db
from core.permissions import OrgKind
from core.tenancy import all_tenants, tenant_scope
from success import health
from success.health_models import AccountHealth
from success.models import CustomerAccount
from success.signal_models import BuiltInSignal, SignalType, UsageSignal

CUSTOMERS = 10_000
SIGNALS_EACH = 100  # 40 weeks of active users and licences used, 20 other figures
BATCH = 100_000


def _customers(vendor_id: int) -> list[int]:
    db.session.execute(
        insert(Organization),
        [
            {"name": f"Customer {n:05}", "kind": OrgKind.CUSTOMER, "vendor_id": vendor_id}
            for n in range(CUSTOMERS)
        ],
    )
    ids = db.session.scalars(
        select(Organization.id).where(Organization.vendor_id == vendor_id).order_by(Organization.id)
    ).all()
    db.session.execute(
        insert(CustomerAccount),
        [
            {
                "vendor_id": vendor_id,
                "organization_id": customer_id,
                "segment": ("Enterprise", "Mid-market", "SMB")[n % 3],
                "currency": "USD",
                "licences_bought": 100 + n % 400,
            }
            for n, customer_id in enumerate(ids)
        ],
    )
    return list(ids)


def _signals(vendor_id: int, customers: list[int], types: dict[str, int]) -> int:
    rng = random.Random(12)
    today = utcnow().date()
    rows: list[dict] = []
    written = 0
    for n, customer_id in enumerate(customers):
        users = 50 + n % 300
        for week in range(40):
            day = today - timedelta(days=7 * week)
            drift = 1 + rng.uniform(-0.15, 0.1)
            rows.append(_row(vendor_id, customer_id, types["active_users"], day, users * drift))
            rows.append(
                _row(vendor_id, customer_id, types["licences_used"], day, users * drift * 1.1)
            )
        for k in range(10):
            day = today - timedelta(days=3 * k + 1)
            rows.append(_row(vendor_id, customer_id, types["tickets_open"], day, rng.randrange(12)))
        for k in range(5):
            day = today - timedelta(days=11 * k + 2)
            rows.append(_row(vendor_id, customer_id, types["escalations"], day, rng.randrange(3)))
            rows.append(_row(vendor_id, customer_id, types["nps"], day, rng.randrange(11)))
        if len(rows) >= BATCH:
            db.session.execute(insert(UsageSignal), rows)
            written += len(rows)
            rows = []
    if rows:
        db.session.execute(insert(UsageSignal), rows)
        written += len(rows)
    return written


def _row(vendor_id: int, customer_id: int, type_id: int, day, value: float) -> dict:
    return {
        "vendor_id": vendor_id,
        "customer_id": customer_id,
        "signal_type_id": type_id,
        "day": day,
        "value": round(value, 1),
    }


def populate(database_url: str) -> int:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context(), all_tenants():
        db.create_all()
        vendor = Organization(name="Bench Software", kind=OrgKind.VENDOR)
        db.session.add(vendor)
        db.session.flush()
        types = {}
        for member in BuiltInSignal:
            made = SignalType(
                vendor_id=vendor.id, key=member.value, name=member.label, built_in=True
            )
            db.session.add(made)
            db.session.flush()
            types[member.value] = made.id
        customers = _customers(vendor.id)
        written = _signals(vendor.id, customers, types)
        db.session.commit()
        print(f"health_signals: {written}")
        vendor_id = vendor.id
        db.engine.dispose()
    return vendor_id


def timed_recompute(database_url: str, vendor_id: int, days_later: int = 0) -> float:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context(), tenant_scope(vendor_id):
        began = time.perf_counter()
        health.recompute(vendor_id, utcnow().date() + timedelta(days=days_later))
        elapsed = time.perf_counter() - began
        scored = db.session.scalar(select(func.count()).select_from(AccountHealth))
        if scored != CUSTOMERS:
            raise RuntimeError(f"{scored} accounts scored, not {CUSTOMERS}")
        db.engine.dispose()
    return elapsed


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="servlet-desk-bench-"))
    database_url = f"sqlite:///{workdir / 'health.sqlite'}"
    os.environ.setdefault("SECRET_KEY", "bench-secret-key")
    began = time.perf_counter()
    vendor_id = populate(database_url)
    print(f"health_populate_s: {time.perf_counter() - began:.1f}")
    print(f"health_recompute_s_10k: {timed_recompute(database_url, vendor_id):.1f}")
    print(f"health_recompute_s_10k_next_day: {timed_recompute(database_url, vendor_id, 1):.1f}")


if __name__ == "__main__":
    main()
