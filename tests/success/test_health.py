"""Account health: each component on known figures, the weighted score with its bands and
rescaling, the explanation of each change, history, weights refused with a reason, the
nightly recompute claimed once, event-triggered recomputes and the account page's section."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from billing.models import Invoice
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import OrgKind, Role
from core.queue import QueuedJob
from core.tenancy import tenant_scope
from delivery.models import Engagement, EngagementState
from ordering.models import Entitlement
from success import accounts, events, health
from success import health_components as hc
from success.health_models import AccountHealth, Band, HealthComponent, HealthHistory, HealthModel
from success.models import ContactRole, CustomerAccount, KeyContact
from success.signal_models import SignalType, UsageSignal
from tests import factories
from tests.billing import factories as billing_factories
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories

C = HealthComponent
TODAY = utcnow().date()


# --- each component on known figures -----------------------------------------------------


@pytest.mark.parametrize(
    ("reading", "score", "fact"),
    [
        (hc.health_check(72, date(2025, 3, 3)), 72, "latest health check scored 72 of 100"),
        (hc.csat(4.6, 5), 90, "CSAT 4.6 of 5 from 5 ratings in 12 months"),
        (hc.csat(1.0, 1), 0, "CSAT 1.0 of 5 from 1 rating"),
        (hc.nps(10, 5, 2), 65, "NPS +30 from 10 answers in 180 days"),
        (hc.nps(4, 0, 4), 0, "NPS -100"),
        (hc.usage_trend(120, 150), 45, "active users 120, down 20 % from 150 in 30 days"),
        (hc.usage_trend(150, 150), 75, "active users 150, up 0 %"),
        (hc.usage_trend(200, 100), 100, "up 100 %"),
        (hc.usage_trend(0, 0), 0, "none 30 days before"),
        (hc.licence_utilisation(208, 324, 400), 65, "licences used 52 % of 400 (81 % 30 days"),
        (hc.licence_utilisation(360, None, 400), 100, "licences used 90 % of 400"),
        (hc.support_load(4, 1), 65, "4 tickets open, 1 escalation"),
        (hc.support_load(30, 0), 0, "30 tickets open"),
        (hc.late_engagements(2, 5), 50, "2 engagements past the deliver-by date"),
        (hc.late_engagements(0, 5), 100, "no engagement late (of 5)"),
        (hc.overdue_invoices(1, 12), 75, "1 invoice overdue, the oldest by 12 days"),
        (hc.entitlements(6, 10), 40, "6 unused credits of 10 expire within 60 days"),
        (hc.entitlements(0, 10), 100, "no credit expiring unused"),
        (hc.recency(20), 100, "last engagement started or accepted 20 days ago"),
        (hc.recency(365), 0, "365 days ago"),
        (hc.recency(30 + 335 // 2), 50, ""),
        (hc.contact_change(None), 100, "no key contact changed in 90 days"),
        (hc.contact_change(9), 10, "a key contact changed 9 days ago"),
        (hc.contact_change(0), 0, "a key contact changed today"),
        (hc.recency(0), 100, "last engagement started or accepted today"),
    ],
)
def test_each_component_scores_known_figures(reading, score, fact):
    assert reading.score == score
    assert fact in reading.fact


def _readings(**scores: int) -> list[tuple[C, hc.Reading]]:
    return [
        (C(key), hc.Reading(score, score, str(score), f"{key} fact"))
        for key, score in scores.items()
    ]


def test_bands_split_at_the_limits():
    weights = health.Weights()
    assert [weights.band(s) for s in (0, 39, 40, 69, 70, 100)] == [
        Band.RED,
        Band.RED,
        Band.AMBER,
        Band.AMBER,
        Band.GREEN,
        Band.GREEN,
    ]


def test_the_score_is_the_weighted_mean_of_the_components_with_data():
    every = {c.value: 50 for c in C}
    full = health.combine(_readings(**every), health.Weights())
    assert (full.score, full.band, full.rescaled) == (50, Band.AMBER, False)
    # CSAT (weight 10) at 90 and licences (weight 15) at 65; nothing else has data: rescaled.
    partial = health.combine(_readings(csat=90, licence_utilisation=65), health.Weights())
    assert partial.score == round((90 * 10 + 65 * 15) / 25)
    assert partial.band is Band.GREEN
    assert partial.rescaled
    assert partial.components["csat"]["share"] == 40.0
    assert partial.components["licence_utilisation"]["weight"] == 15


def test_no_data_or_only_unweighted_data_gives_no_score():
    assert health.combine([], health.Weights()) is None
    weights = health.Weights({**{c.value: 0 for c in C}, "csat": 100})
    assert health.combine(_readings(nps=80), weights) is None


# --- explanations ------------------------------------------------------------------------


def _part(score: int, value: float, shown: str, weight: int = 15, share: float = 15.0) -> dict:
    return {
        "score": score,
        "weight": weight,
        "share": share,
        "value": value,
        "shown": shown,
        "fact": f"{shown} fact",
    }


def test_each_change_is_explained_largest_first():
    before = {"licence_utilisation": _part(100, 81, "81 %"), "csat": _part(63, 3.5, "3.5", 10, 10)}
    after = {"licence_utilisation": _part(20, 16, "16 %"), "csat": _part(90, 4.6, "4.6", 10, 10)}
    changes = hc.explain(before, after, 30)
    assert [c["text"] for c in changes] == [
        "-12: licence utilisation fell from 81 % to 16 % in 30 days",
        "+3: CSAT rose from 3.5 to 4.6 in 30 days",
    ]
    assert [c["points"] for c in changes] == [-12, 3]


def test_components_that_appear_or_disappear_say_so():
    before = {"nps": _part(80, 60, "+60", 10, 10)}
    after = {"recency": _part(100, 5, "5", 5, 5)}
    texts = [c["text"] for c in hc.explain(before, after, 1)]
    assert texts == [
        "-8: NPS no longer counts (no data)",
        "+5: days since the last engagement now counts: 5 fact",
    ]


def test_a_component_that_starts_counting_is_charged_with_what_it_did_to_the_score():
    """A poor health check lowers the score: its line says so, though its own contribution
    is positive, because the others' shares shrank to make room for it."""
    third = 100 / 3
    before = {"csat": _part(80, 4.2, "4.2", 10, 50), "nps": _part(60, 20, "+20", 10, 50)}
    after = {
        "csat": _part(80, 4.2, "4.2", 10, third),
        "nps": _part(60, 20, "+20", 10, third),
        "health_check": _part(30, 30, "30", 10, third),
    }
    changes = hc.explain(before, after, 0)
    assert [c["text"] for c in changes] == [
        "-13: health-check result now counts: 30 fact",
    ]


