"""The engagement page: what each role sees of one engagement, and in how many queries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from delivery.models import Engagement, EngagementState, Task
from ordering.models import OrderLine
from tests.conftest import sign_in
from tests.delivery import factories

DELIVERABLES = [
    {"title": "Kick-off notes", "description": "Goals agreed."},
    {"title": "Findings report", "description": "Scored, prioritised."},
    {"title": "Read-out", "description": ""},
]


def test_each_deliverable_of_the_version_becomes_a_task_in_order(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.engagement(tenant_a, deliverables=DELIVERABLES)
        tasks = db.session.scalars(
            select(Task).where(Task.engagement_id == engagement_id).order_by(Task.position)
        ).all()
        assert [(t.position, t.title) for t in tasks] == [
            (1, "Kick-off notes"),
            (2, "Findings report"),
            (3, "Read-out"),
        ]
        assert tasks[1].description == "Scored, prioritised."
        assert all(t.done_at is None for t in tasks)


def test_the_engagement_list_links_each_row_to_its_page(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.engagement(tenant_a)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert f'href="/engagements/{engagement_id}"'.encode() in client.get("/engagements").data


def test_the_page_shows_state_progress_dates_intake_and_tasks(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, deliverables=DELIVERABLES)
        line = db.session.get(OrderLine, db.session.get(Engagement, engagement_id).order_line_id)
        line.intake_answers = [{"label": "Preferred start", "type": "date", "answer": "2030-01-15"}]
        db.session.commit()
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    page = client.get(f"/engagements/{engagement_id}")
    assert page.status_code == 200
    text = page.data.decode()
    assert 'data-testid="state">In progress<' in text
    assert "0 of 3 tasks" in text
    assert "Findings report" in text
    assert "Deliver by" in text
    assert "Preferred start" in text
    assert "2030-01-15" in text


def test_who_may_open_the_page(client, tenant_a, unscoped):
    """Delivery staff, the customer's people and those assigned: 200; everyone else 404."""
    with unscoped():
        engagement_id = factories.working(tenant_a, roles=(Role.CONSULTANT,))
    url = f"/engagements/{engagement_id}"
    seeing = {Role.ADMIN, Role.CSM, Role.DELIVERY_MANAGER, Role.FINANCE, Role.CONSULTANT}
    seeing |= {Role.BUYER, Role.APPROVER, Role.VIEWER}
    for role in Role:
        sign_in(client, tenant_a.people[role])
        expected = 200 if role in seeing else 404
        assert client.get(url).status_code == expected, role
    for role, neighbour in tenant_a.neighbours.items():
        sign_in(client, neighbour)
        assert client.get(url).status_code == 404, role


def test_a_partner_consultant_opens_only_engagements_assigned_to_them(client, tenant_a, unscoped):
    with unscoped():
        theirs = factories.working(tenant_a, roles=(Role.PARTNER_CONSULTANT,))
        other = factories.working(tenant_a, roles=(Role.CONSULTANT,))
    sign_in(client, tenant_a.people[Role.PARTNER_CONSULTANT])
    assert client.get(f"/engagements/{theirs}").status_code == 200
    assert client.get(f"/engagements/{other}").status_code == 404
    listing = client.get("/engagements")
    assert listing.status_code == 200
    assert f'href="/engagements/{theirs}"'.encode() in listing.data
    assert f'href="/engagements/{other}"'.encode() not in listing.data
    sign_in(client, tenant_a.people[Role.PARTNER_MANAGER])
    assert client.get(f"/engagements/{theirs}").status_code == 200
    assert client.get(f"/engagements/{other}").status_code == 404


def test_late_and_due_soon_warnings(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a, state=EngagementState.SCHEDULED)
        engagement = db.session.get(Engagement, engagement_id)
        engagement.start_by = utcnow().date() - timedelta(days=10)
        db.session.commit()
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert b"Late to start" in client.get(f"/engagements/{engagement_id}").data
    with unscoped():
        engagement = db.session.get(Engagement, engagement_id)
        engagement.start_by = utcnow().date()
        db.session.commit()
    page = client.get(f"/engagements/{engagement_id}").data
    assert b"Due soon: start by" in page
    assert b"Late to" not in page


def test_the_page_runs_the_same_number_of_queries_with_2_or_20_of_everything(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        engagement_id = factories.working(tenant_a, roles=(Role.CONSULTANT,))
        factories.fill(tenant_a, engagement_id, 2)
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])

    def statements() -> int:
        with count_queries() as counted:
            assert client.get(f"/engagements/{engagement_id}").status_code == 200
        return len(counted)

    few = statements()
    with unscoped():
        factories.fill(tenant_a, engagement_id, 18)
    assert statements() == few


def test_the_menu_shows_each_role_its_delivery_work(client, tenant_a):
    for role, shown, hidden in [
        (Role.CONSULTANT, ['href="/engagements"', 'href="/time"'], ['href="/time/approvals"']),
        (Role.PARTNER_CONSULTANT, ['href="/engagements"', 'href="/time"'], []),
        (Role.DELIVERY_MANAGER, ['href="/time/approvals"'], ['href="/time"']),
        (Role.BUYER, ['href="/engagements"'], ['href="/time"', 'href="/time/approvals"']),
    ]:
        sign_in(client, tenant_a.people[role])
        page = client.get("/engagements").data.decode()
        for link in shown:
            assert link in page, (role, link)
        for link in hidden:
            assert link not in page, (role, link)


def test_the_timeline_merges_updates_and_state_changes_newest_first(client, tenant_a, unscoped):
    from core import audit

    with unscoped():
        engagement_id = factories.working(tenant_a, state=EngagementState.SCHEDULED)
        audit.record("engagement.allocated", db.session.get(Engagement, engagement_id))
        db.session.commit()
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    client.post(f"/engagements/{engagement_id}/start")
    client.post(
        f"/engagements/{engagement_id}/updates",
        data={"body": "Workshop booked", "visibility": "customer"},
    )
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    client.post(f"/engagements/{engagement_id}/hold", data={"hold-reason": "Customer away"})
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/engagements/{engagement_id}").data.decode()
    timeline = page[page.index('data-testid="timeline"') :]
    order = [timeline.index(text) for text in ("On hold: Customer away", "Workshop booked")]
    assert order == sorted(order)
    assert timeline.index("Workshop booked") < timeline.index("In progress")
    assert timeline.count("Requested") == 1


def test_every_order_link_on_the_engagement_and_the_list_opens(client, tenant_a, unscoped):
    """Those who deliver see the order's reference as text: the order page is not theirs."""
    with unscoped():
        engagement_id = factories.working(tenant_a, roles=(Role.CONSULTANT,))
        order_id = db.session.scalar(
            select(OrderLine.order_id)
            .join(Engagement, Engagement.order_line_id == OrderLine.id)
            .where(Engagement.id == engagement_id)
        )
    link = f'href="/orders/{order_id}"'
    for role in (Role.DELIVERY_MANAGER, Role.FINANCE, Role.BUYER, Role.VIEWER, Role.CONSULTANT):
        sign_in(client, tenant_a.people[role])
        pages = [client.get(f"/engagements/{engagement_id}"), client.get("/engagements")]
        linked = [link in page.data.decode() for page in pages]
        opens = client.get(f"/orders/{order_id}").status_code == 200
        assert linked == [opens, opens], role
        assert opens == (role is not Role.CONSULTANT), role
