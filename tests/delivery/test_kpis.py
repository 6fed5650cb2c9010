"""Delivery KPIs: each engagement's figures by hand, and every aggregate equal to a brute-force
computation in Python over the same random (seeded) engagements, on either database."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from catalog.models import ServletVersion
from core.extensions import db
from core.permissions import Role
from delivery import allocation, change_orders, kpis, time_entries
from delivery.allocation import Allocation
from delivery.change_orders import Proposal
from delivery.kpis import GroupBy, Period
from delivery.models import (
    Assignment,
    ChangeOrder,
    ChangeOrderState,
    Engagement,
    EngagementState,
    Holiday,
    Resource,
    TimeEntry,
    TimeEntryState,
    TimeOff,
)
from delivery.time_entries import Hours
from ordering.models import OrderLine
from tests.catalog.factories import actor
from tests.delivery import factories as delivery_factories
from tests.delivery import kpi_world, staffing
from tests.delivery.kpi_world import assign, change, engagement, log

JANUARY = Period(date(2026, 1, 1), date(2026, 1, 31))


def at(day: int, hour: int = 9, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def delivered(w, line, started: datetime, done: datetime, **values) -> int:
    return engagement(
        w,
        line,
        state=values.pop("state", EngagementState.ACCEPTED),
        requested_at=values.pop("requested_at", at(2)),
        started_at=started,
        delivered_at=done,
        **values,
    )


def test_an_engagements_kpis_come_from_its_stamps_time_and_money(app, tenant_a, unscoped):
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=1, effort_hours=20)
        consultant = w.consultants[0]
        e = delivered(
            w,
            w.lines[0],
            requested_at=at(5),
            started=at(7),
            done=at(12, 21),
            deliver_by=date(2026, 1, 12),
            csat=4,
        )
        change(w, e, price=100_000, hours="4")
        change(w, e, price=999, hours="50", state=ChangeOrderState.DECLINED)
        log(w, e, consultant, date(2026, 1, 8), "10", 50_000)
        log(w, e, consultant, date(2026, 1, 9), "6", 30_000)
        log(w, e, consultant, date(2026, 1, 9), "5", 25_000, TimeEntryState.SUBMITTED)
        assign(w, e, None, w.partners[0], fee=120_000)
        db.session.commit()

        row = kpis.engagement_kpis(tenant_a.vendor_id, "USD", e)
    assert row.time_to_start == pytest.approx(2.0)
    assert row.cycle_days == pytest.approx(5.5)
    assert row.on_time == 1
    assert float(row.logged_hours) == 16
    assert float(row.estimated_hours) == 24  # 20 from the version + 4 approved
    assert float(row.effort_variance) == pytest.approx(16 / 24)
    assert row.csat == 4
    assert row.price == 600_000  # the line's 500,000 + the approved change's 100,000
    assert row.cost == 80_000
    assert row.partner_fee == 120_000
    assert row.margin == 400_000


def test_on_time_is_the_utc_date_of_the_latest_delivery(app, tenant_a, unscoped):
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=1)
        line = w.lines[0]
        due = date(2026, 1, 12)
        last_minute = delivered(w, line, at(7), at(12, 23, 59), deliver_by=due)
        next_day = delivered(w, line, at(7), at(13, 0, 30), deliver_by=due)
        open_one = engagement(w, line, state=EngagementState.IN_PROGRESS, started_at=at(7))
        db.session.commit()
        on_time = {
            e: kpis.engagement_kpis(tenant_a.vendor_id, "USD", e).on_time
            for e in (last_minute, next_day, open_one)
        }
    assert on_time == {last_minute: 1, next_day: 0, open_one: None}


def test_a_period_counts_what_was_delivered_in_it_with_the_median_cycle_time(
    app, tenant_a, unscoped
):
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=2)
        one, two = w.lines
        first, second = w.consultants[:2]
        for cycle, line, csat, consultant in (
            (1, one, 5, first),
            (3, one, 4, first),
            (10, two, None, second),
            (4, two, 2, first),
        ):
            e = delivered(w, line, at(5), at(5) + timedelta(days=cycle), csat=csat)
            assign(w, e, consultant, None)
        late = delivered(w, one, at(5), at(28), deliver_by=date(2026, 1, 20))
        assign(w, late, second, None)
        # Not in January: delivered in February, reworked (in progress again), cancelled.
        delivered(w, one, at(5), at(2, month=2))
        delivered(w, one, at(5), at(9), state=EngagementState.IN_PROGRESS)
        delivered(w, one, at(5), at(9), state=EngagementState.CANCELLED)
        db.session.commit()

        total = kpis.totals(tenant_a.vendor_id, "USD", JANUARY)
        by_servlet = kpis.aggregates(tenant_a.vendor_id, "USD", JANUARY, GroupBy.SERVLET)
        by_consultant = kpis.aggregates(tenant_a.vendor_id, "USD", JANUARY, GroupBy.CONSULTANT)
        february = kpis.totals(
            tenant_a.vendor_id, "USD", Period(date(2026, 2, 1), date(2026, 2, 28))
        )
    assert (total.count, total.on_time) == (5, 4)
    assert total.median_cycle_days == pytest.approx(4)  # 1, 3, 4, 10, 23
    assert total.mean_csat == pytest.approx(11 / 3)
    assert total.revenue_minor == 5 * 500_000
    assert february.count == 1
    assert [(a.name, a.count, a.median_cycle_days) for a in by_servlet] == [
        ("KPI Servlet 0", 3, pytest.approx(3)),  # 1, 3, 23
        ("KPI Servlet 1", 2, pytest.approx(7)),  # 4, 10: the mean of the middle two
    ]
    assert {a.key: (a.count, a.on_time) for a in by_consultant} == {first: (3, 3), second: (2, 1)}


def test_an_empty_period_has_no_rows_and_zero_totals(app, tenant_a, unscoped):
    with unscoped():
        kpi_world.world(tenant_a, servlets=1)
        total = kpis.totals(tenant_a.vendor_id, "USD", JANUARY)
        rows = kpis.aggregates(tenant_a.vendor_id, "USD", JANUARY, GroupBy.CUSTOMER)
    assert rows == []
    assert (total.count, total.on_time_rate, total.median_cycle_days, total.mean_csat) == (
        0,
        None,
        None,
        None,
    )


def test_utilisation_is_approved_hours_over_capacity_on_business_days(app, tenant_a, unscoped):
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=1)
        consultant = w.consultants[0]  # 40 hours a week
        e = delivered(w, w.lines[0], at(5), at(9))
        log(w, e, consultant, date(2026, 1, 6), "8", 0)
        log(w, e, consultant, date(2026, 1, 7), "6", 0)
        log(w, e, consultant, date(2026, 1, 8), "7", 0, TimeEntryState.SUBMITTED)
        log(w, e, consultant, date(2026, 1, 19), "9", 0)  # after the period
        db.session.add(Holiday(vendor_id=tenant_a.vendor_id, day=date(2026, 1, 6), name="Epiphany"))
        db.session.add(
            TimeOff(
                vendor_id=tenant_a.vendor_id,
                resource_id=consultant,
                starts_on=date(2026, 1, 8),
                ends_on=date(2026, 1, 12),
            )
        )
        db.session.commit()
        week = Period(date(2026, 1, 5), date(2026, 1, 16))  # ten weekdays
        hours, capacity = kpis.utilisation(tenant_a.vendor_id, week)
    # 10 weekdays - 1 holiday - 3 weekdays away (8th, 9th, 12th) = 6 days of 8 hours.
    assert hours[consultant] == 14
    assert capacity[consultant] == 48


# --- aggregates against brute force -----------------------------------------------------


def brute_force(vendor_id: int, period: Period, group_by: GroupBy | None) -> dict:
    """Every aggregate by plain Python over the ORM rows."""
    since, until = period.bounds()
    lines = {line.id: line for line in db.session.scalars(select(OrderLine))}
    versions = {v.id: v for v in db.session.scalars(select(ServletVersion))}
    resources = {r.id: r for r in db.session.scalars(select(Resource))}
    time = defaultdict(list)
    for entry in db.session.scalars(select(TimeEntry)):
        time[entry.engagement_id].append(entry)
    changes = defaultdict(list)
    for order in db.session.scalars(select(ChangeOrder)):
        changes[order.engagement_id].append(order)
    assignments = defaultdict(list)
    for a in db.session.scalars(select(Assignment)):
        assignments[a.engagement_id].append(a)
    groups = defaultdict(list)
    for e in db.session.scalars(select(Engagement).where(Engagement.vendor_id == vendor_id)):
        if e.state not in kpis.DELIVERED or not (since <= e.delivered_at < until):
            continue
        if group_by is GroupBy.SERVLET:
            keys = {versions[e.servlet_version_id].servlet_id}
        elif group_by is GroupBy.CUSTOMER:
            keys = {e.customer_id}
        elif group_by is GroupBy.CONSULTANT:
            keys = {a.resource_id for a in assignments[e.id] if a.resource_id}
        elif group_by is GroupBy.PARTNER:
            keys = {
                a.partner_id or (resources[a.resource_id].partner_id if a.resource_id else None)
                for a in assignments[e.id]
            } - {None}
        else:
            keys = {0}
        for key in keys:
            groups[key].append(e)
    result = {}
    for key, engagements in groups.items():
        cycles = [
            (e.delivered_at - e.started_at).total_seconds() / 86400
            for e in engagements
            if e.started_at
        ]
        ratings = [e.csat for e in engagements if e.csat is not None]
        revenue = margin = other = 0
        for e in engagements:
            line = lines[e.order_line_id]
            if line.currency != "USD":
                other += 1
                continue
            approved = [c for c in changes[e.id] if c.state is ChangeOrderState.APPROVED]
            price = line.unit_price_minor + sum(c.price_minor for c in approved)
            cost = sum(t.cost_minor for t in time[e.id] if t.state is TimeEntryState.APPROVED)
            fee = sum(a.partner_fee_minor for a in assignments[e.id])
            revenue += price
            margin += price - cost - fee
        on_time = sum(e.delivered_at.date() <= e.deliver_by for e in engagements)
        result[key] = {
            "count": len(engagements),
            "on_time": on_time,
            "median": statistics.median(cycles) if cycles else None,
            "csat": statistics.mean(ratings) if ratings else None,
            "revenue": revenue,
            "margin": margin,
            "other": other,
        }
    return result


def figures(a: kpis.Aggregate) -> dict:
    return {
        "count": a.count,
        "on_time": a.on_time,
        "median": a.median_cycle_days,
        "csat": a.mean_csat,
        "revenue": a.revenue_minor,
        "margin": a.margin_minor,
        "other": a.other_currency,
    }


def approx(expected: dict) -> dict:
    return {
        key: {k: pytest.approx(v, abs=1e-6) if isinstance(v, float) else v for k, v in f.items()}
        for key, f in expected.items()
    }


PERIODS = [
    Period(date(2026, 1, 1), date(2026, 12, 31)),
    Period(date(2026, 3, 1), date(2026, 4, 30)),
    Period(date(2026, 6, 15), date(2026, 6, 15)),
]


@pytest.fixture
def random_engagements(app, tenant_a, tenant_b, unscoped):
    with unscoped():
        kpi_world.random_world(tenant_b, seed=2, how_many=30)  # another vendor's, never counted
        return kpi_world.random_world(tenant_a, seed=1, how_many=300)


@pytest.mark.parametrize("period", PERIODS, ids=["year", "two-months", "one-day"])
def test_aggregates_equal_a_brute_force_computation(random_engagements, unscoped, period):
    vendor_id = random_engagements.tenant.vendor_id
    with unscoped():
        for group_by in GroupBy:
            computed = kpis.aggregates(vendor_id, "USD", period, group_by)
            assert {a.key: figures(a) for a in computed} == approx(
                brute_force(vendor_id, period, group_by)
            ), group_by
        total = kpis.totals(vendor_id, "USD", period)
        expected = brute_force(vendor_id, period, None)
    if expected:
        assert figures(total) == approx(expected)[0]
    else:
        assert total.count == 0


def test_utilisation_equals_a_brute_force_computation(random_engagements, unscoped):
    vendor_id = random_engagements.tenant.vendor_id
    period = Period(date(2026, 2, 1), date(2026, 5, 31))
    with unscoped():
        hours, capacity = kpis.utilisation(vendor_id, period)
        by_partner, partner_capacity = kpis.utilisation(vendor_id, period, by_partner=True)
        resources = list(
            db.session.scalars(select(Resource).where(Resource.vendor_id == vendor_id))
        )
        entries = list(
            db.session.scalars(
                select(TimeEntry).where(
                    TimeEntry.vendor_id == vendor_id, TimeEntry.state == TimeEntryState.APPROVED
                )
            )
        )
    weekdays = sum((period.start + timedelta(days=n)).weekday() < 5 for n in range(period.days))
    expected_hours = defaultdict(Decimal)
    for entry in entries:
        if period.start <= entry.day <= period.end:
            expected_hours[entry.resource_id] += entry.hours
    assert hours == {k: v for k, v in expected_hours.items() if v}
    assert capacity == {r.id: Decimal(r.weekly_capacity_hours * weekdays) / 5 for r in resources}
    partner_hours = defaultdict(Decimal)
    partner_cap = defaultdict(Decimal)
    for r in resources:
        if r.partner_id:
            partner_hours[r.partner_id] += expected_hours.get(r.id, Decimal(0))
            partner_cap[r.partner_id] += Decimal(r.weekly_capacity_hours * weekdays) / 5
    assert by_partner == dict(partner_hours)
    assert partner_capacity == dict(partner_cap)


# --- facts kept on the engagement by the services -----------------------------------------


def recounted(engagement_id: int) -> dict:
    """The engagement's facts summed in Python from its time, assignments and changes."""
    entries = db.session.scalars(
        select(TimeEntry).where(
            TimeEntry.engagement_id == engagement_id, TimeEntry.state == TimeEntryState.APPROVED
        )
    ).all()
    changes = db.session.scalars(
        select(ChangeOrder).where(
            ChangeOrder.engagement_id == engagement_id,
            ChangeOrder.state == ChangeOrderState.APPROVED,
        )
    ).all()
    fees = db.session.scalars(
        select(Assignment.partner_fee_minor).where(Assignment.engagement_id == engagement_id)
    ).all()
    return {
        "approved_hours": sum((t.hours for t in entries), Decimal(0)),
        "approved_cost_minor": sum(t.cost_minor for t in entries),
        "partner_fee_minor": sum(fees),
        "change_price_minor": sum(c.price_minor for c in changes),
        "change_hours": sum((c.extra_hours for c in changes), Decimal(0)),
    }