# --- the recompute on data ---------------------------------------------------------------


def _signal_types(vendor_id: int) -> dict[str, int]:
    keys = ("active_users", "licences_used", "tickets_open", "escalations", "nps")
    made = [SignalType(vendor_id=vendor_id, key=key, name=key, built_in=True) for key in keys]
    db.session.add_all(made)
    db.session.flush()
    return {t.key: t.id for t in made}


def _signals(vendor_id: int, customer_id: int, types: dict[str, int], *rows) -> None:
    db.session.add_all(
        UsageSignal(
            vendor_id=vendor_id,
            customer_id=customer_id,
            signal_type_id=types[key],
            day=day,
            value=value,
        )
        for key, day, value in rows
    )
    db.session.commit()


def _account(tenant, customer_id: int, licences: int = 400, segment: str = "") -> None:
    db.session.add(
        CustomerAccount(
            vendor_id=tenant.vendor_id,
            organization_id=customer_id,
            segment=segment,
            currency="USD",
            licences_bought=licences,
        )
    )
    db.session.commit()


def _recompute(tenant, as_of: date = TODAY, ids=None) -> set[int]:
    with tenant_scope(tenant.vendor_id):
        return health.recompute(tenant.vendor_id, as_of, ids)


def _health(customer_id: int) -> AccountHealth | None:
    db.session.expire_all()
    return db.session.scalar(select(AccountHealth).where(AccountHealth.customer_id == customer_id))


