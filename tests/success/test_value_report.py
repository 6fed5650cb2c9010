"""The QBR value report: its figures equal a brute-force computation over every row, the
period is checked, the page and the PDF show the same figures, one PDF per customer and
period however often it is asked for, and only the vendor's CSMs and admins and the
customer's own people read it (another customer's answers 404).

One test renders a PDF with WeasyPrint; the others never run the queued job."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from accounts.models import Organization
from billing.models import CreditNote, Invoice
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import CUSTOMER_ROLES, Role
from delivery.kpis import Period
from delivery.models import Engagement, EngagementState
from success import plans, value_report
from success.health_models import AccountHealth, Band, HealthHistory
from success.plan_models import SuccessGoal, SuccessPlan
from success.playbook_models import Suggestion, SuggestionState
from success.report_models import ValueReport
from tests.billing import factories as billing_factories
from tests.catalog import factories as catalog_factories
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.success import factories as success_factories
from tests.success.factories import VENDOR_OTHERS_AND_PARTNERS

E = EngagementState


def period() -> Period:
    return value_report.last_full_quarter(utcnow().date())


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# --- a known world -----------------------------------------------------------------------


def engagements(tenant, p: Period) -> None:
    """Four accepted in the period (two on its edges), and others that must not count: before
    it, after it, delivered but not accepted, and the neighbouring customer's."""
    ids = billing_factories.engagements(tenant, 8)
    s, e = p.start, p.end
    plan = [
        # accepted_at, delivered_at, deliver_by, started_at, start_by, csat, health, state
        (
            at(s + timedelta(10)),
            at(s + timedelta(8)),
            s + timedelta(9),
            at(s + timedelta(2)),
            s + timedelta(3),
            5,
            72,
            E.ACCEPTED,
        ),
        (
            at(s + timedelta(40)),
            at(s + timedelta(38)),
            s + timedelta(30),
            at(s + timedelta(20)),
            s + timedelta(10),
            3,
            None,
            E.ACCEPTED,
        ),
        (
            at(e, 23, 30),
            at(e - timedelta(1), 23, 59),
            e - timedelta(1),
            None,
            s,
            None,
            None,
            E.ACCEPTED,
        ),
        (at(s, 0, 0), at(s - timedelta(2), 23, 59), s - timedelta(2), None, s, 4, 40, E.ACCEPTED),
        (at(s - timedelta(1), 23, 59), at(s - timedelta(3)), s, None, s, 1, None, E.ACCEPTED),
        (at(e + timedelta(1), 0, 0), at(e), e, None, s, 2, None, E.ACCEPTED),
        (None, at(s + timedelta(5)), s + timedelta(9), None, s, None, None, E.DELIVERED),
        (
            at(s + timedelta(5)),
            at(s + timedelta(4)),
            s + timedelta(9),
            None,
            s,
            1,
            None,
            E.ACCEPTED,
        ),
    ]
    for engagement_id, row in zip(ids, plan, strict=True):
        engagement = db.session.get(Engagement, engagement_id)
        (
            engagement.accepted_at,
            engagement.delivered_at,
            engagement.deliver_by,
            engagement.started_at,
            engagement.start_by,
            engagement.csat,
            engagement.health_score,
            engagement.state,
        ) = row
        if engagement.health_score is not None:
            engagement.findings = "Two admins share one login."
    db.session.get(Engagement, ids[-1]).customer_id = tenant.neighbour_id
    db.session.commit()


def invoices(tenant, p: Period) -> None:
    """Two invoices and a credit note in the period, one invoice before it, one in another
    currency, and one of the neighbour's."""
    usd = lambda minor: ("Workshop", 1, Money(minor, "USD"))  # noqa: E731
    issued = {
        billing_factories.issued(tenant, usd(100_000)): p.start,
        billing_factories.issued(tenant, usd(250_050)): p.end,
        billing_factories.issued(tenant, usd(70_000)): p.start - timedelta(1),
        billing_factories.issued(tenant, usd(30_000)): p.start + timedelta(3),
        billing_factories.issued(tenant, usd(90_000), customer_id=tenant.neighbour_id): p.start,
    }
    credit_note_id = billing_factories.credit_note(tenant)
    note = db.session.get(CreditNote, credit_note_id)
    note.issued_on = p.start + timedelta(20)
    issued[note.invoice_id] = p.start + timedelta(19)
    for invoice_id, day in issued.items():
        db.session.get(Invoice, invoice_id).issued_on = day
    other = list(issued)[3]
    db.session.get(Invoice, other).currency = "EUR"
    db.session.commit()


