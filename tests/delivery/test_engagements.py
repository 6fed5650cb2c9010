"""Engagements from confirmed orders: one per purchased unit, due dates from the KPI targets,
delivery managers told, and a list page for delivery staff and for the customer's people."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import func, select

from catalog.models import ServletVersion
from core.extensions import db
from core.mail import OutboxEmail
from core.permissions import OrgKind, Role
from delivery.calendar import add_business_days
from delivery.engagements import due_dates
from delivery.models import Engagement, EngagementState
from ordering.models import Order, OrderLine
from tests.conftest import sign_in
from tests.factories import organization, person
from tests.ordering import factories


def test_each_purchased_unit_becomes_a_requested_engagement_with_kpi_dates(app, tenant_a, unscoped):
    with unscoped():
        order_id = factories.order(
            tenant_a, quantity=3, start_within_days=4, deliver_within_days=10
        )
        order = db.session.get(Order, order_id)
        engagements = db.session.scalars(select(Engagement).order_by(Engagement.unit)).all()
        assert [e.unit for e in engagements] == [1, 2, 3]
        line = db.session.scalar(select(OrderLine))
        for engagement in engagements:
            assert engagement.state == EngagementState.REQUESTED
            assert engagement.order_line_id == line.id
            assert engagement.customer_id == tenant_a.customer_id
            assert engagement.servlet_version_id == line.servlet_version_id
            start_by = add_business_days(order.confirmed_at.date(), 4)
            assert engagement.start_by == start_by
            assert engagement.deliver_by == add_business_days(start_by, 10)
        manager = tenant_a.people[Role.DELIVERY_MANAGER].email
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.recipient == manager))
        assert "3 new engagement(s)" in mail.subject
        assert "start by" in mail.body


def test_due_dates_count_business_days_from_the_request(app, tenant_a, unscoped):
    with unscoped():
        factories.order(tenant_a, start_within_days=1, deliver_within_days=2)
        version = db.session.scalar(select(ServletVersion))
        friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
        start_by, deliver_by = due_dates(version, friday_evening)
        assert start_by.isoformat() == "2026-11-30"
        assert deliver_by.isoformat() == "2026-12-02"


def test_an_order_waiting_for_approval_has_no_engagements_yet(app, tenant_a, unscoped):
    with unscoped():
        factories.set_threshold(tenant_a, 0)
        factories.order(tenant_a)
        assert db.session.scalar(select(func.count()).select_from(Engagement)) == 0


def test_delivery_staff_and_the_customer_see_the_engagements(client, tenant_a, unscoped):
    with unscoped():
        factories.order(tenant_a, title="Quarterly Health Check", quantity=2)
        other = organization("Other Customer", OrgKind.CUSTOMER, tenant_a.vendor_id)
        other_viewer = person(other, Role.VIEWER)
    for role in (Role.DELIVERY_MANAGER, Role.ADMIN, Role.BUYER, Role.VIEWER, Role.APPROVER):
        sign_in(client, tenant_a.people[role])
        page = client.get("/engagements").data.decode()
        assert page.count("Quarterly Health Check") == 2, role
        assert "unit 2 of 2" in page
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert "Acme Software Customer" in client.get("/engagements").data.decode()
    assert b'data-testid="empty-state"' in client.get("/engagements?state=accepted").data
    sign_in(client, other_viewer)
    assert b'data-testid="empty-state"' in client.get("/engagements").data
    for role in (Role.PARTNER_MANAGER, Role.CONSULTANT):  # nothing assigned to them
        sign_in(client, tenant_a.people[role])
        assert b'data-testid="empty-state"' in client.get("/engagements").data


def test_the_engagement_list_pages_and_runs_a_fixed_number_of_queries(
    client, tenant_a, unscoped, count_queries
):
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])

    def statements() -> int:
        with count_queries() as counted:
            assert client.get("/engagements").status_code == 200
        return len(counted)

    with unscoped():
        factories.order(tenant_a)
    few = statements()
    with unscoped():
        factories.order(tenant_a, quantity=20)
        factories.order(tenant_a, quantity=10)
    assert statements() == few
    assert b"Next" in client.get("/engagements").data
    second = client.get("/engagements?page=2").data.decode()
    assert second.count("<tr>") == 31 - 25 + 1  # six rows and the header


def test_engagements_export_as_csv_within_the_lists_reach_and_filter(client, tenant_a, unscoped):
    with unscoped():
        factories.order(tenant_a, title="Quarterly Health Check", quantity=2)
        other = organization("Other Customer", OrgKind.CUSTOMER, tenant_a.vendor_id)
        other_viewer = person(other, Role.VIEWER)
    for role in (Role.DELIVERY_MANAGER, Role.BUYER, Role.VIEWER):
        sign_in(client, tenant_a.people[role])
        assert b"/engagements/export.csv" in client.get("/engagements").data
        export = client.get("/engagements/export.csv")
        assert export.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(export.data.decode())))
        assert [(r["servlet"], r["unit"], r["state"]) for r in rows] == [
            ("Quarterly Health Check", "1", "requested"),
            ("Quarterly Health Check", "2", "requested"),
        ], role
        assert rows[0]["customer"] == "Acme Software Customer"
    accepted = client.get("/engagements/export.csv?state=accepted").data.decode()
    assert list(csv.DictReader(io.StringIO(accepted))) == []
    sign_in(client, other_viewer)
    assert (
        list(csv.DictReader(io.StringIO(client.get("/engagements/export.csv").data.decode()))) == []
    )
    sign_in(client, tenant_a.people[Role.CONSULTANT])  # nothing assigned to them
    export = client.get("/engagements/export.csv").data.decode()
    assert list(csv.DictReader(io.StringIO(export))) == []
