"""Success plans: progress, validation, who writes and who reads (the owning CSM and admins
write, every CSM reads, the customer's own people read theirs and nobody else's), the audit
of every change and the account page's section."""

from __future__ import annotations

import math
from datetime import date

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, Role
from success import plans
from success.models import SuccessSettings
from success.plan_models import SuccessGoal, SuccessPlan
from tests.catalog import factories as catalog_factories
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.success.factories import VENDOR_OTHERS_AND_PARTNERS

GOAL = {
    "title": "Grow weekly active users",
    "measure": "Weekly active users",
    "unit": "users",
    "baseline": "100",
    "target": "300",
    "current": "200",
}


def own(tenant) -> None:
    db.session.get(Organization, tenant.customer_id).csm_id = tenant.people[Role.CSM].membership_id
    db.session.commit()


def this_quarter() -> date:
    return plans.quarter_start(utcnow().date())


def values(**overrides) -> plans.GoalValues:
    fields = {
        "title": "Adoption",
        "measure": "Users",
        "unit": "",
        "baseline": 0.0,
        "target": 10.0,
        "current": 5.0,
        **overrides,
    }
    return plans.GoalValues(**fields)


def make_plan(tenant, goals: int = 1) -> int:
    admin = actor(tenant)
    customer = db.session.get(Organization, tenant.customer_id)
    plan = plans.start_plan(admin, customer, this_quarter(), "Roll out to every team.")
    plan_id = plan.id
    for n in range(goals):
        plans.add_goal(admin, db.session.get(SuccessPlan, plan_id), values(title=f"Goal {n + 1}"))
    return plan_id


def events(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


# --- progress ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "target", "current", "expected"),
    [
        (100, 300, 200, 0.5),
        (100, 300, 400, 1.0),  # beyond the target: reached, not more
        (100, 300, 50, 0.0),  # below the baseline: not started, not negative
        (60, 25, 41, 19 / 35),  # a goal that aims down: fewer tickets
        (0, 10, 10, 1.0),
    ],
)
def test_a_goals_progress_runs_from_baseline_to_target_clamped(baseline, target, current, expected):
    goal = SuccessGoal(baseline=baseline, target=target, current=current)
    assert math.isclose(plans.goal_progress(goal), expected)


def test_a_plans_progress_is_the_mean_of_its_goals():
    goals = [
        SuccessGoal(baseline=0, target=10, current=5),
        SuccessGoal(baseline=0, target=10, current=20),
        SuccessGoal(baseline=10, target=0, current=10),
    ]
    assert math.isclose(plans.plan_progress(goals), 0.5)
    assert plans.plan_progress([]) is None
    assert plans.percent(plans.plan_progress(goals)) == 50


def test_quarters_are_named_and_parsed_from_their_first_day():
    assert plans.quarter_start(date(2026, 5, 17)) == date(2026, 4, 1)
    assert plans.quarter_end(date(2026, 10, 1)) == date(2026, 12, 31)
    assert plans.shift_quarters(date(2026, 1, 1), -1) == date(2025, 10, 1)
    assert plans.quarter_label(date(2026, 4, 1)) == "Q2 2026"
    assert plans.parse_quarter("2026-Q3") == date(2026, 7, 1)
    assert plans.parse_quarter("2026-Q5") is None
    assert plans.parse_quarter("99999-Q1") is None


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": "   "}, "Title: required."),
        ({"measure": ""}, "Measure: required."),
        ({"title": "x" * 201}, "Title: at most 200 characters."),
        ({"baseline": 10.0, "target": 10.0}, "Target: must differ from the baseline"),
        ({"target": None}, "Target: required."),
        ({"target": math.nan}, "Target: a number between"),
        ({"current": math.inf}, "Current: a number between"),
        ({"baseline": -1e13}, "Baseline: a number between"),
        ({"servlet_ids": list(range(1, 12))}, "Servlets: at most 10 per goal."),
    ],
)
def test_a_goal_is_refused_with_a_reason(tenant_a, unscoped, overrides, message):
    with unscoped():
        plan_id = make_plan(tenant_a, goals=0)
        with pytest.raises(ServiceError, match=message):
            plans.add_goal(
                actor(tenant_a), db.session.get(SuccessPlan, plan_id), values(**overrides)
            )
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(SuccessGoal)) == 0


def test_a_goal_serves_only_the_vendors_own_servlets_and_a_plan_holds_twelve_goals(
    tenant_a, tenant_b, unscoped
):
    with unscoped():
        mine = catalog_factories.servlet(tenant_a)
        theirs = catalog_factories.servlet(tenant_b)
        plan_id = make_plan(tenant_a, goals=0)
        plan = db.session.get(SuccessPlan, plan_id)
        with pytest.raises(ServiceError, match="choose from your own servlets"):
            plans.add_goal(actor(tenant_a), plan, values(servlet_ids=[mine, theirs]))
        db.session.rollback()
        for n in range(plans.MAX_GOALS):
            plans.add_goal(
                actor(tenant_a),
                db.session.get(SuccessPlan, plan_id),
                values(title=f"Goal {n}", servlet_ids=[mine]),
            )
        with pytest.raises(ServiceError, match="at most 12 goals"):
            plans.add_goal(actor(tenant_a), db.session.get(SuccessPlan, plan_id), values())
        db.session.rollback()
        with pytest.raises(ServiceError, match="has a goal “Goal 3” already"):
            plans.add_goal(
                actor(tenant_a), db.session.get(SuccessPlan, plan_id), values(title="goal 3")
            )
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(SuccessGoal)) == 12