def health(tenant, p: Period) -> None:
    rows = [
        (tenant.customer_id, p.start - timedelta(20), 55, Band.AMBER),
        (tenant.customer_id, p.start + timedelta(15), 62, Band.AMBER),
        (tenant.customer_id, p.start + timedelta(50), 74, Band.GREEN),
        (tenant.customer_id, p.end + timedelta(5), 80, Band.GREEN),
        (tenant.neighbour_id, p.start - timedelta(1), 20, Band.RED),
        (tenant.neighbour_id, p.start + timedelta(5), 90, Band.GREEN),
    ]
    for customer_id, day, score, band in rows:
        db.session.add(
            HealthHistory(
                vendor_id=tenant.vendor_id,
                customer_id=customer_id,
                day=day,
                score=score,
                band=band,
            )
        )
    db.session.add(
        AccountHealth(
            vendor_id=tenant.vendor_id,
            customer_id=tenant.customer_id,
            score=80,
            band=Band.GREEN,
            computed_at=utcnow(),
            changed_at=at(p.end + timedelta(5)),
        )
    )
    db.session.commit()


def goals_and_suggestions(tenant, p: Period) -> None:
    servlet_id = catalog_factories.servlet(tenant, title="SSO Rollout")
    admin = actor(tenant)
    customer = db.session.get(Organization, tenant.customer_id)
    for quarter, spec in [
        (plans.quarter_start(p.start), [(100, 300, 200), (60, 25, 41)]),
        (plans.quarter_start(utcnow().date()), [(0, 10, 10)]),  # this quarter: not in the period
    ]:
        plan_id = plans.start_plan(admin, customer, quarter, "Every team on SSO.").id
        for n, (baseline, target, current) in enumerate(spec):
            plans.add_goal(
                admin,
                db.session.get(SuccessPlan, plan_id),
                plans.GoalValues(
                    f"Goal {quarter:%Y%m} {n}",
                    "Users",
                    "users",
                    baseline,
                    target,
                    current,
                    [servlet_id] if n == 0 else [],
                ),
            )
    success_factories.suggestions(
        tenant,
        servlet_id,
        [
            (tenant.customer_id, SuggestionState.OPEN, "Active users fell by 30 % in 30 days."),
            (tenant.customer_id, SuggestionState.DECLINED, "Declined last month."),
            (tenant.neighbour_id, SuggestionState.OPEN, "The neighbour's own."),
        ],
    )


def world(tenant) -> Period:
    p = period()
    engagements(tenant, p)
    invoices(tenant, p)
    health(tenant, p)
    goals_and_suggestions(tenant, p)
    return p


# --- brute force -------------------------------------------------------------------------