def stored(engagement_id: int) -> dict:
    db.session.expire_all()
    e = db.session.get(Engagement, engagement_id)
    return {name: getattr(e, name) for name in recounted(engagement_id)}


def test_the_services_keep_the_stored_facts_equal_to_their_rows(app, tenant_a, unscoped):
    manager, buyer = actor(tenant_a, Role.DELIVERY_MANAGER), actor(tenant_a, Role.BUYER)
    monday = date(2030, 1, 7)
    with unscoped():
        engagement_id = delivery_factories.engagement(tenant_a, effort_hours=20)
        consultant = staffing.resource(tenant_a)
        partners_own = staffing.resource(
            tenant_a, tenant_a.people[Role.PARTNER_CONSULTANT], fee_minor=180_000
        )

        def engagement() -> Engagement:
            return db.session.get(Engagement, engagement_id)

        window = {"starts_on": monday, "ends_on": monday + timedelta(days=4)}
        allocation.allocate(
            manager,
            engagement(),
            Allocation(planned_hours=Decimal(8), resource_id=consultant, **window),
        )
        partner = allocation.allocate(
            manager,
            engagement(),
            Allocation(planned_hours=Decimal(8), partner_id=tenant_a.partner_id, **window),
        )
        assert stored(engagement_id) == recounted(engagement_id)
        allocation.name_consultant(
            actor(tenant_a, Role.PARTNER_MANAGER), engagement(), partner.id, partners_own
        )
        assert stored(engagement_id)["partner_fee_minor"] == 180_000

        delivery_factories.put_in_state(engagement_id, EngagementState.IN_PROGRESS)
        day, today = delivery_factories.yesterday(), delivery_factories.yesterday() + timedelta(1)
        logged = [
            time_entries.log_time(
                actor(tenant_a, Role.CONSULTANT), engagement(), Hours(day, Decimal(h)), today
            ).id
            for h in ("6.5", "3")
        ]
        time_entries.decide(manager, logged[:1], approve=True)
        assert stored(engagement_id)["approved_cost_minor"] == 65_000  # 6.5 hours at $100
        time_entries.decide(manager, logged[1:], approve=False, reason="Not on this one.")
        assert stored(engagement_id) == recounted(engagement_id)
        change = change_orders.propose(
            manager,
            engagement(),
            Proposal("Second SSO provider.", extra_hours="4", price="1000"),
        )
        change_orders.approve(buyer, engagement(), change)

        facts = stored(engagement_id)
        assert facts == recounted(engagement_id)
    assert facts == {
        "approved_hours": Decimal("6.5"),
        "approved_cost_minor": 65_000,
        "partner_fee_minor": 180_000,
        "change_price_minor": 100_000,
        "change_hours": Decimal(4),
    }