def test_a_plan_starts_on_a_quarter_within_reach_and_only_an_editor_starts_it(tenant_a, unscoped):
    with unscoped():
        customer = db.session.get(Organization, tenant_a.customer_id)
        with pytest.raises(ServiceError, match="first day of a quarter"):
            plans.start_plan(actor(tenant_a), customer, date(2026, 2, 3))
        with pytest.raises(ServiceError, match="Quarter: from"):
            plans.start_plan(actor(tenant_a), customer, date(2000, 1, 1))
        with pytest.raises(NotAllowed):  # a CSM who does not own the account
            plans.start_plan(actor(tenant_a, Role.CSM), customer, this_quarter())
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        with pytest.raises(ServiceError, match="customers only"):
            plans.start_plan(actor(tenant_a), vendor, this_quarter())


# --- the pages ---------------------------------------------------------------------------


def test_the_owning_csm_writes_a_plan_and_every_change_is_audited(client, tenant_a, unscoped):
    with unscoped():
        own(tenant_a)
        servlet_id = catalog_factories.servlet(tenant_a, title="SSO Rollout")
    sign_in(client, tenant_a.people[Role.CSM])
    quarter = plans.quarter_key(this_quarter())
    start = f"/accounts/{tenant_a.customer_id}/success-plans"
    first = client.post(start, data={"quarter": quarter})
    second = client.post(start, data={"quarter": quarter})  # a double click: one plan
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    with unscoped():
        plan_id = db.session.scalar(select(SuccessPlan.id))
        assert db.session.scalar(select(func.count()).select_from(SuccessPlan)) == 1
    for _ in range(2):  # a double click: one goal
        added = client.post(
            f"/success-plans/{plan_id}/goals", data={**GOAL, "servlet_ids": [str(servlet_id)]}
        )
        assert added.status_code == 302
    client.post(f"/success-plans/{plan_id}/summary", data={"summary": "Every team on SSO."})
    page = client.get(f"/success-plans/{plan_id}").get_data(as_text=True)
    assert "Grow weekly active users" in page
    assert "Weekly active users: 100 → 300 users, now 200" in page
    assert "50 %" in page
    assert "SSO Rollout" in page
    assert "Every team on SSO." in page
    with unscoped():
        goal_id = db.session.scalar(select(SuccessGoal.id))
    edited = client.post(f"/success-goals/{goal_id}/edit", data={**GOAL, "current": "300"})
    assert edited.status_code == 302
    assert "100 %" in client.get(f"/success-plans/{plan_id}").get_data(as_text=True)
    confirm = client.get(f"/success-goals/{goal_id}/delete")
    assert confirm.status_code == 200
    assert "Delete goal “Grow weekly active users”?" in confirm.get_data(as_text=True)
    assert client.post(f"/success-goals/{goal_id}/delete").status_code == 302
    page = client.get(f"/success-plans/{plan_id}").get_data(as_text=True)
    assert 'data-testid="goal"' not in page
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(SuccessGoal)) == 0
        for action in (
            "success.plan_created",
            "success.goal_added",
            "success.plan_updated",
            "success.goal_updated",
            "success.goal_deleted",
        ):
            assert events(action) == 1, action


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({"target": "100"}, "Target: must differ from the baseline"),
        ({"target": "1e999"}, "Enter a plain number"),
        ({"target": "NaN"}, "Enter a plain number"),
        ({"current": "9999999999999"}, "digits before the decimal point"),
        ({"title": ""}, "This field is required."),
        ({"servlet_ids": ["999999"]}, "not a valid choice"),
    ],
)
def test_a_refused_goal_shows_why_and_keeps_what_was_typed(
    client, tenant_a, unscoped, typed, message
):
    with unscoped():
        plan_id = make_plan(tenant_a, goals=0)
    sign_in(client, tenant_a.people[Role.ADMIN])
    refused = client.post(f"/success-plans/{plan_id}/goals", data={**GOAL, **typed})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert message in page
    assert 'value="Weekly active users"' in page
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(SuccessGoal)) == 0


