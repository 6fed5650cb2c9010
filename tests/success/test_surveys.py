"""NPS surveys and follow-ups: each contact asked once per half-year, the token answer page
(bad token, answered twice, bad score), classification into follow-ups and reference
candidates, the answer as a signal, low CSAT, marking done, who may do what, query counts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.mail import OutboxEmail
from core.notifications import Notification
from core.permissions import Role
from delivery import acceptance
from delivery.models import Engagement, EngagementState
from delivery.signals import engagement_rated
from success import follow_ups, surveys
from success.models import ContactRole, CustomerAccount, KeyContact, SuccessSettings
from success.signal_models import SignalType, UsageSignal
from success.survey_models import FollowUpKind, FollowUpTask, NpsInvite
from tests import factories
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories

LINK = re.compile(r"https?://desk\.test/nps/(\S+)")


def account(customer_id: int, vendor_id: int) -> int:
    found = db.session.scalar(
        select(CustomerAccount.id).where(CustomerAccount.organization_id == customer_id)
    )
    if found is not None:
        return found
    made = CustomerAccount(vendor_id=vendor_id, organization_id=customer_id, currency="USD")
    db.session.add(made)
    db.session.flush()
    return made.id


def contact(tenant, role: ContactRole, name: str, email: str, customer_id=None, ended=False):
    db.session.add(
        KeyContact(
            vendor_id=tenant.vendor_id,
            account_id=account(customer_id or tenant.customer_id, tenant.vendor_id),
            role=role,
            name=name,
            email=email,
            since=date(2026, 1, 5),
            ended_at=utcnow() if ended else None,
        )
    )
    db.session.commit()


def own(tenant) -> None:
    customer = db.session.get(Organization, tenant.customer_id)
    customer.csm_id = tenant.people[Role.CSM].membership_id
    db.session.commit()


def tokens(recipient: str) -> list[str]:
    bodies = db.session.scalars(select(OutboxEmail.body).where(OutboxEmail.recipient == recipient))
    return [match.group(1) for body in bodies for match in LINK.finditer(body)]


def invited(tenant, unscoped, run_jobs, email: str = "ada@customer.example") -> str:
    """The tenant's customer with one sponsor, asked by the job: the link's token."""
    with unscoped():
        own(tenant)
        contact(tenant, ContactRole.EXECUTIVE_SPONSOR, "Ada Sponsor", email)
    run_jobs()
    with unscoped():
        return tokens(email)[0]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- inviting ----------------------------------------------------------------------------


def test_the_period_is_the_half_year():
    assert surveys.period_of(date(2026, 6, 30)) == "2026-H1"
    assert surveys.period_of(date(2026, 7, 1)) == "2026-H2"
    assert surveys.period_of(date(2027, 1, 1)) == "2027-H1"


def test_each_current_contact_is_asked_once_per_period(tenant_a, tenant_b, unscoped, run_jobs):
    with unscoped():
        contact(tenant_a, ContactRole.EXECUTIVE_SPONSOR, "Ada Sponsor", "ada@a.example")
        # The same person in two roles, typed differently: asked once.
        contact(tenant_a, ContactRole.ADMIN, "Ada Sponsor", " ADA@a.example ")
        contact(tenant_a, ContactRole.CHAMPION, "Old Champion", "old@a.example", ended=True)
        contact(tenant_a, ContactRole.BILLING, "No Email", "")
        contact(tenant_a, ContactRole.CHAMPION, "Nia Next", "nia@n.example", tenant_a.neighbour_id)
        contact(tenant_b, ContactRole.CHAMPION, "Bo Globex", "bo@b.example")
    run_jobs()
    run_jobs()  # a second run, as a second scheduler would: nobody is asked twice
    with unscoped():
        asked = db.session.scalars(select(OutboxEmail.recipient).order_by(OutboxEmail.id)).all()
        nps = [r for r in asked if r.endswith(("a.example", "n.example", "b.example"))]
        assert sorted(nps) == ["ada@a.example", "bo@b.example", "nia@n.example"]
        invites = db.session.scalars(select(NpsInvite).order_by(NpsInvite.id)).all()
        period = surveys.period_of(utcnow().date())
        assert {(i.vendor_id, i.email, i.period) for i in invites} == {
            (tenant_a.vendor_id, "ada@a.example", period),
            (tenant_a.vendor_id, "nia@n.example", period),
            (tenant_b.vendor_id, "bo@b.example", period),
        }
        body = db.session.scalar(
            select(OutboxEmail.body).where(OutboxEmail.recipient == "bo@b.example")
        )
        assert "Globex Systems" in body
        assert LINK.search(body)
        # The link's token is not stored: only its hash.
        assert all(i.token != LINK.search(body).group(1) for i in invites)
        # Inviting a contact already asked this period does nothing, whoever tries.
        due = surveys.DueContact(
            tenant_a.vendor_id, "Acme", tenant_a.customer_id, "C", None, "Ada", "ada@a.example"
        )
        assert surveys.invite(due, period) is None
        assert count(NpsInvite) == 3


def test_no_link_no_survey(app, tenant_a, unscoped):
    """Without a host for links (SERVER_NAME) the job asks nobody rather than mail a dead
    link."""
    app.config["SERVER_NAME"] = None
    with unscoped():
        contact(tenant_a, ContactRole.EXECUTIVE_SPONSOR, "Ada", "ada@a.example")
        assert surveys.send_nps_surveys() == 0
        assert count(NpsInvite) == 0


# --- answering ---------------------------------------------------------------------------


def test_a_detractor_opens_a_follow_up_for_the_owning_csm(client, tenant_a, unscoped, run_jobs):
    token = invited(tenant_a, unscoped, run_jobs)
    page = client.get(f"/nps/{token}")
    assert page.status_code == 200
    assert "How likely are you to recommend Acme Software" in page.get_data(as_text=True)
    answered = client.post(f"/nps/{token}", data={"score": "3", "comment": "Slow support."})
    assert answered.status_code == 200
    assert "Thank you for your answer" in answered.get_data(as_text=True)
    csm = tenant_a.people[Role.CSM]
    with unscoped():
        task = db.session.scalar(select(FollowUpTask))
        assert task.kind is FollowUpKind.DETRACTOR
        assert task.assignee_id == csm.membership_id
        assert task.due_on == utcnow().date() + timedelta(days=2)
        assert "NPS 3 of 10" in task.title
        assert "Slow support." in task.detail
        assert count(Notification, Notification.user_id == csm.user_id) == 1
        signal = db.session.scalar(
            select(UsageSignal.value)
            .join(SignalType, SignalType.id == UsageSignal.signal_type_id)
            .where(SignalType.key == "nps", UsageSignal.customer_id == tenant_a.customer_id)
        )
        assert signal == 3
        assert count(AuditEvent, AuditEvent.action == "success.nps_answered") == 1
    again = client.post(f"/nps/{token}", data={"score": "10"})
    assert again.status_code == 200
    assert "You answered this survey already" in again.get_data(as_text=True)
    assert "already" in client.get(f"/nps/{token}").get_data(as_text=True)
    with unscoped():
        assert db.session.scalar(select(NpsInvite.score)) == 3
        assert count(FollowUpTask) == 1


@pytest.mark.parametrize(
    ("score", "kind", "days"),
    [("7", FollowUpKind.PASSIVE, 14), ("8", FollowUpKind.PASSIVE, 14), ("9", None, 0)],
)
def test_passives_get_a_lighter_follow_up_and_promoters_none(
    client, tenant_a, unscoped, run_jobs, score, kind, days
):
    token = invited(tenant_a, unscoped, run_jobs)
    client.post(f"/nps/{token}", data={"score": score})
    with unscoped():
        task = db.session.scalar(select(FollowUpTask))
        if kind is None:
            assert task is None
        else:
            assert task.kind is kind
            assert task.due_on == utcnow().date() + timedelta(days=days)


def test_promoters_are_reference_candidates(client, tenant_a, tenant_b, unscoped, run_jobs):
    token = invited(tenant_a, unscoped, run_jobs)
    client.post(f"/nps/{token}", data={"score": "10", "comment": "Ask me anything."})
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get("/accounts/references").get_data(as_text=True)
    assert "Ada Sponsor" in page
    assert "ada@customer.example" in page
    assert "Ask me anything." in page
    assert "Acme Software Customer" in page
    sign_in(client, tenant_b.people[Role.ADMIN])
    assert "Ada Sponsor" not in client.get("/accounts/references").get_data(as_text=True)


@pytest.mark.parametrize("score", ["11", "-1", "abc", "", "3.5", "١"])
def test_a_bad_score_shows_the_form_again_with_a_message(
    client, tenant_a, unscoped, run_jobs, score
):
    token = invited(tenant_a, unscoped, run_jobs)
    refused = client.post(f"/nps/{token}", data={"score": score, "comment": "kept"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Choose a score from 0" in text
    assert "kept" in text
    with unscoped():
        assert db.session.scalar(select(NpsInvite.answered_at)) is None


def test_an_unknown_token_is_a_404(client, tenant_a, unscoped, run_jobs):
    token = invited(tenant_a, unscoped, run_jobs)
    for bad in (token[:-1], token.upper(), token + "x", "x" * 500):
        assert client.get(f"/nps/{bad}").status_code == 404
        assert client.post(f"/nps/{bad}", data={"score": "5"}).status_code == 404
    with unscoped():
        assert db.session.scalar(select(NpsInvite.answered_at)) is None


def test_the_signal_is_the_mean_of_the_days_answers(tenant_a, unscoped, run_jobs):
    with unscoped():
        contact(tenant_a, ContactRole.EXECUTIVE_SPONSOR, "Ada", "ada@a.example")
        contact(tenant_a, ContactRole.ADMIN, "Ben", "ben@a.example")
    run_jobs()
    with unscoped():
        surveys.answer(tokens("ada@a.example")[0], "4", "")
        surveys.answer(tokens("ben@a.example")[0], "10", "")
        values = db.session.scalars(select(UsageSignal.value)).all()
        assert values == [7.0]


# --- low CSAT ----------------------------------------------------------------------------


def test_a_low_csat_opens_one_follow_up(tenant_a, unscoped):
    with unscoped():
        own(tenant_a)
        engagement_id = delivery_factories.engagement(tenant_a)
        delivery_factories.put_in_state(engagement_id, EngagementState.ACCEPTED)
        engagement = db.session.get(Engagement, engagement_id)
        buyer = actor(tenant_a, Role.BUYER)
        acceptance.rate(buyer, engagement, acceptance.Rating(2, "Late and sloppy."))
        engagement_rated.send(db.session.get(Engagement, engagement_id))  # a replay
        db.session.commit()
        tasks = db.session.scalars(select(FollowUpTask)).all()
        assert [(t.kind, t.source) for t in tasks] == [
            (FollowUpKind.LOW_CSAT, f"csat:{engagement_id}")
        ]
        assert tasks[0].assignee_id == tenant_a.people[Role.CSM].membership_id
        assert "CSAT 2 of 5" in tasks[0].title
        assert tasks[0].detail == "Late and sloppy."
        fine = db.session.get(Engagement, engagement_id)
        fine.csat = 4
        engagement_rated.send(fine)
        db.session.rollback()
        assert count(FollowUpTask) == 1


# --- the follow-ups page -----------------------------------------------------------------


def task_on(tenant, customer_id=None, assignee=True, due=None, source=None) -> int:
    made = FollowUpTask(
        vendor_id=tenant.vendor_id,
        customer_id=customer_id or tenant.customer_id,
        assignee_id=tenant.people[Role.CSM].membership_id if assignee else None,
        kind=FollowUpKind.DETRACTOR,
        source=source or f"nps:{factories._serial.__next__()}",
        title="Call Ada Sponsor: NPS 3 of 10",
        due_on=due or utcnow().date() + timedelta(days=2),
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def test_a_csm_marks_a_follow_up_done_once(client, tenant_a, unscoped):
    with unscoped():
        own(tenant_a)
        later = task_on(tenant_a, due=utcnow().date() + timedelta(days=5))
        overdue = task_on(tenant_a, due=utcnow().date() - timedelta(days=1))
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get("/follow-ups").get_data(as_text=True)
    assert page.count('data-testid="follow-up-row"') == 2
    assert page.index("Overdue") < page.index(f"/follow-ups/{later}/done")
    empty = client.post(f"/follow-ups/{overdue}/done", data={"outcome": "  "})
    assert empty.status_code == 400
    assert "say what came of the follow-up." in empty.get_data(as_text=True)
    url = f"/follow-ups/{overdue}/done"
    assert client.post(url, data={"outcome": "Called; fixed their SSO."}).status_code == 302
    second = client.post(url, data={"outcome": "Clicked twice"}, follow_redirects=True)
    assert "marked done already" in second.get_data(as_text=True)
    with unscoped():
        task = db.session.get(FollowUpTask, overdue)
        assert task.outcome == "Called; fixed their SSO."
        assert task.done_by_id == tenant_a.people[Role.CSM].user_id
        assert count(AuditEvent, AuditEvent.action == "success.follow_up_done") == 1
    page = client.get("/follow-ups").get_data(as_text=True)
    assert page.count('data-testid="follow-up-row"') == 1
    done = client.get("/follow-ups?state=done").get_data(as_text=True)
    assert "Called; fixed their SSO." in done
    too_long = client.post(f"/follow-ups/{later}/done", data={"outcome": "x" * 1001})
    assert too_long.status_code == 400


def test_admins_see_every_follow_up_and_the_unassigned(client, tenant_a, unscoped):
    with unscoped():
        task_on(tenant_a, assignee=False)
        task_on(tenant_a)
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.get("/follow-ups").get_data(as_text=True).count("follow-up-row") == 2
    nobody = client.get("/follow-ups?who=unassigned").get_data(as_text=True)
    assert nobody.count("follow-up-row") == 1
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.get("/follow-ups").get_data(as_text=True).count("follow-up-row") == 1


def test_only_the_assignee_owner_or_an_admin_closes_a_task(client, tenant_a, unscoped):
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        other = factories.person(vendor, Role.CSM)
        unassigned = task_on(tenant_a, assignee=False)
    sign_in(client, other)
    url = f"/follow-ups/{unassigned}/done"
    assert client.post(url, data={"outcome": "Not mine"}).status_code == 403
    with unscoped():
        db.session.add(
            SuccessSettings(vendor_id=tenant_a.vendor_id, csms_see_own_accounts_only=True)
        )
        db.session.commit()
    assert client.post(url, data={"outcome": "Not mine"}).status_code == 404
    assert "follow-up-row" not in client.get("/follow-ups?who=all").get_data(as_text=True)
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.post(url, data={"outcome": "Admin closed it"}).status_code == 302


ROUTES = ("/follow-ups", "/accounts/references")


def test_role_matrix(client, tenant_a, unscoped, run_jobs):
    token = invited(tenant_a, unscoped, run_jobs)
    with unscoped():
        task_id = task_on(tenant_a)
    people = {**tenant_a.people, "neighbour": tenant_a.neighbours[Role.BUYER]}
    for role, person in people.items():
        sign_in(client, person)
        readers = role in (Role.ADMIN, Role.CSM)
        for route in ROUTES:
            assert client.get(route).status_code == (200 if readers else 403), (role, route)
        done = client.post(f"/follow-ups/{task_id}/done", data={"outcome": ""})
        assert done.status_code == (400 if readers else 404), role
        # The answer page is the token's: whoever holds the link, signed in or not.
        assert client.get(f"/nps/{token}").status_code == 200
    with client.session_transaction() as session:
        session.clear()
    assert client.get(f"/nps/{token}").status_code == 200
    assert client.get("/follow-ups").status_code in (302, 401)


# --- the account section and the home panel ----------------------------------------------


def answers_and_tasks(tenant, how_many: int) -> None:
    for n in range(how_many):
        serial = next(factories._serial)
        db.session.add(
            NpsInvite(
                vendor_id=tenant.vendor_id,
                customer_id=tenant.customer_id,
                name=f"Contact {n}",
                email=f"c{serial}@customer.example",
                period="2026-H2",
                token=f"hash-{serial}",
                answered_at=utcnow() - timedelta(hours=n),
                score=n % 11,
                comment=f"Comment {n}",
            )
        )
        task_on(tenant)
    db.session.commit()


def test_the_account_shows_answers_and_follow_ups_in_bounded_queries(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        own(tenant_a)
        answers_and_tasks(tenant_a, 1)
    sign_in(client, tenant_a.people[Role.CSM])
    url = f"/accounts/{tenant_a.customer_id}"
    client.get(url)
    with count_queries() as few:
        page = client.get(url).get_data(as_text=True)
    assert 'data-testid="account-surveys"' in page
    assert "Comment 0" in page
    with unscoped():
        answers_and_tasks(tenant_a, 12)
    with count_queries() as many:
        page = client.get(url).get_data(as_text=True)
    assert page.count('data-testid="nps-answer"') == 5
    assert page.count('data-testid="account-follow-up"') == 5
    assert len(many) == len(few)


def test_the_follow_ups_page_and_home_run_the_same_queries_with_more_data(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        own(tenant_a)
        task_on(tenant_a, due=utcnow().date() - timedelta(days=3))
    sign_in(client, tenant_a.people[Role.CSM])
    client.get("/follow-ups")
    with count_queries() as few:
        client.get("/follow-ups")
        home = client.get("/").get_data(as_text=True)
    assert 'data-testid="panel-follow-ups"' in home
    assert "Overdue since" in home
    with unscoped():
        for _ in range(10):
            task_on(tenant_a)
    with count_queries() as many:
        client.get("/follow-ups")
        client.get("/")
    assert len(many) == len(few)


def test_the_demo_records_a_detractor_a_passive_and_a_promoter(tenant_a, unscoped):
    from success import survey_demo

    with unscoped():
        own(tenant_a)
        account(tenant_a.neighbour_id, tenant_a.vendor_id)
        db.session.commit()
    with unscoped():
        survey_demo.demo(
            tenant_a.vendor_id, [tenant_a.customer_id, tenant_a.neighbour_id], utcnow().date()
        )
        scores = sorted(
            db.session.scalars(select(NpsInvite.score).where(NpsInvite.score.is_not(None)))
        )
        assert {surveys.category(s) for s in scores} == set(surveys.NpsCategory)
        kinds = set(db.session.scalars(select(FollowUpTask.kind)))
        assert kinds == {FollowUpKind.DETRACTOR, FollowUpKind.PASSIVE}
        assert follow_ups.DUE_IN_DAYS[FollowUpKind.DETRACTOR] == 2


def test_another_vendor_gets_404_on_a_follow_up(client, tenant_a, tenant_b, unscoped):
    from tests.tenant_objects import ID_BUILDERS

    with unscoped():
        task_id = ID_BUILDERS["follow_up_task_id"](tenant_a)
    for role in (Role.ADMIN, Role.CSM, Role.BUYER):
        sign_in(client, tenant_b.people[role])
        url = f"/follow-ups/{task_id}/done"
        assert client.post(url, data={"outcome": "Not yours"}).status_code == 404
    with unscoped():
        assert db.session.get(FollowUpTask, task_id).done_at is None
