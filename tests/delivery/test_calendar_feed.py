"""The consultant's private calendar feed: made on their page, shown once, read by URL
without signing in, dead once replaced or revoked."""

from __future__ import annotations

import re

from icalendar import Calendar
from sqlalchemy import select

from core.extensions import db
from core.permissions import Role
from delivery.models import EngagementState, Resource
from tests.conftest import sign_in
from tests.delivery import factories


def _feed_url(page: bytes) -> str:
    match = re.search(rb'value="https?://[^/"]+(/calendar/[^"]+\.ics)"', page)
    assert match, "the page shows the feed address"
    return match.group(1).decode()


def test_a_consultant_subscribes_to_their_assignments(client, tenant_a, unscoped):
    with unscoped():
        factories.working(tenant_a, roles=(Role.CONSULTANT,), title="SSO Health Check")
        factories.working(tenant_a, roles=(Role.PARTNER_CONSULTANT,), title="Partner Work")
        cancelled = factories.working(tenant_a, roles=(Role.CONSULTANT,), title="Dropped")
        factories.put_in_state(cancelled, EngagementState.CANCELLED)
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert b"Your feed is off" in client.get("/calendar").data
    made = client.post("/calendar/token")
    url = _feed_url(made.data)
    with unscoped():
        consultant = tenant_a.people[Role.CONSULTANT].membership_id
        stored = db.session.scalar(
            select(Resource.calendar_token_hash).where(Resource.membership_id == consultant)
        )
        assert stored
        assert url.split("/")[-1].removesuffix(".ics") not in stored  # only its hash
    assert b".ics" not in client.get("/calendar").data  # shown once
    anonymous = client.application.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    events = Calendar.from_ical(response.data).walk("VEVENT")
    summaries = [str(e["SUMMARY"]) for e in events]
    assert len(summaries) == 1
    assert "SSO Health Check" in summaries[0]
    assert summaries[0].startswith("E-")


def test_a_new_or_revoked_token_kills_the_old_address(client, tenant_a, unscoped):
    with unscoped():
        factories.working(tenant_a, roles=(Role.CONSULTANT,))
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    first = _feed_url(client.post("/calendar/token").data)
    second = _feed_url(client.post("/calendar/token").data)
    anonymous = client.application.test_client()
    assert anonymous.get(first).status_code == 404
    assert anonymous.get(second).status_code == 200
    assert client.post("/calendar/revoke").status_code == 302
    assert anonymous.get(second).status_code == 404
    assert anonymous.get("/calendar/not-a-token.ics").status_code == 404


def test_the_calendar_page_is_for_those_who_deliver(client, tenant_a, unscoped):
    for role in Role:
        sign_in(client, tenant_a.people[role])
        expected = 200 if role in (Role.CONSULTANT, Role.PARTNER_CONSULTANT) else 403
        assert client.get("/calendar").status_code == expected, role
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    page = client.get("/calendar").data
    assert b"not set up as a resource" in page
    refused = client.post("/calendar/token")
    assert refused.status_code == 302
    with unscoped():
        assert db.session.scalar(select(Resource.id)) is None
