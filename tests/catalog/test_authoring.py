"""Servlet authoring: drafts, publishing freezes a version, next drafts, retire, duplicate,
history, preview, and the form refusing bad input with messages (never a 500)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from catalog import servlets
from catalog.content import ServletContent
from catalog.models import FrozenVersion, Servlet, ServletVersion, VersionState
from core.audit import AuditEvent
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.catalog import factories
from tests.conftest import sign_in


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "title": "CRM Health Check",
        "kind": "health_check",
        "stage": "adoption",
        "outcome": "A scored review of your CRM with a prioritised fix list.",
        "summary": "Five days, remote.",
        "description": "## Steps",
        "prerequisites": "Admin account\nProject lead",
        "in_scope": "One tenant",
        "out_of_scope": "Custom code",
        "deliverables-0-position": "1",
        "deliverables-0-title": "Findings report",
        "deliverables-0-description": "Scored.",
        "deliverables-1-position": "2",
        "deliverables-1-title": "Read-out session",
        "deliverables-1-description": "",
        "constraints": "Business hours",
        "delivery_mode": "remote",
        "duration_days": "5",
        "effort_hours": "24",
        "required_skills": "CRM administration",
        "price": "5000",
        "currency": "USD",
        "delivery_cost": "2000",
        "billing_policy": "prepaid",
        "start_within_days": "5",
        "deliver_within_days": "5",
        "csat_target": "4.5",
        "intake_questions-0-position": "1",
        "intake_questions-0-label": "Preferred start date",
        "intake_questions-0-type": "date",
        "intake_questions-0-required": "y",
        "intake_questions-0-choices": "",
    }
    data.update(overrides)
    return data


def versions_of(servlet_id: int) -> list[ServletVersion]:
    return list(
        db.session.scalars(
            select(ServletVersion)
            .where(ServletVersion.servlet_id == servlet_id)
            .order_by(ServletVersion.number)
        )
    )


def servlet_count() -> int:
    return db.session.scalar(select(func.count(Servlet.id)))


def test_admin_creates_a_draft_with_every_field_from_the_form(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = client.post("/admin/servlets/new", data=form_data())
    assert response.status_code == 302
    with unscoped():
        servlet = db.session.scalar(select(Servlet))
        [draft] = versions_of(servlet.id)
        assert servlet.slug == "crm-health-check"
        assert draft.state == VersionState.DRAFT
        assert draft.price == Money(500_000, "USD")
        assert draft.prerequisites == ["Admin account", "Project lead"]
        assert [d["title"] for d in draft.deliverables] == ["Findings report", "Read-out session"]
        assert draft.intake_questions == [
            {"label": "Preferred start date", "type": "date", "required": True, "choices": []}
        ]
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "servlet.created"))


def test_deliverables_are_reordered_by_position_and_ticked_rows_removed(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    data = form_data(
        **{
            "deliverables-0-position": "3",
            "deliverables-1-position": "1",
            "deliverables-2-position": "2",
            "deliverables-2-title": "Workshop",
            "deliverables-3-title": "Dropped",
            "deliverables-3-remove": "y",
            "deliverables-4-title": "",
        }
    )
    assert client.post("/admin/servlets/new", data=data).status_code == 302
    with unscoped():
        [draft] = db.session.scalars(select(ServletVersion)).all()
        titles = [d["title"] for d in draft.deliverables]
    assert titles == ["Read-out session", "Workshop", "Findings report"]


def test_add_more_rows_redisplays_the_form_without_saving(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = client.post("/admin/servlets/new", data={**form_data(), "add_rows": "Add"})
    assert response.status_code == 200
    assert b'name="deliverables-4-title"' in response.data
    with unscoped():
        assert servlet_count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "-5", b"cannot be negative"),
        ("price", "99999999999", b"at most 10,000,000"),
        ("price", "12.345", b"at most 2 decimals"),
        ("price", "twelve", b"Enter an amount"),
        ("price", "1e400", b"Enter an amount"),  # no exponents: 1e999999 would overflow
        ("duration_days", "0", b"Duration"),
        ("duration_days", "100000000000000000000", b"Duration"),
        ("effort_hours", "-3", b"Effort"),
        ("csat_target", "9", b"CSAT"),
        ("title", "ü" * 500, b"Title"),
        ("intake_questions-0-type", "choice", b"at least two choices"),
        ("deliverables-0-title", "", b""),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_saved(
    client, tenant_a, unscoped, field, value, message
):
    sign_in(client, tenant_a.people[Role.ADMIN])
    data = form_data(**{field: value})
    if field == "deliverables-0-title":
        data["deliverables-1-title"] = ""
        message = b"at least one deliverable"
    response = client.post("/admin/servlets/new", data=data)
    assert response.status_code == 200
    assert message in response.data
    with unscoped():
        assert servlet_count() == 0


def test_publishing_freezes_the_version_and_editing_creates_the_next_draft(app, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.servlet(tenant_a, title="SSO Deployment")
        servlet = db.session.get(Servlet, servlet_id)
        [published] = versions_of(servlet_id)
        assert published.state == VersionState.PUBLISHED
        with pytest.raises(FrozenVersion):
            published.title = "Changed behind the service's back"
        db.session.rollback()

        new_content = ServletContent.of(published).copy(price=Money(700_000, "USD"))
        draft = servlets.save_draft(factories.actor(tenant_a), servlet, new_content)
        assert draft.number == 2
        servlets.publish_servlet(factories.actor(tenant_a), db.session.get(Servlet, servlet_id))
        first, second = versions_of(servlet_id)
        assert (first.state, first.price) == (VersionState.SUPERSEDED, Money(500_000, "USD"))
        assert (second.state, second.price) == (VersionState.PUBLISHED, Money(700_000, "USD"))
        with pytest.raises(FrozenVersion):
            first.price_minor = 1


def test_editing_through_the_page_leaves_the_published_version_untouched(
    client, tenant_a, unscoped
):
    with unscoped():
        servlet_id = factories.servlet(tenant_a, title="SSO Deployment")
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get(f"/admin/servlets/{servlet_id}/edit")
    assert b"Saving creates draft version 2" in page.data
    data = form_data(title="SSO Deployment (Okta)")
    assert client.post(f"/admin/servlets/{servlet_id}/edit", data=data).status_code == 302
    with unscoped():
        first, second = versions_of(servlet_id)
        assert (first.title, first.state) == ("SSO Deployment", VersionState.PUBLISHED)
        assert (second.title, second.state) == ("SSO Deployment (Okta)", VersionState.DRAFT)
    history = client.get(f"/admin/servlets/{servlet_id}/history")
    assert b"SSO Deployment (Okta)" in history.data
    assert b"Deliverables" in history.data


def test_publish_retire_reinstate_discard_and_duplicate_through_the_pages(
    client, tenant_a, unscoped
):
    with unscoped():
        servlet_id = factories.servlet(tenant_a, publish=False, title="Admin Bootcamp")
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.post(f"/admin/servlets/{servlet_id}/publish").status_code == 302
    client.post(f"/admin/servlets/{servlet_id}/edit", data=form_data(title="Bootcamp v2"))
    client.post(f"/admin/servlets/{servlet_id}/discard")
    client.post(f"/admin/servlets/{servlet_id}/retire")
    page = client.get(f"/admin/servlets/{servlet_id}")
    assert b"Retired" in page.data
    client.post(f"/admin/servlets/{servlet_id}/reinstate")
    copy = client.post(f"/admin/servlets/{servlet_id}/duplicate")
    assert copy.status_code == 302
    with unscoped():
        assert [v.state for v in versions_of(servlet_id)] == [VersionState.PUBLISHED]
        assert db.session.get(Servlet, servlet_id).retired_at is None
        titles = db.session.scalars(select(ServletVersion.title).order_by(ServletVersion.id))
        assert list(titles) == ["Admin Bootcamp", "Copy of Admin Bootcamp"]
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {
        "servlet.published",
        "servlet.draft_started",
        "servlet.draft_discarded",
        "servlet.retired",
        "servlet.reinstated",
        "servlet.duplicated",
    } <= actions


def test_refusals_come_with_a_reason(app, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.servlet(tenant_a)
        servlet = db.session.get(Servlet, servlet_id)
        with pytest.raises(InvalidTransition, match="no draft"):
            servlets.publish_servlet(factories.actor(tenant_a), servlet)
        servlets.retire_servlet(factories.actor(tenant_a), servlet)
        with pytest.raises(InvalidTransition, match="already retired"):
            servlets.retire_servlet(factories.actor(tenant_a), db.session.get(Servlet, servlet_id))
        with pytest.raises(NotAllowed):
            servlets.create_servlet(factories.actor(tenant_a, Role.CSM), factories.content())
        with pytest.raises(ServiceError, match="Duration"):
            servlets.create_servlet(factories.actor(tenant_a), factories.content(duration_days=0))


def test_preview_shows_the_draft_as_customers_will_see_it(client, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.servlet(tenant_a, publish=False, title="Draft Servlet")
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get(f"/admin/servlets/{servlet_id}/preview")
    assert page.status_code == 200
    assert b"Draft Servlet" in page.data
    assert b"Starts within <strong>5</strong> business days" in page.data
    sign_in(client, tenant_a.people[Role.BUYER])
    assert client.get(f"/admin/servlets/{servlet_id}/preview").status_code == 404


def test_script_tags_and_javascript_links_in_markdown_are_rendered_inert(
    client, tenant_a, unscoped
):
    hostile = (
        "<script>alert('x')</script>\n\n[click](javascript:alert(1)) "
        '<a href="javascript:alert(2)">raw</a> <img src=x onerror=alert(3)> [ok](https://example.com)'
    )
    with unscoped():
        servlet_id, _ = factories.shop(tenant_a, description=hostile)
    sign_in(client, tenant_a.people[Role.BUYER])
    page = client.get(f"/catalog/servlets/{servlet_id}").data.decode()
    assert "<script>alert" not in page
    assert '<a href="javascript:' not in page
    assert "<img" not in page
    assert 'href="https://example.com"' in page
