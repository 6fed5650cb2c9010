"""The delivery dashboard: the figures the KPIs compute, for the period and grouping asked,
an empty state that says so, a CSV of the table, bad addresses survived, and the same number
of queries however many engagements there are."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from html import unescape

import pytest

from core.extensions import db
from core.permissions import Role
from delivery import dashboard_views
from delivery.models import EngagementState
from tests.conftest import sign_in
from tests.delivery import kpi_world
from tests.delivery.kpi_world import assign, engagement, log

JANUARY = "period=custom&start=2026-01-01&end=2026-01-31"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def january(app, tenant_a, unscoped):
    """Two engagements delivered in January 2026 (one late), one delivered in February."""
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=2)
        first = engagement(
            w,
            w.lines[0],
            state=EngagementState.ACCEPTED,
            started_at=at(5),
            delivered_at=at(7),
            deliver_by=date(2026, 1, 9),
            csat=5,
        )
        late = engagement(
            w,
            w.lines[1],
            customer_id=tenant_a.neighbour_id,
            state=EngagementState.DELIVERED,
            started_at=at(5),
            delivered_at=at(21),
            deliver_by=date(2026, 1, 9),
        )
        engagement(
            w,
            w.lines[0],
            state=EngagementState.DELIVERED,
            started_at=at(5),
            delivered_at=datetime(2026, 2, 3, tzinfo=UTC),
        )
        assign(w, first, w.consultants[0], None)
        assign(w, late, w.consultants[0], None)
        log(w, first, w.consultants[0], date(2026, 1, 6), "8", 40_000)
        db.session.commit()
        return w


def headline(page: str) -> dict[str, str]:
    pairs = re.findall(r'data-testid="headline-([a-z-]+)">([^<]*)<', page)
    return {key: unescape(value) for key, value in pairs}


def table(page: str) -> list[list[str]]:
    body = re.search(r'data-testid="dashboard-table">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, "no table"
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [
        [unescape(c.strip()) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
        for r in rows
    ]


def test_the_dashboard_shows_the_periods_figures_grouped_as_asked(client, tenant_a, january):
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    page = client.get(f"/delivery/dashboard?{JANUARY}&by=customer").data.decode()
    assert headline(page) == {
        "on-time": "50%",
        "cycle-time": "9.0 days",  # 2 and 16 days
        "csat": "5.00",
        "utilisation": headline(page)["utilisation"],
        "revenue": "$10,000.00",
        "margin": "$9,600.00",  # less 8 approved hours costing $400
    }
    assert table(page) == [
        ["Acme Software Customer", "1", "100%", "2.0 days", "5.00", "$5,000.00", "$4,600.00"],
        ["Acme Software Neighbour", "1", "0%", "16.0 days", "—", "$5,000.00", "$5,000.00"],
    ]
    assert 'data-testid="chart-delivered"' in page
    assert 'data-testid="chart-on-time"' in page


def test_grouped_by_consultant_the_table_shows_utilisation(client, tenant_a, january):
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get(f"/delivery/dashboard?{JANUARY}&by=consultant").data.decode()
    ((name, *figures),) = table(page)
    assert name.startswith("Consultant of")
    # 8 approved hours of a 40-hour week over January's 22 business days (176 hours): 4.5%.
    assert figures == ["2", "50%", "9.0 days", "5.00", "5%", "$10,000.00", "$9,600.00"]


def test_finance_sees_it_and_other_roles_do_not(client, tenant_a, january):
    for role in (Role.FINANCE, Role.ADMIN, Role.DELIVERY_MANAGER):
        sign_in(client, tenant_a.people[role])
        assert client.get("/delivery/dashboard").status_code == 200, role
    for role in (Role.CSM, Role.CONSULTANT, Role.BUYER, Role.PARTNER_MANAGER):
        sign_in(client, tenant_a.people[role])
        assert client.get("/delivery/dashboard").status_code == 403, role
        assert client.get("/delivery/dashboard.csv").status_code == 403, role


def test_another_vendor_sees_none_of_it(client, tenant_b, january):
    sign_in(client, tenant_b.people[Role.DELIVERY_MANAGER])
    page = client.get(f"/delivery/dashboard?{JANUARY}").data.decode()
    assert 'data-testid="empty-state"' in page
    assert "Acme" not in page


def test_a_period_with_nothing_delivered_says_so_and_exports_a_header(client, tenant_a, january):
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    empty = "period=custom&start=2025-03-01&end=2025-03-31"
    page = client.get(f"/delivery/dashboard?{empty}").data.decode()
    assert 'data-testid="empty-state"' in page
    assert "No engagement was delivered in this period" in page
    assert headline(page)["on-time"] == "—"
    response = client.get(f"/delivery/dashboard.csv?{empty}")
    assert response.status_code == 200
    assert list(csv.reader(io.StringIO(response.data.decode()))) == [dashboard_views.CSV_HEADER]


def test_the_csv_holds_the_tables_rows(client, tenant_a, january):
    sign_in(client, tenant_a.people[Role.FINANCE])
    response = client.get(f"/delivery/dashboard.csv?{JANUARY}&by=servlet")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.data.decode())))
    assert [(r["name"], r["engagements"], r["on_time"], r["revenue"]) for r in rows] == [
        ("KPI Servlet 0", "1", "1", "5000.00"),
        ("KPI Servlet 1", "1", "0", "5000.00"),
    ]
    assert rows[0]["median_cycle_days"] == "2.00"


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ("period=custom&start=2026-02-01&end=2026-01-01", "end is before its start"),
        ("period=custom&start=2026-02-01", "needs a start and an end"),
        ("period=custom&start=1999-99-99&end=2026-01-01", "Ignored “start”"),
        ("period=custom&start=2000-01-01&end=2026-01-01", "at most three years"),
        ("period=custom&start=20260101&end=99999-01-01", "Ignored “end”"),
        ("period=forever", "Ignored “period”"),
        ("by=colour", "Ignored “by”"),
    ],
)
def test_a_bad_address_is_survived_and_said_so(client, tenant_a, january, query, warning):
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    response = client.get(f"/delivery/dashboard?{query}")
    assert response.status_code == 200
    assert warning in unescape(response.data.decode())
    if "period=custom" in query or "period=forever" in query:
        assert '<option value="quarter" selected>' in response.data.decode()
    assert client.get(f"/delivery/dashboard.csv?{query}").status_code == 200


def test_the_query_count_does_not_grow_with_the_engagements(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        w = kpi_world.random_world(tenant_a, seed=3, how_many=10)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    counts = {}
    for size in (10, 1_000):
        if size > 10:
            with unscoped():
                kpi_world.add_random(w, seed=4, how_many=size - 10)
        for by in ("servlet", "consultant", "partner", "customer"):
            with count_queries() as counted:
                response = client.get(f"/delivery/dashboard?period=year&by={by}")
            assert response.status_code == 200
            counts[size, by] = len(counted)
    for by in ("servlet", "consultant", "partner", "customer"):
        assert counts[10, by] == counts[1_000, by], by
