"""Delivery data for KPI tests and the dashboard: rows written directly (no services), so a
test can set every stamp, hour and price it computes by hand. Builders run inside
``unscoped()``, like tests.factories. Those that add time, assignments or change orders
recount the engagement's facts (``delivery.kpi_facts``) as the services do."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy import select

from accounts.models import Organization
from core.extensions import db
from core.permissions import OrgKind, Role
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
from tests import factories
from tests.factories import Tenant
from tests.ordering import factories as ordering

_numbers = count(10_000)


@dataclass
class World:
    tenant: Tenant
    lines: list[int]  # order line ids, one per servlet, in USD
    euro_line: int  # a line priced in EUR (not the vendor's currency)
    consultants: list[int] = field(default_factory=list)  # vendor resources
    partner_consultants: list[int] = field(default_factory=list)
    partners: list[int] = field(default_factory=list)
    customers: list[int] = field(default_factory=list)


def world(tenant: Tenant, servlets: int = 2, effort_hours: int = 20) -> World:
    """Servlets ordered once each (their order lines carry the price), resources of the
    vendor and of two partners, and the tenant's two customers."""
    lines = []
    for n in range(servlets):
        order_id = ordering.order(tenant, title=f"KPI Servlet {n}", effort_hours=effort_hours)
        lines.append(db.session.scalar(select(OrderLine.id).where(OrderLine.order_id == order_id)))
    first = db.session.get(OrderLine, lines[0])
    euro = OrderLine(
        vendor_id=tenant.vendor_id,
        order_id=first.order_id,
        servlet_id=first.servlet_id,
        servlet_version_id=first.servlet_version_id,
        quantity=1,
        unit_price_minor=300_000,
        currency="EUR",
    )
    db.session.add(euro)
    db.session.flush()
    made = World(tenant, lines, euro.id, customers=[tenant.customer_id, tenant.neighbour_id])
    vendor = db.session.get(Organization, tenant.vendor_id)
    second = factories.organization(f"{vendor.name} Second Partner", OrgKind.PARTNER, vendor.id)
    made.partners = [tenant.partner_id, second.id]
    for n in range(3):
        made.consultants.append(resource(tenant, vendor, Role.CONSULTANT, 40 - 8 * n, 5_000 + n))
    for n, partner_id in enumerate(made.partners * 2):
        partner = db.session.get(Organization, partner_id)
        made.partner_consultants.append(
            resource(tenant, partner, Role.PARTNER_CONSULTANT, 20 + 4 * n, 0, partner_id)
        )
    db.session.commit()
    return made


def resource(
    tenant: Tenant,
    org: Organization,
    role: Role,
    weekly: int,
    rate: int,
    partner_id: int | None = None,
) -> int:
    person = factories.person(org, role)
    row = Resource(
        vendor_id=tenant.vendor_id,
        membership_id=person.membership_id,
        partner_id=partner_id,
        skills=[],
        weekly_capacity_hours=weekly,
        cost_rate_minor=rate,
        fee_minor=100_000 if partner_id else 0,
    )
    db.session.add(row)
    db.session.flush()
    return row.id


def engagement(w: World, line_id: int, customer_id: int | None = None, **values: Any) -> int:
    line = db.session.get(OrderLine, line_id)
    requested = values.pop("requested_at", datetime(2026, 1, 5, 9, tzinfo=UTC))
    number = next(_numbers)
    row = Engagement(
        vendor_id=w.tenant.vendor_id,
        number=number,
        order_line_id=line_id,
        unit=number,
        customer_id=customer_id or w.tenant.customer_id,
        servlet_version_id=line.servlet_version_id,
        requested_at=requested,
        start_by=values.pop("start_by", requested.date() + timedelta(days=7)),
        deliver_by=values.pop("deliver_by", requested.date() + timedelta(days=21)),
        **values,
    )
    db.session.add(row)
    db.session.flush()
    return row.id