def test_another_csm_reads_the_plan_but_cannot_change_it(client, tenant_a, unscoped):
    with unscoped():
        plan_id = make_plan(tenant_a)
        goal_id = db.session.scalar(select(SuccessGoal.id))
    sign_in(client, tenant_a.people[Role.CSM])  # owns no account
    page = client.get(f"/success-plans/{plan_id}")
    assert page.status_code == 200
    assert 'data-testid="goal-form"' not in page.get_data(as_text=True)
    assert client.post(f"/success-plans/{plan_id}/goals", data=GOAL).status_code == 403
    assert client.post(f"/success-goals/{goal_id}/edit", data=GOAL).status_code == 403
    assert client.post(f"/success-goals/{goal_id}/delete").status_code == 403
    assert client.post(f"/success-plans/{plan_id}/summary", data={}).status_code == 403
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(SuccessGoal)) == 1


def test_a_csm_kept_to_their_own_accounts_gets_404_for_anothers_plan(client, tenant_a, unscoped):
    with unscoped():
        plan_id = make_plan(tenant_a)
        db.session.add(
            SuccessSettings(vendor_id=tenant_a.vendor_id, csms_see_own_accounts_only=True)
        )
        db.session.commit()
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.get(f"/success-plans/{plan_id}").status_code == 404
    assert client.get(f"/accounts/{tenant_a.customer_id}/success-plans").status_code == 404


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_the_customers_people_read_their_plan_and_nobody_elses(client, tenant_a, unscoped, role):
    with unscoped():
        plan_id = make_plan(tenant_a)
        goal_id = db.session.scalar(select(SuccessGoal.id))
    sign_in(client, tenant_a.people[role])
    listed = client.get("/success-plans")
    assert listed.status_code == 200
    assert f"/success-plans/{plan_id}" in listed.get_data(as_text=True)
    page = client.get(f"/success-plans/{plan_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Goal 1" in text
    assert "50 %" in text
    assert "goal-form" not in text
    assert "/edit" not in text
    # Read-only: every change and the vendor's pages answer 404.
    assert client.post(f"/success-plans/{plan_id}/goals", data=GOAL).status_code == 404
    assert client.post(f"/success-goals/{goal_id}/edit", data=GOAL).status_code == 404
    assert client.post(f"/success-goals/{goal_id}/delete").status_code == 404
    assert client.get(f"/accounts/{tenant_a.customer_id}/success-plans").status_code == 404
    # The neighbouring customer's people see nothing of it.
    sign_in(client, tenant_a.neighbours[role])
    assert client.get(f"/success-plans/{plan_id}").status_code == 404
    assert f"/success-plans/{plan_id}" not in client.get("/success-plans").get_data(as_text=True)


@pytest.mark.parametrize("role", VENDOR_OTHERS_AND_PARTNERS)
def test_nobody_else_reads_or_writes_plans(client, tenant_a, unscoped, role):
    with unscoped():
        plan_id = make_plan(tenant_a)
        goal_id = db.session.scalar(select(SuccessGoal.id))
    sign_in(client, tenant_a.people[role])
    for method, url in [
        ("GET", f"/success-plans/{plan_id}"),
        ("GET", f"/accounts/{tenant_a.customer_id}/success-plans"),
        ("POST", f"/accounts/{tenant_a.customer_id}/success-plans"),
        ("POST", f"/success-plans/{plan_id}/goals"),
        ("POST", f"/success-plans/{plan_id}/summary"),
        ("GET", f"/success-goals/{goal_id}/edit"),
        ("POST", f"/success-goals/{goal_id}/delete"),
    ]:
        assert client.open(url, method=method, data=GOAL).status_code == 404, url
    assert client.get("/success-plans").status_code == 403


def test_the_account_page_shows_this_quarters_plan_with_its_progress(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    empty = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert 'data-testid="account-plan"' in empty
    assert f"Start plan for {plans.quarter_label(this_quarter())}" in empty
    with unscoped():
        plan_id = make_plan(tenant_a, goals=2)
    page = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert f"/success-plans/{plan_id}" in page
    assert "Goal 2" in page
    assert "Edit plan" in page
    sign_in(client, tenant_a.people[Role.CSM])
    assert "Open plan" in client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)


def test_the_demo_writes_this_quarters_plan_and_asks_for_last_quarters_report(tenant_a, unscoped):
    from core.queue import QueuedJob
    from success import plan_demo
    from success.report_models import ValueReport

    with unscoped():
        servlet_id = catalog_factories.servlet(tenant_a)
        admin = tenant_a.people[Role.ADMIN]
        for _ in range(2):  # run twice, as a re-seed would: nothing doubles
            plan_demo.demo(
                tenant_a.vendor_id,
                admin.user_id,
                [tenant_a.customer_id],
                [servlet_id],
                utcnow().date(),
            )
        plan = plans.plan_of(tenant_a.customer_id, this_quarter())
        assert len(plan.goals) == 3
        assert [len(goal.servlets) for goal in plan.goals] == [1, 0, 0]
        assert db.session.scalar(select(func.count()).select_from(ValueReport)) == 1
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(QueuedJob)
                .where(QueuedJob.kind == "success.value_report")
            )
            == 1
        )