def test_signal_contact_and_entitlement_components_are_read_from_the_data(tenant_a, unscoped):
    with unscoped():
        vendor = tenant_a.vendor_id
        third = factories.organization("Initech", OrgKind.CUSTOMER, vendor).id
        types = _signal_types(vendor)
        _account(tenant_a, third)
        _signals(
            vendor,
            third,
            types,
            ("active_users", TODAY - timedelta(days=31), 150),
            ("active_users", TODAY - timedelta(days=1), 120),
            ("licences_used", TODAY - timedelta(days=30), 324),
            ("licences_used", TODAY, 208),
            ("tickets_open", TODAY, 4),
            ("escalations", TODAY - timedelta(days=3), 1),
            ("nps", TODAY - timedelta(days=10), 10),
            ("nps", TODAY - timedelta(days=20), 9),
            ("nps", TODAY - timedelta(days=30), 3),
            ("nps", TODAY - timedelta(days=200), 0),  # too old to count
        )
        account_id = db.session.scalar(
            select(CustomerAccount.id).where(CustomerAccount.organization_id == third)
        )
        ended = utcnow() - timedelta(days=9)
        db.session.add_all(
            [
                KeyContact(
                    vendor_id=vendor,
                    account_id=account_id,
                    role=ContactRole.ADMIN,
                    name="Paul",
                    since=TODAY - timedelta(days=300),
                    ended_at=ended,
                ),
                KeyContact(
                    vendor_id=vendor,
                    account_id=account_id,
                    role=ContactRole.ADMIN,
                    name="Mei",
                    since=TODAY - timedelta(days=9),
                ),
                Entitlement(
                    vendor_id=vendor,
                    customer_id=third,
                    kind="training",
                    quantity=10,
                    used=4,
                    valid_from=TODAY - timedelta(days=300),
                    valid_until=TODAY + timedelta(days=20),
                    granted_by_id=tenant_a.people[Role.ADMIN].user_id,
                ),
            ]
        )
        db.session.commit()
        changed = _recompute(tenant_a)
        assert third in changed
        parts = _health(third).components
        assert {key: part["score"] for key, part in parts.items()} == {
            "usage_trend": 45,
            "licence_utilisation": 65,
            "support_load": 65,
            "nps": hc.nps(3, 2, 1).score,
            "contact_change": 10,
            "entitlements": 40,
        }
        assert parts["licence_utilisation"]["fact"] == (
            "licences used 52 % of 400 (81 % 30 days before)"
        )
        expected = round(
            (45 * 15 + 65 * 15 + 65 * 10 + parts["nps"]["score"] * 10 + 10 * 5 + 40 * 5) / 60
        )
        assert _health(third).score == expected
        # The two built-in customers have no data at all: no score.
        assert _health(tenant_a.customer_id) is None


def test_delivery_and_billing_components_are_read_from_the_data(tenant_a, unscoped):
    with unscoped():
        engagement_id = delivery_factories.engagement(tenant_a)  # a health check, prepaid
        engagement = db.session.get(Engagement, engagement_id)
        accepted = utcnow() - timedelta(days=10)
        engagement.state = EngagementState.ACCEPTED
        engagement.started_at = accepted - timedelta(days=5)
        engagement.delivered_at = accepted - timedelta(days=1)
        engagement.accepted_at = accepted
        engagement.health_score = 64
        engagement.csat, engagement.rated_at = 4, accepted
        late = db.session.get(Engagement, delivery_factories.engagement(tenant_a))
        late.deliver_by = TODAY - timedelta(days=3)
        invoice_id = billing_factories.issued(tenant_a)
        db.session.get(Invoice, invoice_id).due_on = TODAY - timedelta(days=12)
        db.session.commit()
        _recompute(tenant_a)
        parts = _health(tenant_a.customer_id).components
        assert parts["health_check"]["score"] == 64
        assert parts["csat"]["score"] == 75
        assert parts["recency"]["score"] == 100
        assert parts["late_engagements"]["fact"] == "1 engagement past the deliver-by date"
        assert parts["overdue_invoices"]["score"] <= 75


