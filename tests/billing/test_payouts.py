"""Partner payouts: the statement of a period holds exactly what each partner is owed, an
assignment is paid once (also when two finance users prepare at once), the partner's manager
sees its own final statements only, and the CSV and PDF say what the page says."""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from threading import Barrier

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from accounts.models import Organization
from billing import payouts
from billing.models import Payout, PayoutLine, PayoutState
from core.db import utcnow
from core.errors import InvalidTransition, ServiceError
from core.extensions import db
from core.permissions import Role
from core.templating import date_filter
from delivery.models import EngagementState
from tests.billing import factories
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories

START, END = date(2026, 3, 1), date(2026, 3, 31)
AFTER = date(2026, 4, 2)  # "today" for the services: the period has ended


def at(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def owed_engagement(tenant, when: datetime, fee: int = 150_000, partner_id: int | None = None):
    """(engagement id, assignment id) of a partner engagement accepted at ``when``."""
    [engagement_id] = factories.engagements(tenant, 1)
    assignment_id = factories.partner_assignment(tenant, engagement_id, fee, partner_id)
    factories.accept_at(engagement_id, when)
    return engagement_id, assignment_id


def lines_of(payout_id: int) -> set[tuple[int, int]]:
    return set(
        db.session.execute(
            select(PayoutLine.assignment_id, PayoutLine.fee_minor).where(
                PayoutLine.payout_id == payout_id
            )
        )
    )


def partner_name(tenant) -> str:
    return db.session.get(Organization, tenant.partner_id).name


def count(*criteria) -> int:
    return db.session.scalar(select(func.count()).where(*criteria))


def last_month_day(day: int = 10) -> datetime:
    start, _ = payouts.last_month(utcnow().date())
    return at(start.replace(day=day))


# --- what a statement holds --------------------------------------------------------------


def test_statements_hold_exactly_each_partners_accepted_engagements_of_the_period(
    app, tenant_a, unscoped
):
    rng = random.Random(2026)
    moments = [
        at(date(2026, 2, 28), 23, 59, 59),  # the day before: out
        at(START, 0, 0, 0),  # the first instant: in
        at(date(2026, 3, 14)),
        at(END, 23, 59, 59),  # the last instant: in
        at(date(2026, 4, 1), 0, 0, 0),  # the day after: out
    ]
    with unscoped():
        partners = [tenant_a.partner_id, factories.partner(tenant_a, "Bandicoot Consulting")]
        expected: dict[int, set[tuple[int, int]]] = defaultdict(set)
        for engagement_id in factories.engagements(tenant_a, 14):
            accepted, when = rng.random() < 0.8, rng.choice(moments)
            assignments = [
                (rng.choice(partners), rng.choice([0, 80_000, 150_000]))
                for _ in range(rng.randint(0, 2))
            ]
            for partner_id, fee in assignments:
                assignment_id = factories.partner_assignment(
                    tenant_a, engagement_id, fee, partner_id
                )
                if accepted and START <= when.date() <= END and fee > 0:
                    expected[partner_id].add((assignment_id, fee))
            if accepted:
                factories.accept_at(engagement_id, when)
            else:
                delivery_factories.put_in_state(engagement_id, EngagementState.DELIVERED)
            if not assignments:  # delivered by the vendor's own consultant: no partner owed
                delivery_factories.assign(tenant_a, engagement_id)
        assert set(expected) == set(partners), "the seed must give both partners something"

        result = payouts.prepare(factories.finance(tenant_a), START, END, today=AFTER)

        got = {payout.partner_id: lines_of(payout.id) for payout in result.payouts}
        assert got == expected
        for payout in result.payouts:
            assert payout.state is PayoutState.DRAFT
            assert (payout.period_start, payout.period_end) == (START, END)
            assert payout.total_minor == sum(fee for _, fee in expected[payout.partner_id])
            assert payout.currency == "USD"


def test_an_assignment_is_never_on_two_statements(app, tenant_a, unscoped):
    with unscoped():
        who = factories.finance(tenant_a)
        _, first = owed_engagement(tenant_a, at(date(2026, 3, 10)))
        _, second = owed_engagement(tenant_a, at(date(2026, 3, 20)), 90_000)
        [march] = payouts.prepare(who, START, END, today=AFTER).payouts
        assert lines_of(march.id) == {(first, 150_000), (second, 90_000)}

        overlapping = payouts.prepare(who, date(2026, 3, 15), AFTER, today=AFTER)
        assert overlapping.payouts == []
        assert overlapping.skipped == []

        _, late = owed_engagement(tenant_a, at(date(2026, 3, 25)), 10_000)
        again = payouts.prepare(who, START, END, today=AFTER)
        assert again.payouts == []
        assert again.skipped == [partner_name(tenant_a)]
        rebuilt = payouts.regenerate(who, db.session.get(Payout, march.id))
        assert lines_of(rebuilt.id) == {(first, 150_000), (second, 90_000), (late, 10_000)}
        assert rebuilt.total_minor == 250_000

        payouts.delete_draft(who, db.session.get(Payout, march.id))
        [half] = payouts.prepare(who, date(2026, 3, 15), END, today=AFTER).payouts
        assert lines_of(half.id) == {(second, 90_000), (late, 10_000)}
        payouts.approve(who, half)
        with pytest.raises(InvalidTransition):
            payouts.regenerate(who, db.session.get(Payout, half.id))
        assert count(PayoutLine.assignment_id == second) == 1


RACERS = 4


def race(app, people_and_paths):
    clients = [sign_in(app.test_client(), person) for person, _, _ in people_and_paths]
    barrier = Barrier(len(clients))

    def run(index: int) -> int:
        _, path, data = people_and_paths[index]
        barrier.wait(timeout=30)
        return clients[index].post(path, data=data).status_code

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(run, range(len(clients))))


