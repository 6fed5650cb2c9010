"""Engagements through the API reach what the engagement pages show each role, and the work
done from partners' and consultants' own tooling goes through the page's services: only
those assigned (or the delivery manager) act, the state machine refuses with 409, values
are refused field by field, and a task changes only with its current ETag."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from delivery.models import Engagement, EngagementState, Task
from tests.api import answers, factories
from tests.delivery import factories as delivery_factories

E = EngagementState
WRITE = ("write:delivery",)


def _tokens(tenant, *roles: Role, scopes=WRITE) -> dict[Role, dict[str, str]]:
    return {role: factories.personal(tenant.people[role], scopes).headers for role in roles}


def test_each_role_reads_the_engagements_the_web_app_shows_it(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        ours = delivery_factories.working(tenant_a, E.SCHEDULED, roles=(Role.CONSULTANT,))
        partners = delivery_factories.working(
            tenant_a, E.IN_PROGRESS, roles=(Role.PARTNER_CONSULTANT,)
        )
        elsewhere = delivery_factories.engagement(tenant_b)
        people = (Role.CSM, Role.CONSULTANT, Role.PARTNER_CONSULTANT, Role.PARTNER_MANAGER)
        token = _tokens(tenant_a, *people, Role.BUYER, scopes=("read:delivery",))
        token[Role.FINANCE] = factories.personal(
            tenant_a.neighbours[Role.BUYER], ["read:delivery"]
        ).headers
        other = factories.personal(tenant_b.people[Role.ADMIN], ["read:delivery"]).headers

    def listed(role):
        return answers.ids(client.get("/api/v1/engagements", headers=token[role]))

    assert listed(Role.CSM) == [ours, partners]
    assert listed(Role.BUYER) == [ours, partners]
    assert listed(Role.CONSULTANT) == [ours]
    assert listed(Role.PARTNER_CONSULTANT) == [partners]
    assert listed(Role.PARTNER_MANAGER) == [partners]
    assert listed(Role.FINANCE) == []  # here: another customer's buyer
    assert answers.ids(client.get("/api/v1/engagements", headers=other)) == [elsewhere]
    for hidden in (ours, partners):
        assert client.get(f"/api/v1/engagements/{hidden}", headers=other).status_code == 404
    answers.problem(
        client.get(f"/api/v1/engagements/{ours}", headers=token[Role.PARTNER_MANAGER]), 404
    )

    staff = client.get(f"/api/v1/engagements/{ours}", headers=token[Role.CSM])
    assert staff.json["state"] == "scheduled"
    assert staff.json["customer"]["id"] == tenant_a.customer_id
    assert staff.json["tasks_total"] == len(staff.json["tasks"]) == 1
    assert staff.json["assignments"][0]["planned_hours"] == "16"
    assert staff.json["time"]["approved_cost"] == {"amount": 0, "currency": "USD"}
    assert staff.json["deliver_by"] >= staff.json["start_by"]
    assert staff.json["updated_at"].endswith("Z")
    customer = client.get(f"/api/v1/engagements/{ours}", headers=token[Role.BUYER]).json
    assert customer["assignments"][0]["planned_hours"] is None  # who delivers, never hours
    assert customer["time"] is None
    worker = client.get(f"/api/v1/engagements/{partners}", headers=token[Role.PARTNER_CONSULTANT])
    assert worker.json["customer"] is None  # as on the page: the vendor's business
    assert worker.json["time"]["approved_cost"] is None
    again = client.get(
        f"/api/v1/engagements/{ours}",
        headers={**token[Role.CSM], "If-None-Match": staff.headers["ETag"]},
    )
    assert again.status_code == 304


def test_the_list_filters_by_state_and_by_the_latest_state_stamp(client, tenant_a, unscoped):
    with unscoped():
        old = delivery_factories.engagement(tenant_a)
        fresh = delivery_factories.working(tenant_a, E.SCHEDULED)
        long_ago = utcnow() - timedelta(days=30)
        db.session.execute(
            update(Engagement).where(Engagement.id == old).values(requested_at=long_ago)
        )
        db.session.execute(
            update(Engagement).where(Engagement.id == fresh).values(scheduled_at=utcnow())
        )
        db.session.commit()
        csm = factories.personal(tenant_a.people[Role.CSM], ["read:delivery"]).headers
    since = (utcnow() - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    assert answers.ids(client.get(f"/api/v1/engagements?updated_since={since}", headers=csm)) == [
        fresh
    ]
    assert answers.ids(client.get("/api/v1/engagements?state=requested", headers=csm)) == [old]
    bad = client.get("/api/v1/engagements?state=late&updated_since=yesterday", headers=csm)
    parameters = {error["parameter"] for error in answers.problem(bad, 422)["errors"]}
    assert parameters == {"state", "updated_since"}


def test_an_assigned_consultant_starts_and_delivers_a_health_check(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivery_factories.working(tenant_a, E.SCHEDULED)
        delivery_factories.assign(tenant_a, engagement_id, Role.PARTNER_CONSULTANT)
        someone_else = delivery_factories.working(
            tenant_a, E.SCHEDULED, roles=(Role.PARTNER_CONSULTANT,)
        )
        token = _tokens(tenant_a, Role.CONSULTANT, Role.BUYER, Role.CSM, Role.PARTNER_MANAGER)
        reader = factories.personal(tenant_a.people[Role.CONSULTANT], ["read:delivery"]).headers
    url = f"/api/v1/engagements/{engagement_id}"

    refused = answers.problem(client.post(f"{url}/start", headers=reader), 403)
    assert "write:delivery" in refused["detail"]
    answers.problem(client.post(f"{url}/start", headers=token[Role.BUYER]), 403)
    answers.problem(client.post(f"{url}/start", headers=token[Role.CSM]), 403)
    answers.problem(
        client.post(f"/api/v1/engagements/{someone_else}/start", headers=token[Role.CONSULTANT]),
        404,  # not their assignment: out of their reach, as on the web
    )
    # The partner's manager reads the engagement (its partner is on it) but does not deliver.
    answers.problem(client.post(f"{url}/start", headers=token[Role.PARTNER_MANAGER]), 403)
    started = client.post(f"{url}/start", headers=token[Role.CONSULTANT])
    assert started.status_code == 200, started.get_data(as_text=True)
    assert started.json["state"] == "in_progress"
    assert started.json["started_at"].endswith("Z")
    again = answers.problem(client.post(f"{url}/start", headers=token[Role.CONSULTANT]), 409)
    assert "in progress" in again["detail"]

    deliver = f"{url}/deliver"
    headers = token[Role.CONSULTANT]
    answers.problem(client.post(deliver, json={}, headers=headers), 422, "#/note")
    answers.problem(
        client.post(deliver, json={"note": "x", "health_score": 101}, headers=headers),
        422,
        "#/health_score",
    )
    answers.problem(
        client.post(deliver, json={"note": "x", "colour": "red"}, headers=headers), 422, "#/colour"
    )
    # The service's own rule for a health check, pointed at the field it names.
    answers.problem(
        client.post(deliver, json={"note": "Report sent."}, headers=headers), 422, "#/health_score"
    )
    body = {"note": "Report sent.", "health_score": 72, "findings": "Two admins too many."}
    delivered = client.post(deliver, json=body, headers=headers)
    assert delivered.status_code == 200, delivered.get_data(as_text=True)
    assert delivered.json["state"] == "delivered"
    assert delivered.json["delivery"] == {
        "note": "Report sent.",
        "health_score": 72,
        "findings": "Two admins too many.",
    }
    answers.problem(client.post(deliver, json=body, headers=headers), 409)


def test_a_task_changes_only_with_its_current_etag(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivery_factories.working(tenant_a, E.IN_PROGRESS)
        other_engagement = delivery_factories.working(tenant_a, E.IN_PROGRESS)
        task_id, stranger = (
            db.session.scalar(select(Task.id).where(Task.engagement_id == e))
            for e in (engagement_id, other_engagement)
        )
        people = (Role.CONSULTANT, Role.PARTNER_CONSULTANT, Role.DELIVERY_MANAGER, Role.BUYER)
        token = _tokens(tenant_a, *people)
    url = f"/api/v1/engagements/{engagement_id}/tasks/{task_id}"
    consultant = token[Role.CONSULTANT]

    read = client.get(url, headers=consultant)
    assert read.json["done"] is False
    etag = read.headers["ETag"]
    answers.problem(client.patch(url, json={"done": True}, headers=consultant), 428)
    stale = {**consultant, "If-Match": '"0123"'}
    answers.problem(client.patch(url, json={"done": True}, headers=stale), 412)
    fresh = {**consultant, "If-Match": etag}
    answers.problem(client.patch(url, json={"done": "yes"}, headers=fresh), 422, "#/done")
    answers.problem(
        client.patch(
            url, json={"done": True}, headers={**token[Role.PARTNER_CONSULTANT], "If-Match": etag}
        ),
        404,  # not assigned to it
    )
    buyer = {**token[Role.BUYER], "If-Match": etag}
    answers.problem(client.patch(url, json={"done": True}, headers=buyer), 403)
    ticked = client.patch(url, json={"done": True}, headers=fresh)
    assert ticked.status_code == 200, ticked.get_data(as_text=True)
    assert ticked.json["done"] is True
    assert ticked.json["done_at"].endswith("Z")
    assert ticked.headers["ETag"] != etag
    answers.problem(
        client.patch(url, json={"done": False}, headers=fresh), 412
    )  # someone ticked it

    manager = {**token[Role.DELIVERY_MANAGER], "If-Match": ticked.headers["ETag"]}
    answers.problem(client.patch(url, json={"done": True}, headers=manager), 409)  # already done
    wrong = f"/api/v1/engagements/{engagement_id}/tasks/{stranger}"
    answers.problem(client.get(wrong, headers=consultant), 404)
    with unscoped():
        delivery_factories.put_in_state(engagement_id, E.DELIVERED)
    delivered = answers.problem(client.patch(url, json={"done": False}, headers=manager), 409)
    assert "scheduled or in progress" in delivered["detail"]


def test_time_is_logged_by_those_assigned_and_read_as_on_the_pages(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivery_factories.working(
            tenant_a, E.IN_PROGRESS, roles=(Role.CONSULTANT, Role.PARTNER_CONSULTANT)
        )
        people = (Role.CONSULTANT, Role.PARTNER_CONSULTANT, Role.DELIVERY_MANAGER, Role.CSM)
        token = _tokens(tenant_a, *people)
    url = f"/api/v1/engagements/{engagement_id}/time-entries"
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    consultant = token[Role.CONSULTANT]

    logged = client.post(
        url, json={"day": yesterday, "hours": 1.5, "note": "Kick-off"}, headers=consultant
    )
    assert logged.status_code == 201, logged.get_data(as_text=True)
    assert logged.json["hours"] == "1.5"
    assert logged.json["state"] == "submitted"
    partner = client.post(
        url, json={"day": yesterday, "hours": "2"}, headers=token[Role.PARTNER_CONSULTANT]
    )
    assert partner.status_code == 201
    answers.problem(
        client.post(url, json={"day": tomorrow, "hours": 1}, headers=consultant), 422, "#/day"
    )
    answers.problem(
        client.post(url, json={"day": yesterday, "hours": 23}, headers=consultant), 422, "#/hours"
    )
    for hours in ("1.234", "1e2", True, -1):
        answers.problem(
            client.post(url, json={"day": yesterday, "hours": hours}, headers=consultant),
            422,
            "#/hours",
        )
    answers.problem(
        client.post(url, json={"day": "2026-02-30", "hours": 1}, headers=consultant), 422, "#/day"
    )
    answers.problem(
        client.post(url, json={"day": yesterday, "hours": 1}, headers=token[Role.DELIVERY_MANAGER]),
        403,
    )

    assert answers.ids(client.get(url, headers=consultant)) == [logged.json["id"]]
    everyone = client.get(url, headers=token[Role.DELIVERY_MANAGER])
    assert answers.ids(everyone) == [logged.json["id"], partner.json["id"]]
    assert everyone.json["data"][0]["cost"] is None  # not approved yet
    answers.problem(client.get(url, headers=token[Role.CSM]), 403)

    with unscoped():
        delivery_factories.put_in_state(engagement_id, E.ACCEPTED)
    closed = answers.problem(
        client.post(url, json={"day": yesterday, "hours": 1}, headers=consultant), 409
    )
    assert "accepted" in closed["detail"]


def test_progress_updates_keep_internal_ones_from_the_customer(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = delivery_factories.working(tenant_a, E.IN_PROGRESS)
        token = _tokens(tenant_a, Role.CONSULTANT, Role.BUYER)
    url = f"/api/v1/engagements/{engagement_id}/updates"
    consultant = token[Role.CONSULTANT]

    shared = client.post(url, json={"body": "Workshop done."}, headers=consultant)
    assert shared.status_code == 201, shared.get_data(as_text=True)
    assert shared.json["visibility"] == "customer"
    internal = client.post(
        url, json={"body": "Their admin is slow.", "visibility": "internal"}, headers=consultant
    )
    assert internal.status_code == 201
    answers.problem(client.post(url, json={"body": "  "}, headers=consultant), 422, "#/body")
    answers.problem(client.post(url, json={"body": "Hi"}, headers=token[Role.BUYER]), 403)

    assert answers.ids(client.get(url, headers=consultant)) == [
        shared.json["id"],
        internal.json["id"],
    ]
    assert answers.ids(client.get(url, headers=token[Role.BUYER])) == [shared.json["id"]]
    with unscoped():
        delivery_factories.put_in_state(engagement_id, E.CANCELLED)
    answers.problem(client.post(url, json={"body": "Still here."}, headers=consultant), 409)