def test_history_explains_a_change_and_a_second_change_the_same_day_rewrites_it(tenant_a, unscoped):
    with unscoped():
        vendor, customer = tenant_a.vendor_id, tenant_a.customer_id
        types = _signal_types(vendor)
        _account(tenant_a, customer)
        month_ago = TODAY - timedelta(days=30)
        _signals(vendor, customer, types, ("licences_used", month_ago, 324))
        _recompute(tenant_a, month_ago)
        first = _health(customer)
        assert (first.score, first.band) == (100, Band.GREEN)
        _signals(vendor, customer, types, ("licences_used", TODAY, 208))
        assert _recompute(tenant_a) == {customer}
        rows = db.session.scalars(select(HealthHistory).order_by(HealthHistory.day)).all()
        assert [(r.day, r.score) for r in rows] == [(month_ago, 100), (TODAY, 65)]
        assert rows[-1].changes == [
            {
                "component": "licence_utilisation",
                "points": -35,
                "text": "-35: licence utilisation fell from 81 % to 52 % in 30 days",
            }
        ]
        # Later the same day, tickets arrive: the day's row is rewritten against the month-old one.
        _signals(vendor, customer, types, ("tickets_open", TODAY, 10))
        _recompute(tenant_a)
        rows = db.session.scalars(select(HealthHistory).order_by(HealthHistory.day)).all()
        assert len(rows) == 2
        texts = [change["text"] for change in rows[-1].changes]
        assert texts[0].startswith("-")
        assert "licence utilisation fell from 81 % to 52 %" in " ".join(texts)
        assert any("support load now counts" in text for text in texts)
        # Nothing moved: no new row, no change announced.
        assert _recompute(tenant_a) == set()


def test_health_changed_names_the_customers_whose_score_moved(tenant_a, unscoped):
    heard = []

    def listen(vendor_id, customer_ids=(), **_):
        heard.append((vendor_id, set(customer_ids)))

    with unscoped():
        types = _signal_types(tenant_a.vendor_id)
        _signals(tenant_a.vendor_id, tenant_a.customer_id, types, ("tickets_open", TODAY, 2))
        with events.health_changed.connected_to(listen):
            _recompute(tenant_a)
            _recompute(tenant_a)
    assert heard == [(tenant_a.vendor_id, {tenant_a.customer_id})]


# --- weights -----------------------------------------------------------------------------


def _change(
    segment: str = "", red: int = 40, green: int = 70, **weights: int
) -> health.ModelChange:
    return health.ModelChange(segment, {**health.DEFAULT_WEIGHTS, **weights}, red, green)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_change(csat=5), "The weights add up to 95; they must add up to 100."),
        (_change(csat=-10, nps=30), "Weight of CSAT: cannot be negative (-10)."),
        (_change(csat=None), "Weight of CSAT: a whole number"),
        (_change(red=70, green=70), "Bands: red below a score more than 0"),
        (_change(red=0, green=50), "Bands:"),
        (_change(red=40, green=101), "Bands:"),
        (_change(segment="x" * 61), "Segment: at most 60"),
    ],
)
def test_weights_that_do_not_fit_are_refused_with_a_reason(tenant_a, unscoped, change, message):
    with unscoped(), tenant_scope(tenant_a.vendor_id):
        with pytest.raises(ServiceError) as refused:
            health.save_model(actor(tenant_a), change)
        assert refused.value.message.startswith(message)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(HealthModel)) == 0


def test_only_an_admin_tunes_weights(tenant_a, unscoped):
    with unscoped(), tenant_scope(tenant_a.vendor_id), pytest.raises(NotAllowed):
        health.save_model(actor(tenant_a, Role.CSM), _change())