def test_finance_users_preparing_at_once_pay_each_assignment_once(app, tenant_a, unscoped):
    start, end = payouts.last_month(utcnow().date())
    with unscoped():
        other = factories.partner(tenant_a, "Bandicoot Consulting")
        assignments = [
            owed_engagement(tenant_a, last_month_day(day), partner_id=partner)[1]
            for day, partner in [(3, None), (9, other), (17, None)]
        ]
    people = [tenant_a.people[Role.FINANCE], tenant_a.people[Role.ADMIN]] * (RACERS // 2)
    data = {"period_start": start.isoformat(), "period_end": end.isoformat()}
    answers = race(app, [(person, "/payouts/prepare", data) for person in people])
    assert set(answers) <= {200, 302}
    assert 302 in answers
    with unscoped():
        for assignment_id in assignments:
            assert count(PayoutLine.assignment_id == assignment_id) == 1
        assert count(Payout.id.is_not(None)) == 2


def test_a_period_that_is_reversed_or_not_over_is_refused(app, tenant_a, unscoped, client):
    with unscoped():
        who = factories.finance(tenant_a)
        owed_engagement(tenant_a, at(date(2026, 3, 10)))
        with pytest.raises(ServiceError, match="before the first"):
            payouts.prepare(who, END, START, today=AFTER)
        with pytest.raises(ServiceError, match="not ended"):
            payouts.prepare(who, START, END, today=date(2026, 3, 30))
    sign_in(client, tenant_a.people[Role.FINANCE])
    today = utcnow().date()
    for start, end, message in [
        (today, today - timedelta(days=1), "before the first"),
        (today, today + timedelta(days=1), "not ended yet"),
        ("2026-02-31", today, "Enter a date"),
    ]:
        page = client.post("/payouts/prepare", data={"period_start": start, "period_end": end})
        assert page.status_code == 200
        assert message in page.text
    with unscoped():
        assert count(Payout.id.is_not(None)) == 0


# --- who sees what -----------------------------------------------------------------------


def test_a_partner_manager_sees_only_its_own_partners_final_statements(
    app, tenant_a, tenant_b, unscoped, client
):
    start, end = payouts.last_month(utcnow().date())
    with unscoped():
        other = factories.partner(tenant_a, "Bandicoot Consulting")
        owed_engagement(tenant_a, last_month_day(4))
        owed_engagement(tenant_a, last_month_day(5), partner_id=other)
        drafts = payouts.prepare(factories.finance(tenant_a), start, end).payouts
        own, others = sorted(drafts, key=lambda p: p.partner_id != tenant_a.partner_id)
        own_id, others_id = own.id, others.id
    manager = tenant_a.people[Role.PARTNER_MANAGER]
    sign_in(client, manager)
    assert client.get(f"/payouts/{own_id}").status_code == 404  # a draft may still change
    assert f"/payouts/{own_id}" not in client.get("/payouts").text

    sign_in(client, tenant_a.people[Role.FINANCE])
    for payout_id in (own_id, others_id):
        assert client.post(f"/payouts/{payout_id}/approve").status_code == 302
    listed = client.get("/payouts").text
    assert f"/payouts/{own_id}" in listed
    assert f"/payouts/{others_id}" in listed

    sign_in(client, manager)
    assert client.post(f"/payouts/{own_id}/paid", data={"reference": "x"}).status_code == 404
    page = client.get(f"/payouts/{own_id}")
    assert page.status_code == 200
    assert "Mark paid" not in page.text
    listed = client.get("/payouts").text
    assert f"/payouts/{own_id}" in listed
    assert f"/payouts/{others_id}" not in listed
    assert "Bandicoot" not in client.get("/payouts/export.csv").text
    for path in ("", "/statement.csv", "/statement.pdf"):
        assert client.get(f"/payouts/{others_id}{path}").status_code == 404
    for person in (tenant_b.people[Role.PARTNER_MANAGER], tenant_b.people[Role.FINANCE]):
        sign_in(client, person)
        assert client.get(f"/payouts/{own_id}").status_code == 404
        assert client.get(f"/payouts/{own_id}/statement.csv").status_code == 404


def test_the_statement_csv_holds_its_lines_and_total(app, tenant_a, unscoped, client):
    with unscoped():
        who = factories.finance(tenant_a)
        for day, fee in [(3, 150_000), (12, 2_550), (28, 99_999)]:
            owed_engagement(tenant_a, at(date(2026, 3, day)), fee)
        [payout] = payouts.prepare(who, START, END, today=AFTER).payouts
        payout_id = payout.id
        lines = [
            (line.description, line.accepted_on.isoformat(), line.fee_minor)
            for line in db.session.scalar(payouts.with_lines(payout_id)).lines
        ]
        partner = partner_name(tenant_a)
    sign_in(client, tenant_a.people[Role.FINANCE])
    response = client.get(f"/payouts/{payout_id}/statement.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    header, *rows, total = list(csv.reader(io.StringIO(response.text)))
    assert header == payouts.CSV_HEADER
    assert [tuple(row[:3]) for row in rows] == [(partner, "2026-03-01", "2026-03-31")] * 3
    assert [(row[3], row[4], int(Decimal(row[5]) * 100)) for row in rows] == lines
    assert total[3:6] == ["Total", "", "2525.49"]
    page = client.get(f"/payouts/{payout_id}").text
    assert "$2,525.49" in page
    assert all(description in page for description, _, _ in lines)


def test_finance_marks_an_approved_statement_paid_with_its_day_and_reference(
    app, tenant_a, unscoped, client
):
    with unscoped():
        draft_id = factories.payout(tenant_a, approve=False)
        with pytest.raises(InvalidTransition, match="only an approved statement"):
            payouts.mark_paid(
                factories.finance(tenant_a), db.session.get(Payout, draft_id), utcnow().date(), "X"
            )
    sign_in(client, tenant_a.people[Role.FINANCE])
    client.post(f"/payouts/{draft_id}/approve")
    today = utcnow().date()
    refused = client.post(
        f"/payouts/{draft_id}/paid",
        data={"paid_on": (today + timedelta(days=1)).isoformat(), "reference": "BANK-1"},
        follow_redirects=True,
    )
    assert "cannot be in the future" in refused.text
    client.post(f"/payouts/{draft_id}/paid", data={"paid_on": today.isoformat(), "reference": ""})
    with unscoped():
        assert db.session.get(Payout, draft_id).state is PayoutState.APPROVED
    client.post(
        f"/payouts/{draft_id}/paid",
        data={"paid_on": today.isoformat(), "reference": "BANK-2026-0042"},
    )
    with unscoped():
        paid = db.session.get(Payout, draft_id)
        assert (paid.state, paid.paid_on, paid.paid_reference) == (
            PayoutState.PAID,
            today,
            "BANK-2026-0042",
        )
    sign_in(client, tenant_a.people[Role.PARTNER_MANAGER])
    page = client.get(f"/payouts/{draft_id}").text
    assert "BANK-2026-0042" in page
    home = client.get("/").text
    assert 'data-testid="panel-payouts"' in home
    assert f"$1,500.00 · paid {date_filter(today)}" in home


# --- the PDF -----------------------------------------------------------------------------


def test_the_approved_statement_pdf_holds_partner_period_lines_and_total(
    app, tenant_a, unscoped, client, run_jobs
):
    start, end = payouts.last_month(utcnow().date())
    with unscoped():
        for day, fee in [(2, 150_000), (20, 45_050)]:
            owed_engagement(tenant_a, last_month_day(day), fee)
        [payout] = payouts.prepare(factories.finance(tenant_a), start, end).payouts
        payout_id = payout.id
        descriptions = [
            line.description for line in db.session.scalar(payouts.with_lines(payout_id)).lines
        ]
        partner = partner_name(tenant_a)
    sign_in(client, tenant_a.people[Role.FINANCE])
    client.post(f"/payouts/{payout_id}/approve")
    assert client.get(f"/payouts/{payout_id}/statement.pdf").status_code == 404  # not yet made
    run_jobs()
    sign_in(client, tenant_a.people[Role.PARTNER_MANAGER])
    response = client.get(f"/payouts/{payout_id}/statement.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert partner in text
    assert f"{date_filter(start)} – {date_filter(end)}" in text
    for description in descriptions:
        assert description in text
    assert "$1,950.50" in text


# --- what the pages cost -----------------------------------------------------------------


def test_the_payout_pages_cost_the_same_whatever_their_size(
    app, tenant_a, unscoped, client, count_queries
):
    start, end = payouts.last_month(utcnow().date())
    who = factories.finance(tenant_a)

    def statements() -> list[int]:
        sign_in(client, tenant_a.people[Role.FINANCE])
        with unscoped():
            payout_id = db.session.scalar(
                select(Payout.id).where(Payout.partner_id == tenant_a.partner_id)
            )
        counts = []
        for path in ("/payouts", f"/payouts/{payout_id}", f"/payouts/{payout_id}/statement.csv"):
            with count_queries() as counted:
                assert client.get(path).status_code == 200
            counts.append(len(counted))
        return counts

    with unscoped():
        owed_engagement(tenant_a, last_month_day(3))
        payouts.prepare(who, start, end)
    small = statements()
    with unscoped():
        for day in (4, 5, 6, 7):
            owed_engagement(tenant_a, last_month_day(day))
            owed_engagement(
                tenant_a, last_month_day(day), partner_id=factories.partner(tenant_a, f"P{day}")
            )
        payouts.regenerate(
            who, db.session.scalar(select(Payout).where(Payout.partner_id == tenant_a.partner_id))
        )
        payouts.prepare(who, start, end)
        assert count(Payout.id.is_not(None)) == 5
    assert statements() == small