def brute_force(customer_id: int, p: Period, currency: str) -> dict:
    """Every figure again, naively in Python from all rows."""
    everything = db.session.scalars(select(Engagement)).all()
    delivered = sorted(
        (
            e
            for e in everything
            if e.customer_id == customer_id
            and e.state is E.ACCEPTED
            and p.start <= e.accepted_at.astimezone(UTC).date() <= p.end
        ),
        key=lambda e: (e.accepted_at, e.id),
    )
    rated = [e.csat for e in delivered if e.csat is not None]
    started = [e for e in delivered if e.started_at is not None]
    issued = [
        i
        for i in db.session.scalars(select(Invoice)).all()
        if i.customer_id == customer_id
        and i.number is not None
        and i.issued_on is not None
        and p.start <= i.issued_on <= p.end
    ]
    notes = [
        n
        for n in db.session.scalars(select(CreditNote)).all()
        if n.customer_id == customer_id and p.start <= n.issued_on <= p.end
    ]
    history = sorted(
        (
            h
            for h in db.session.scalars(select(HealthHistory)).all()
            if h.customer_id == customer_id
        ),
        key=lambda h: h.day,
    )
    known = [(h.day, h.score) for h in history]
    current = db.session.scalar(
        select(AccountHealth).where(AccountHealth.customer_id == customer_id)
    )
    if current is not None and not any(day >= current.changed_at.date() for day, _ in known):
        known.append((current.changed_at.date(), current.score))

    def score_on(day: date) -> int | None:
        scores = [score for d, score in known if d <= day]
        return scores[-1] if scores else None

    first_quarter = date(p.start.year, (p.start.month - 1) // 3 * 3 + 1, 1)
    plan_goals = {}
    for plan in db.session.scalars(select(SuccessPlan)).all():
        if plan.customer_id == customer_id and first_quarter <= plan.quarter_start <= p.end:
            goals = db.session.scalars(
                select(SuccessGoal).where(SuccessGoal.plan_id == plan.id)
            ).all()
            plan_goals[plan.quarter_start] = [
                round(100 * min(1, max(0, (g.current - g.baseline) / (g.target - g.baseline))))
                for g in sorted(goals, key=lambda g: g.position)
            ]
    return {
        "delivered": [f"E-{e.number:06d}" for e in delivered],
        "on_time": sum(1 for e in delivered if e.delivered_at.date() <= e.deliver_by),
        "started": len(started),
        "started_on_time": sum(1 for e in started if e.started_at.date() <= e.start_by),
        "mean_csat": round(sum(rated) / len(rated), 1) if rated else None,
        "health_checks": [e.health_score for e in delivered],
        "invoiced": sum(i.total_minor for i in issued if i.currency == currency),
        "credited": sum(n.total_minor for n in notes if n.currency == currency),
        "other": sorted((i.currency, i.total_minor) for i in issued if i.currency != currency),
        "health_start": score_on(p.start),
        "health_end": score_on(p.end),
        "readings": [(d, s) for d, s in known if p.start < d <= p.end],
        "goals": plan_goals,
        "suggestions": sorted(
            s.reason
            for s in db.session.scalars(select(Suggestion)).all()
            if s.customer_id == customer_id and s.state is SuggestionState.OPEN
        ),
    }


def test_the_reports_figures_equal_a_brute_force_computation(tenant_a, unscoped):
    with unscoped():
        p = world(tenant_a)
        customer = db.session.get(Organization, tenant_a.customer_id)
        report = value_report.figures(customer, p)
        expected = brute_force(tenant_a.customer_id, p, "USD")
    k = report.kpis
    assert [d.reference for d in report.delivered] == expected["delivered"]
    assert k.delivered == len(expected["delivered"]) == 4
    assert (
        (k.on_time, k.started, k.started_on_time)
        == (
            expected["on_time"],
            expected["started"],
            expected["started_on_time"],
        )
        == (3, 2, 1)
    )
    assert k.mean_csat == expected["mean_csat"] == 4.0
    assert k.on_time_percent == 75
    assert [d.health_score for d in report.delivered] == expected["health_checks"]
    assert all(d.outcome.startswith("A scored review") for d in report.delivered)
    assert report.spend.invoiced == Money(expected["invoiced"], "USD")
    assert report.spend.credited == Money(expected["credited"], "USD")
    assert report.spend.net == Money(expected["invoiced"] - expected["credited"], "USD")
    assert report.spend.net.amount == 100_000 + 250_050 + 100_000 - 100  # worked by hand
    assert [(m.currency, m.amount) for m in report.spend.other_currencies] == expected["other"]
    assert report.health.start.score == expected["health_start"] == 55
    assert report.health.end.score == expected["health_end"] == 74
    assert report.health.change == 19
    assert [(r.day, r.score) for r in report.health.readings] == expected["readings"]
    assert {
        plans.parse_quarter(plans.quarter_key(p.start)): [g.percent for g in plan.goals]
        for plan in report.plans
    } == expected["goals"]
    assert math.isclose(report.plans[0].percent, (50 + round(100 * 19 / 35)) / 2, abs_tol=1)
    assert report.plans[0].goals[0].servlets == ("SSO Rollout",)
    assert sorted(s.reason for s in report.suggestions) == expected["suggestions"]
    assert report.suggestions[0].title == "SSO Rollout"


def test_a_period_is_checked_before_anything_is_read(client, tenant_a):
    today = utcnow().date()
    with pytest.raises(Exception, match="end is before its start"):
        value_report.checked_period(date(2026, 3, 1), date(2026, 2, 1), today)
    assert value_report.checked_period(None, None, today) == period()
    sign_in(client, tenant_a.people[Role.CSM])
    url = f"/accounts/{tenant_a.customer_id}/value-report"
    long_ago = (today - timedelta(days=3 * 365)).isoformat()
    for query, message in [
        (f"?start={today}&end={today - timedelta(1)}", "end is before its start"),
        (f"?start={long_ago}&end={today}", "A value report covers days from"),
        (f"?start={today}&end={today + timedelta(days=400)}", "A value report covers days from"),
        ("?start=2026-02-30&end=2026-03-01", "Dates: expected a date as YYYY-MM-DD"),
        (f"?start={today}", "needs both a start and an end"),
        ("?start=" + "9" * 500 + "&end=x", "Dates: expected"),
    ]:
        refused = client.get(url + query)
        assert refused.status_code == 400, query
        assert message in refused.get_data(as_text=True), query
    shown = client.get(url)
    assert shown.status_code == 200
    p = period()
    assert f'value="{p.start.isoformat()}"' in shown.get_data(as_text=True)


def pdf_text(pdf: bytes) -> str:
    return words(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def test_a_double_click_makes_one_pdf_which_holds_the_reports_figures(
    app, client, tenant_a, unscoped, run_jobs
):
    with unscoped():
        p = world(tenant_a)
    sign_in(client, tenant_a.people[Role.CSM])
    prepare = f"/accounts/{tenant_a.customer_id}/value-reports"
    form = {"start": p.start.isoformat(), "end": p.end.isoformat()}
    assert client.post(prepare, data=form).status_code == 302
    assert client.post(prepare, data=form).status_code == 302
    with unscoped():
        report_id = db.session.scalar(select(ValueReport.id))
        assert db.session.scalar(select(func.count()).select_from(ValueReport)) == 1
    pending = client.get(f"/value-reports/{report_id}/pdf")
    assert pending.status_code == 202
    assert "being prepared" in pending.get_data(as_text=True)
    assert pending.headers["Refresh"] == "10"
    run_jobs()
    page = client.get(f"/accounts/{tenant_a.customer_id}/value-report?start={p.start}&end={p.end}")
    page_text = words(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)))
    downloaded = client.get(f"/value-reports/{report_id}/pdf")
    assert downloaded.status_code == 200
    assert downloaded.mimetype == "application/pdf"
    assert "value-report-acme-software-customer" in downloaded.headers["Content-Disposition"]
    printed = pdf_text(downloaded.data)
    with unscoped(), app.test_request_context():
        from core.templating import date_filter

        period_text = f"{date_filter(p.start)} – {date_filter(p.end)}"
    expected = [
        "Acme Software Customer",
        period_text,
        "Servlets delivered 4",
        "75 % (3 of 4)",
        "50 % (1 of 2)",
        "4.0 of 5 (3 ratings)",
        "55 (Amber)",
        "74 (Green)",
        "+19 points",
        "$4,499.50",  # net spend: 1,000.00 + 2,500.50 + 1,000.00 - 1.00
        "Goal",
        "SSO Rollout",
        "Active users fell by 30 % in 30 days.",
        "Two admins share one login.",
    ]
    for text in expected:
        assert text in page_text, text
        assert text in printed, text
    assert "The neighbour's own." not in printed
    # The customer's people download it too; the neighbour's get 404.
    sign_in(client, tenant_a.people[Role.VIEWER])
    assert client.get(f"/value-reports/{report_id}/pdf").status_code == 200
    sign_in(client, tenant_a.neighbours[Role.BUYER])
    assert client.get(f"/value-reports/{report_id}/pdf").status_code == 404