def test_an_admin_tunes_a_segment_audited_and_recomputed(client, tenant_a, unscoped, run_jobs):
    with unscoped():
        _account(tenant_a, tenant_a.customer_id, segment="Enterprise")
        types = _signal_types(tenant_a.vendor_id)
        _signals(
            tenant_a.vendor_id,
            tenant_a.customer_id,
            types,
            ("tickets_open", TODAY, 2),
            ("licences_used", TODAY, 400),
        )
    sign_in(client, tenant_a.people[Role.ADMIN])
    form = {
        f"weight_{c.value}": str(w) for c, w in zip(C, health.DEFAULT_WEIGHTS.values(), strict=True)
    }
    page = client.get("/accounts/health-model?segment=Enterprise")
    assert page.status_code == 200
    refused = client.post(
        "/accounts/health-model",
        data={
            **form,
            "weight_csat": "-5",
            "segment": "Enterprise",
            "red_below": "40",
            "green_from": "70",
        },
    )
    assert refused.status_code == 400
    assert "Weight of CSAT: cannot be negative (-5)." in refused.get_data(as_text=True)
    form.update(
        weight_support_load="90",
        weight_licence_utilisation="10",
        segment="Enterprise",
        red_below="30",
        green_from="60",
    )
    for name in (
        "health_check",
        "csat",
        "nps",
        "usage_trend",
        "late_engagements",
        "overdue_invoices",
        "entitlements",
        "recency",
        "contact_change",
    ):
        form[f"weight_{name}"] = "0"
    saved = client.post("/accounts/health-model", data=form)
    assert saved.status_code == 302
    assert client.post("/accounts/health-model", data=form).status_code == 302  # twice: once
    with unscoped():
        assert (
            db.session.scalar(
                select(func.count()).where(AuditEvent.action == "success.health_model_changed")
            )
            == 1
        )
        assert (
            db.session.scalar(select(func.count()).where(QueuedJob.kind == health.RECOMPUTE)) == 1
        )
    run_jobs()
    with unscoped():
        # support: 2 tickets → 90; licences fully used → 100: (90*90 + 100*10) / 100 = 91.
        assert _health(tenant_a.customer_id).score == 91
    removed = client.post("/accounts/health-model/remove", data={"segment": "Enterprise"})
    assert removed.status_code == 302
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(HealthModel)) == 0


# --- when it runs ------------------------------------------------------------------------


def test_the_nightly_recompute_is_asked_for_once_per_vendor_and_day(tenants, unscoped, run_jobs):
    tenant_a, _tenant_b = tenants
    with unscoped():
        types = _signal_types(tenant_a.vendor_id)
        _signals(tenant_a.vendor_id, tenant_a.customer_id, types, ("tickets_open", TODAY, 1))
        assert health.nightly_recompute() == 2
        assert health.nightly_recompute() == 0
        assert (
            db.session.scalar(select(func.count()).where(QueuedJob.kind == health.RECOMPUTE)) == 2
        )
    run_jobs()
    run_jobs()
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(HealthHistory)) == 1
        assert (
            db.session.scalar(
                select(func.count()).where(
                    QueuedJob.kind == health.RECOMPUTE, QueuedJob.done_at.is_not(None)
                )
            )
            == 2
        )


def test_recorded_signals_ask_for_one_recompute_of_their_customers(tenant_a, unscoped, run_jobs):
    with unscoped():
        types = _signal_types(tenant_a.vendor_id)
        _signals(tenant_a.vendor_id, tenant_a.customer_id, types, ("tickets_open", TODAY, 3))
        events.signals_recorded.send(tenant_a.vendor_id, customer_ids={tenant_a.customer_id})
        db.session.commit()
        [job] = db.session.scalars(select(QueuedJob).where(QueuedJob.kind == health.RECOMPUTE))
        assert job.payload["customer_ids"] == [tenant_a.customer_id]
    run_jobs()
    with unscoped():
        assert _health(tenant_a.customer_id).components["support_load"]["score"] == 85