def assign(
    w: World,
    engagement_id: int,
    resource_id: int | None,
    partner_id: int | None,
    fee: int = 0,
    recount: bool = True,
) -> None:
    db.session.add(
        Assignment(
            vendor_id=w.tenant.vendor_id,
            engagement_id=engagement_id,
            resource_id=resource_id,
            partner_id=partner_id,
            starts_on=date(2026, 1, 5),
            ends_on=date(2026, 1, 30),
            planned_hours=Decimal(10),
            partner_fee_minor=fee,
            assigned_by_id=w.tenant.people[Role.DELIVERY_MANAGER].membership_id,
        )
    )
    if recount:
        kpi_facts.refresh([engagement_id])


def log(
    w: World,
    engagement_id: int,
    resource_id: int,
    day: date,
    hours: str,
    cost: int,
    state: TimeEntryState = TimeEntryState.APPROVED,
    recount: bool = True,
) -> None:
    db.session.add(
        TimeEntry(
            vendor_id=w.tenant.vendor_id,
            engagement_id=engagement_id,
            resource_id=resource_id,
            day=day,
            hours=Decimal(hours),
            cost_minor=cost,
            state=state,
        )
    )
    if recount:
        kpi_facts.refresh([engagement_id])


def change(
    w: World,
    engagement_id: int,
    price: int,
    hours: str,
    state: ChangeOrderState = ChangeOrderState.APPROVED,
    recount: bool = True,
) -> None:
    db.session.add(
        ChangeOrder(
            vendor_id=w.tenant.vendor_id,
            number=next(_numbers),
            engagement_id=engagement_id,
            description="More scope",
            tasks=[],
            extra_hours=Decimal(hours),
            price_minor=price,
            currency="USD",
            state=state,
            proposed_by_id=w.tenant.people[Role.DELIVERY_MANAGER].membership_id,
        )
    )
    if recount:
        kpi_facts.refresh([engagement_id])


STATES = list(EngagementState)


def random_world(tenant: Tenant, seed: int, how_many: int) -> World:
    """``how_many`` engagements in random states through 2026, with random assignments,
    time (approved or not), change orders, ratings and prices."""
    w = world(tenant, servlets=3)
    add_random(w, seed, how_many)
    return w


def add_random(w: World, seed: int, how_many: int) -> None:
    """``how_many`` more random engagements in ``w`` (``random_world``)."""
    rng = random.Random(seed)
    people = w.consultants + w.partner_consultants
    partner_of = dict(zip(w.partner_consultants, w.partners * 2, strict=True))
    made = []
    for _ in range(how_many):
        requested = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(500_000))
        state = rng.choice(STATES)
        stamps: dict[str, Any] = {"state": state, "requested_at": requested}
        if state not in (EngagementState.REQUESTED, EngagementState.CANCELLED):
            stamps["started_at"] = requested + timedelta(minutes=rng.randrange(20_000))
        finished = state in (EngagementState.DELIVERED, EngagementState.ACCEPTED)
        if "started_at" in stamps and (finished or rng.random() < 0.1):
            stamps["delivered_at"] = stamps["started_at"] + timedelta(minutes=rng.randrange(60_000))
        if state is EngagementState.ACCEPTED and rng.random() < 0.7:
            stamps["csat"] = rng.randint(1, 5)
        line = w.euro_line if rng.random() < 0.05 else rng.choice(w.lines)
        engagement_id = engagement(w, line, rng.choice(w.customers), **stamps)
        made.append(engagement_id)
        for resource_id in rng.sample(people, rng.choice([0, 1, 1, 2])):
            partner = partner_of.get(resource_id)
            fee = rng.randrange(50_000) if partner else 0
            assign(w, engagement_id, resource_id, partner, fee, recount=False)
            for _ in range(rng.randrange(4)):
                log(
                    w,
                    engagement_id,
                    resource_id,
                    date(2026, 1, 1) + timedelta(days=rng.randrange(360)),
                    str(Decimal(rng.randrange(1, 33)) / 4),
                    rng.randrange(100_000),
                    rng.choice([TimeEntryState.APPROVED] * 3 + [TimeEntryState.SUBMITTED]),
                    recount=False,
                )
        if rng.random() < 0.1:
            assign(w, engagement_id, None, rng.choice(w.partners), recount=False)
        if rng.random() < 0.15:
            change(
                w,
                engagement_id,
                rng.randrange(200_000),
                str(rng.randrange(20)),
                rng.choice(list(ChangeOrderState)),
                recount=False,
            )
    kpi_facts.refresh(made)
    db.session.commit()
