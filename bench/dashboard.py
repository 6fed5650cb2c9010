"""``make bench``, third part: the delivery dashboard over 100,000 engagements.

Builds a SQLite database with the demo data, then bulk-inserts (Core ``executemany``) into
the demo vendor 100,000 engagements delivered over the last twelve months, spread over its
servlets, customers and 40 consultants (half of them a partner's), with three time entries
each and a change order on one in ten, and recounts their facts as the services would
(``delivery.kpi_facts``, one UPDATE). Then renders the dashboard through the Flask test
client, signed in as the demo delivery manager, for the last 12 months (every engagement
counts) grouped each way, and prints the median of several runs as ``name: value`` lines.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import insert, select, update

from accounts.models import Membership, Organization, User
from accounts.services import open_session
from bench.demo import demo_shop
from catalog.models import ServletVersion
from core.app import create_app
from core.db import utcnow
from core.extensions import db
from core.permissions import OrgKind, Role
from core.tenancy import all_tenants
from delivery import kpi_facts
from delivery.models import (
    Assignment,
    ChangeOrder,
    ChangeOrderState,
    Engagement,
    EngagementState,
    Resource,
    TimeEntry,
    TimeEntryState,
)
from ordering.models import OrderLine

ENGAGEMENTS = 100_000
ENTRIES_EACH = 3
CONSULTANTS = 40
RUNS = 7
BUYER = "buyer@blue.example"
MANAGER = "delivery.manager@northwind.example"
BATCH = 10_000


def _consultants(vendor_id: int, partner_id: int) -> list[int]:
    """Resources (half of them the partner's) with their users and memberships."""
    users = [
        {"email": f"bench.consultant.{n}@bench.example", "name": f"Consultant {n:02}"}
        for n in range(CONSULTANTS)
    ]
    db.session.execute(insert(User), users)
    user_ids = db.session.scalars(
        select(User.id).where(User.email.like("bench.consultant.%")).order_by(User.id)
    ).all()
    members = []
    for n, user_id in enumerate(user_ids):
        partner = n % 2 == 1
        members.append(
            {
                "user_id": user_id,
                "organization_id": partner_id if partner else vendor_id,
                "role": Role.PARTNER_CONSULTANT if partner else Role.CONSULTANT,
                "vendor_id": vendor_id,
            }
        )
    db.session.execute(insert(Membership), members)
    membership_ids = db.session.scalars(
        select(Membership.id).where(Membership.user_id.in_(user_ids)).order_by(Membership.id)
    ).all()
    db.session.execute(
        insert(Resource),
        [
            {
                "vendor_id": vendor_id,
                "membership_id": membership_id,
                "partner_id": partner_id if n % 2 else None,
                "skills": [],
                "weekly_capacity_hours": 40,
                "cost_rate_minor": 0 if n % 2 else 9_000,
                "fee_minor": 150_000 if n % 2 else 0,
            }
            for n, membership_id in enumerate(membership_ids)
        ],
    )
    return db.session.scalars(
        select(Resource.id).where(Resource.membership_id.in_(membership_ids)).order_by(Resource.id)
    ).all()


def populate(database_url: str) -> None:
    """The demo, then the engagements, their assignments, time and change orders."""
    rng = random.Random(10)
    with demo_shop(database_url, BUYER) as shop:
        vendor_id = shop.buyer.vendor_id
        partner_id = db.session.scalar(
            select(Organization.id).where(Organization.kind == OrgKind.PARTNER)
        )
        manager = db.session.scalar(select(Membership.id).join(User).where(User.email == MANAGER))
        lines = db.session.execute(
            select(OrderLine.id, OrderLine.servlet_version_id, OrderLine.unit_price_minor)
            .join(ServletVersion, ServletVersion.id == OrderLine.servlet_version_id)
            .where(OrderLine.currency == "USD")
        ).all()
        customers = db.session.scalars(
            select(Organization.id).where(Organization.kind == OrgKind.CUSTOMER)
        ).all()
        resources = _consultants(vendor_id, partner_id)
        now = utcnow()
        with all_tenants():
            last = db.session.scalar(select(Engagement.id).order_by(Engagement.id.desc()))
        first_id = (last or 0) + 1
        for start in range(0, ENGAGEMENTS, BATCH):
            _batch(vendor_id, manager, start, first_id, lines, customers, resources, now, rng)
        db.session.execute(
            update(Engagement.__table__)
            .where(Engagement.id >= first_id)
            .values(kpi_facts.recounted())
        )
        db.session.commit()


def _batch(vendor_id, manager, start, first_id, lines, customers, resources, now, rng) -> None:
    engagements, assignments, entries, changes = [], [], [], []
    for n in range(start, start + BATCH):
        engagement_id = first_id + n
        line_id, version_id, _ = lines[n % len(lines)]
        delivered = now - timedelta(minutes=rng.randrange(1, 525_000))
        started = delivered - timedelta(minutes=rng.randrange(60, 30_000))
        requested = started - timedelta(minutes=rng.randrange(60, 10_000))
        accepted = rng.random() < 0.8
        engagements.append(
            {
                "id": engagement_id,
                "vendor_id": vendor_id,
                "number": 1_000_000 + n,
                "order_line_id": line_id,
                "unit": 1_000_000 + n,
                "customer_id": customers[n % len(customers)],
                "servlet_version_id": version_id,
                "state": EngagementState.ACCEPTED if accepted else EngagementState.DELIVERED,
                "requested_at": requested,
                "started_at": started,
                "delivered_at": delivered,
                "accepted_at": delivered + timedelta(days=1) if accepted else None,
                "start_by": (requested + timedelta(days=5)).date(),
                "deliver_by": (started + timedelta(days=rng.randrange(5, 20))).date(),
                "csat": rng.randint(1, 5) if accepted and rng.random() < 0.6 else None,
            }
        )
        resource_id = resources[n % len(resources)]
        assignments.append(
            {
                "vendor_id": vendor_id,
                "engagement_id": engagement_id,
                "resource_id": resource_id,
                "partner_id": None,
                "starts_on": started.date(),
                "ends_on": delivered.date(),
                "planned_hours": Decimal(16),
                "partner_fee_minor": 150_000 if n % len(resources) % 2 else 0,
                "assigned_by_id": manager,
            }
        )
        for k in range(ENTRIES_EACH):
            entries.append(
                {
                    "vendor_id": vendor_id,
                    "engagement_id": engagement_id,
                    "resource_id": resource_id,
                    "day": (started + timedelta(hours=k * 8)).date(),
                    "hours": Decimal(rng.randrange(1, 17)) / 2,
                    "state": TimeEntryState.APPROVED if k < 2 else TimeEntryState.SUBMITTED,
                    "cost_minor": rng.randrange(10_000, 80_000),
                }
            )
        if n % 10 == 0:
            changes.append(
                {
                    "vendor_id": vendor_id,
                    "number": 1_000_000 + n,
                    "engagement_id": engagement_id,
                    "description": "More scope",
                    "tasks": [],
                    "extra_days": 2,
                    "extra_hours": Decimal(8),
                    "price_minor": 120_000,
                    "currency": "USD",
                    "state": ChangeOrderState.APPROVED,
                    "proposed_by_id": manager,
                }
            )
    db.session.execute(insert(Engagement), engagements)
    db.session.execute(insert(Assignment), assignments)
    db.session.execute(insert(TimeEntry), entries)
    db.session.execute(insert(ChangeOrder), changes)


def _signed_in(database_url: str) -> FlaskClient:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SESSION_COOKIE_SECURE": False})
    client = app.test_client()
    with app.app_context(), all_tenants():
        user = db.session.scalar(select(User).where(User.email == MANAGER))
        session_key = open_session(user)
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = session_key
    return client


def median_ms(client: FlaskClient, url: str) -> float:
    client.get(url)  # warm-up: compiled SQL, templates
    timings = []
    for _ in range(RUNS):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return statistics.median(timings)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="servlet-desk-bench-"))
    database_url = f"sqlite:///{workdir / 'bench.sqlite'}"
    os.environ.setdefault("SECRET_KEY", "bench-secret-key")
    began = time.perf_counter()
    populate(database_url)
    print(f"dashboard_engagements: {ENGAGEMENTS}")
    print(f"dashboard_populate_s: {time.perf_counter() - began:.1f}")
    client = _signed_in(database_url)
    print(f"dashboard_ms_100k: {median_ms(client, '/delivery/dashboard?period=year'):.0f}")
    for by in ("partner", "consultant", "customer"):
        figure = median_ms(client, f"/delivery/dashboard?period=year&by={by}")
        print(f"dashboard_ms_100k_by_{by}: {figure:.0f}")
    print(f"dashboard_ms_100k_this_month: {median_ms(client, '/delivery/dashboard'):.0f}")


if __name__ == "__main__":
    main()