def test_a_key_contact_change_asks_for_a_recompute(tenant_a, unscoped, run_jobs):
    with unscoped(), tenant_scope(tenant_a.vendor_id):
        customer = db.session.get(Organization, tenant_a.customer_id)
        for name in ("Paul Novak", "Mei Tanaka"):
            accounts.change_key_contact(
                actor(tenant_a), customer, accounts.ContactChange("admin", name, "")
            )
        assert (
            db.session.scalar(select(func.count()).where(QueuedJob.kind == health.RECOMPUTE)) == 2
        )
    run_jobs()
    with unscoped():
        assert _health(tenant_a.customer_id).components["contact_change"]["score"] == 0


# --- the account page --------------------------------------------------------------------


def _history(tenant, customer_id: int, days: int) -> None:
    db.session.add_all(
        HealthHistory(
            vendor_id=tenant.vendor_id,
            customer_id=customer_id,
            day=TODAY - timedelta(days=days - n),
            score=40 + n % 50,
            band=Band.AMBER,
            changes=[{"component": "csat", "points": 1, "text": f"+1: change {n}"}],
        )
        for n in range(days)
    )
    db.session.add(
        AccountHealth(
            vendor_id=tenant.vendor_id,
            customer_id=customer_id,
            score=61,
            band=Band.AMBER,
            computed_at=utcnow(),
            changed_at=utcnow(),
            components={"csat": _part(75, 4.0, "4.0", 10, 100.0)},
        )
    )
    db.session.commit()


def test_the_account_page_shows_score_components_changes_and_history(client, tenant_a, unscoped):
    with unscoped():
        _history(tenant_a, tenant_a.customer_id, 3)
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert 'data-testid="health-score">61<' in page
    assert "4.0 fact" in page
    assert "+1: change 2" in page
    assert 'data-testid="health-history-chart"' in page
    assert "Not counted, for want of data" in page
    neighbour = client.get(f"/accounts/{tenant_a.neighbour_id}").get_data(as_text=True)
    assert 'data-testid="no-health"' in neighbour


def test_the_account_page_reads_as_many_statements_with_a_year_of_history(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        _history(tenant_a, tenant_a.customer_id, 2)
        _history(tenant_a, tenant_a.neighbour_id, 300)
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.get(f"/accounts/{tenant_a.customer_id}")
    with count_queries() as little:
        assert client.get(f"/accounts/{tenant_a.customer_id}").status_code == 200
    with count_queries() as much:
        assert client.get(f"/accounts/{tenant_a.neighbour_id}").status_code == 200
    assert len(much) == len(little)


def test_the_history_chart_steps_through_the_year():
    chart_rows = [(TODAY - timedelta(days=365), 80), (TODAY - timedelta(days=100), 40)]
    from success.health_views import history_chart

    chart = history_chart(chart_rows, TODAY)
    assert chart.points.split() == ["0.0,20.0", "217.8,20.0", "217.8,60.0", "300,60.0"]
    assert history_chart([], TODAY) is None


def test_a_backdated_run_stamps_its_day(tenant_a, unscoped):
    with unscoped():
        types = _signal_types(tenant_a.vendor_id)
        day = TODAY - timedelta(days=200)
        _signals(tenant_a.vendor_id, tenant_a.customer_id, types, ("tickets_open", day, 1))
        _recompute(tenant_a, day)
        assert _health(tenant_a.customer_id).computed_at == datetime.combine(
            day, datetime.min.time().replace(hour=12), tzinfo=UTC
        )


def test_the_demo_leaves_a_year_of_history_ending_today(tenant_a, unscoped):
    from success import health_demo

    with unscoped():
        types = _signal_types(tenant_a.vendor_id)
        _account(tenant_a, tenant_a.customer_id)
        _signals(
            tenant_a.vendor_id,
            tenant_a.customer_id,
            types,
            *[("licences_used", TODAY - timedelta(days=30 * n), 100 + 25 * n) for n in range(13)],
        )
        health_demo.demo(tenant_a.vendor_id, TODAY)
        days = db.session.scalars(select(HealthHistory.day).order_by(HealthHistory.day)).all()
        assert days[0] == TODAY - timedelta(days=360)
        assert days[-1] == TODAY
        assert len(days) >= 6
        assert _health(tenant_a.customer_id).computed_at.date() == TODAY