def make_report(tenant, rendered: bool = True) -> int:
    p = period()
    made = ValueReport(
        vendor_id=tenant.vendor_id,
        customer_id=tenant.customer_id,
        period_start=p.start,
        period_end=p.end,
        filename="value-report.pdf",
        pdf=b"%PDF-1.7 stored" if rendered else None,
        rendered_at=utcnow() if rendered else None,
    )
    db.session.add(made)
    db.session.commit()
    return made.id


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_the_customers_people_read_their_own_report_and_no_other(client, tenant_a, unscoped, role):
    with unscoped():
        report_id = make_report(tenant_a)
    sign_in(client, tenant_a.people[role])
    own = client.get("/value-report")
    assert own.status_code == 200
    text = own.get_data(as_text=True)
    assert "Value report · Acme Software Customer" in text
    assert f"/value-reports/{report_id}/pdf" in text
    assert "prepare-pdf-form" not in text
    assert client.get(f"/value-reports/{report_id}/pdf").data == b"%PDF-1.7 stored"
    assert client.get(f"/accounts/{tenant_a.customer_id}/value-report").status_code == 404
    assert client.get(f"/accounts/{tenant_a.neighbour_id}/value-report").status_code == 404
    assert client.post(f"/accounts/{tenant_a.customer_id}/value-reports").status_code == 404
    sign_in(client, tenant_a.neighbours[role])
    assert client.get(f"/value-reports/{report_id}/pdf").status_code == 404
    theirs = client.get("/value-report").get_data(as_text=True)
    assert "Acme Software Neighbour" in theirs
    assert f"/value-reports/{report_id}/pdf" not in theirs


