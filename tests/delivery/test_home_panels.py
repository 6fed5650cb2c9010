"""Delivery panels on role homes tell the truth: late engagements and time to approve for the
delivery manager, assignments and time waiting for those who deliver, engagements to staff
for a partner manager; each figure counts the rows it stands for."""

from __future__ import annotations

import re
from datetime import timedelta

from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from delivery.models import EngagementState, Resource, TimeEntryState
from tests.conftest import sign_in
from tests.delivery import kpi_world
from tests.delivery.kpi_world import assign, engagement, log
from tests.test_role_homes import figures, panel, says_nothing_waits

_E = EngagementState


def home(client, person) -> str:
    sign_in(client, person)
    response = client.get("/")
    assert response.status_code == 200
    return response.data.decode()


def rows(section: str) -> int:
    return section.count("list-group-item")


def own_resource(tenant, role: Role) -> int:
    """The tenant's person in ``role`` as a resource (partner consultants: the partner's)."""
    person = tenant.people[role]
    row = Resource(
        vendor_id=tenant.vendor_id,
        membership_id=person.membership_id,
        partner_id=tenant.partner_id if role is Role.PARTNER_CONSULTANT else None,
        skills=[],
    )
    db.session.add(row)
    db.session.flush()
    return row.id


def test_the_delivery_manager_sees_what_is_late_and_the_time_to_approve(client, tenant_a, unscoped):
    today = utcnow().date()
    past, future = today - timedelta(days=3), today + timedelta(days=30)
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=1)
        line = w.lines[0]
        for state in (_E.REQUESTED, _E.SCHEDULED):  # not started by start_by
            engagement(w, line, state=state, start_by=past, deliver_by=future)
        engagement(w, line, state=_E.IN_PROGRESS, start_by=past, deliver_by=past)  # late
        engagement(w, line, state=_E.REQUESTED, start_by=past, deliver_by=past)  # both
        on_time = engagement(w, line, state=_E.IN_PROGRESS, start_by=past, deliver_by=future)
        engagement(w, line, state=_E.DELIVERED, start_by=past, deliver_by=past)  # done
        engagement(w, line, state=_E.CANCELLED, start_by=past, deliver_by=past)
        for hours in ("2", "3.5"):
            log(w, on_time, w.consultants[0], today, hours, 0, TimeEntryState.SUBMITTED)
        log(w, on_time, w.consultants[0], today, "8", 0)
        db.session.commit()
    page = home(client, tenant_a.people[Role.DELIVERY_MANAGER])
    late = panel(page, "late")
    assert figures(late) == {
        "Not started by their start date": "3",
        "Not delivered by their due date": "2",
    }
    assert rows(late) == 4
    assert "/engagements/" in late
    for kind, shown in (("start", 3), ("deliver", 2)):
        assert f'href="/engagements?late={kind}"' in late
        listing = client.get(f"/engagements?late={kind}").data.decode()
        assert len(re.findall(r'href="/engagements/\d+"', listing)) == shown, kind
        csv_rows = client.get(f"/engagements/export.csv?late={kind}").data.decode().splitlines()
        assert len(csv_rows) == 1 + shown, kind
    approvals = panel(page, "time-approvals")
    assert figures(approvals) == {"Entries waiting": "2", "Hours waiting": "5.5"}
    assert rows(approvals) == 2


def test_nothing_late_and_no_time_says_so(client, tenant_a, unscoped):
    page = home(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert says_nothing_waits(panel(page, "late"))
    assert says_nothing_waits(panel(page, "time-approvals"))
    assert figures(panel(page, "late"))["Not started by their start date"] == "0"


def test_those_who_deliver_see_their_assignments_and_their_time(client, tenant_a, unscoped):
    today = utcnow().date()
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=1)
        line = w.lines[0]
        mine = own_resource(tenant_a, Role.CONSULTANT)
        theirs = own_resource(tenant_a, Role.PARTNER_CONSULTANT)
        started = engagement(w, line, state=_E.IN_PROGRESS)
        waiting = engagement(w, line, state=_E.SCHEDULED)
        finished = engagement(w, line, state=_E.ACCEPTED)
        someone_elses = engagement(w, line, state=_E.IN_PROGRESS)
        for e in (started, waiting, finished):
            assign(w, e, mine, None)
        assign(w, someone_elses, w.consultants[0], None)
        assign(w, started, theirs, tenant_a.partner_id)
        log(w, started, mine, today, "4", 0, TimeEntryState.SUBMITTED)
        log(w, started, mine, today, "3", 0)
        log(w, someone_elses, w.consultants[0], today, "6", 0, TimeEntryState.SUBMITTED)
        db.session.commit()

    page = home(client, tenant_a.people[Role.CONSULTANT])
    assignments = panel(page, "assignments")
    assert figures(assignments) == {"Open": "2", "In progress": "1"}
    assert rows(assignments) == 2
    assert "start by" in assignments
    assert "deliver by" in assignments
    time = panel(page, "my-time")
    assert figures(time) == {"Entries waiting": "1", "Hours waiting": "4"}

    page = home(client, tenant_a.people[Role.PARTNER_CONSULTANT])
    assert figures(panel(page, "assignments")) == {"Open": "1", "In progress": "1"}
    assert says_nothing_waits(panel(page, "my-time"))


def test_a_partner_manager_sees_engagements_waiting_for_a_consultant(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        w = kpi_world.world(tenant_a, servlets=1)
        line = w.lines[0]
        unnamed = engagement(w, line, state=_E.SCHEDULED)
        named = engagement(w, line, state=_E.IN_PROGRESS)
        done = engagement(w, line, state=_E.ACCEPTED)
        another_partner = engagement(w, line, state=_E.SCHEDULED)
        assign(w, unnamed, None, tenant_a.partner_id)
        assign(w, named, w.partner_consultants[0], tenant_a.partner_id)
        assign(w, done, None, tenant_a.partner_id)
        assign(w, another_partner, None, w.partners[1])
        db.session.commit()
    section = panel(home(client, tenant_a.people[Role.PARTNER_MANAGER]), "partner-engagements")
    assert figures(section) == {"Waiting for a consultant": "1", "Open": "2"}
    assert rows(section) == 1
    other = panel(home(client, tenant_b.people[Role.PARTNER_MANAGER]), "partner-engagements")
    assert says_nothing_waits(other)
    assert figures(other) == {"Waiting for a consultant": "0", "Open": "0"}