@pytest.mark.parametrize("role", VENDOR_OTHERS_AND_PARTNERS)
def test_nobody_else_reads_or_prepares_reports(client, tenant_a, unscoped, role):
    with unscoped():
        report_id = make_report(tenant_a)
    sign_in(client, tenant_a.people[role])
    p = period()
    form = {"start": p.start.isoformat(), "end": p.end.isoformat()}
    assert client.get(f"/accounts/{tenant_a.customer_id}/value-report").status_code == 404
    assert (
        client.post(f"/accounts/{tenant_a.customer_id}/value-reports", data=form).status_code == 404
    )
    assert client.get(f"/value-reports/{report_id}/pdf").status_code == 404
    assert client.get("/value-report").status_code == 403
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(ValueReport)) == 1


def test_any_csm_who_sees_the_account_prepares_a_report_and_a_bad_period_makes_none(
    client, tenant_a, unscoped
):
    sign_in(client, tenant_a.people[Role.CSM])  # not the owner: reading is enough
    prepare = f"/accounts/{tenant_a.customer_id}/value-reports"
    today = utcnow().date()
    for form in [
        {"start": today.isoformat(), "end": (today - timedelta(1)).isoformat()},
        {"start": "2019-01-01", "end": "2019-03-31"},
        {"start": "not a day", "end": ""},
    ]:
        assert client.post(prepare, data=form).status_code == 400
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(ValueReport)) == 0
    p = period()
    made = client.post(prepare, data={"start": p.start.isoformat(), "end": p.end.isoformat()})
    assert made.status_code == 302
    account = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert 'data-testid="account-reports"' in account
    assert "Being prepared" in account
    assert 'data-testid="prepare-report-form"' in account


def test_the_report_page_runs_the_same_queries_with_little_and_much_data(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        p = world(tenant_a)
        make_report(tenant_a)
    sign_in(client, tenant_a.people[Role.ADMIN])
    url = f"/accounts/{tenant_a.customer_id}/value-report?start={p.start}&end={p.end}"
    client.get(url)
    with count_queries() as little:
        assert client.get(url).status_code == 200
    with unscoped():
        engagements(tenant_a, p)
        invoices(tenant_a, p)
        goals = db.session.scalars(select(SuccessPlan.id)).all()
        for plan_id in goals:
            plans.add_goal(
                actor(tenant_a),
                db.session.get(SuccessPlan, plan_id),
                plans.GoalValues("More", "Users", "", 0, 5, 1),
            )
        for n in range(30):
            db.session.add(
                HealthHistory(
                    vendor_id=tenant_a.vendor_id,
                    customer_id=tenant_a.customer_id,
                    day=p.start + timedelta(days=n + 51),
                    score=50 + n,
                    band=Band.AMBER,
                )
            )
        db.session.commit()
    with count_queries() as much:
        page = client.get(url)
    assert page.status_code == 200
    assert page.get_data(as_text=True).count('data-testid="delivered-servlet"') == 8
    assert len(much) == len(little)
