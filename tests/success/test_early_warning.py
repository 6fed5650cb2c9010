"""Early warning: who is listed and why (under the threshold, fallen fast, renewing while
amber or red), the suggested servlets, who sees the list, the thresholds, the CSV, the home
panels and the page's query count."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.permissions import OrgKind, Role
from core.templating import date_filter
from success.health_models import AccountHealth, Band, HealthHistory
from success.models import CustomerAccount, SuccessSettings
from success.playbook_models import SuggestionState
from tests import factories
from tests.catalog import factories as catalog_factories
from tests.conftest import sign_in
from tests.success import factories as success_factories
from tests.success.factories import NOT_ACCOUNT_READERS

TODAY = utcnow().date()


def _scored(
    tenant,
    name: str,
    score: int,
    band: Band,
    renews_in: int | None = None,
    was: int | None = None,
    owned: bool = True,
) -> int:
    """A customer with a score (``was``: its score 40 days ago), optionally renewing."""
    customer = factories.organization(name, OrgKind.CUSTOMER, tenant.vendor_id)
    if owned:
        customer.csm_id = tenant.people[Role.CSM].membership_id
    db.session.add(
        AccountHealth(
            vendor_id=tenant.vendor_id,
            customer_id=customer.id,
            score=score,
            band=band,
            computed_at=utcnow(),
            changed_at=utcnow(),
            components={},
        )
    )
    if renews_in is not None:
        db.session.add(
            CustomerAccount(
                vendor_id=tenant.vendor_id,
                organization_id=customer.id,
                currency="USD",
                renewal_date=TODAY + timedelta(days=renews_in),
            )
        )
    if was is not None:
        db.session.add_all(
            [
                HealthHistory(
                    vendor_id=tenant.vendor_id,
                    customer_id=customer.id,
                    day=TODAY - timedelta(days=40),
                    score=was,
                    band=Band.GREEN,
                ),
                HealthHistory(
                    vendor_id=tenant.vendor_id,
                    customer_id=customer.id,
                    day=TODAY,
                    score=score,
                    band=band,
                    changes=[
                        {
                            "component": "usage_trend",
                            "points": score - was,
                            "text": f"{score - was}: active users fell from 150 to 90 in 40 days",
                        }
                    ],
                ),
            ]
        )
    db.session.commit()
    return customer.id


def _suggest(tenant, customer_id: int, title: str) -> None:
    servlet_id = catalog_factories.servlet(tenant, title=title)
    success_factories.suggestions(
        tenant, servlet_id, [(customer_id, SuggestionState.OPEN, "Usage fell")]
    )


@pytest.fixture
def listed(tenant_a, unscoped):
    with unscoped():
        made = {
            "low": _scored(tenant_a, "Low Ltd", 45, Band.AMBER),
            "falling": _scored(tenant_a, "Falling Inc", 65, Band.AMBER, was=85),
            "renewing": _scored(tenant_a, "Renewing Co", 60, Band.AMBER, renews_in=30),
            "healthy_renewal": _scored(tenant_a, "Healthy Co", 80, Band.GREEN, renews_in=30),
            "steady": _scored(tenant_a, "Steady Co", 60, Band.AMBER, renews_in=200, was=62),
            "theirs": _scored(tenant_a, "Someone Else's", 30, Band.RED, owned=False),
        }
        _suggest(tenant_a, made["low"], "Adoption Health Check")
    return made


def _rows(page: str) -> list[str]:
    return list(page.split('data-testid="warning-row"')[1:])


def test_accounts_are_listed_for_each_reason_with_their_suggestions(client, tenant_a, listed):
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get("/accounts/early-warning").get_data(as_text=True)
    rows = _rows(page)
    assert [row.split(">", 1)[0].split('"')[1] for row in rows] == [
        str(listed["low"]),
        str(listed["renewing"]),
        str(listed["falling"]),
    ]
    assert "Score 45, under 50" in rows[0]
    assert "Adoption Health Check" in rows[0]
    assert f"Renews on {date_filter(TODAY + timedelta(days=30))} while amber" in rows[1]
    assert "Fell 20 points in 30 days" in rows[2]
    assert "-20: active users fell from 150 to 90" in rows[2]
    assert "Healthy Co" not in page
    assert "Steady Co" not in page
    # Another CSM's account shows when asking for all.
    everyone = client.get("/accounts/early-warning?who=all").get_data(as_text=True)
    assert "Someone Else&#39;s" in everyone or "Someone Else's" in everyone


def test_a_csm_kept_to_their_own_accounts_never_sees_another_s(client, tenant_a, listed, unscoped):
    with unscoped():
        db.session.add(
            SuccessSettings(vendor_id=tenant_a.vendor_id, csms_see_own_accounts_only=True)
        )
        db.session.commit()
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get("/accounts/early-warning?who=all").get_data(as_text=True)
    assert "Someone Else" not in page
    assert "Low Ltd" in page


def test_the_csv_holds_exactly_the_listed_rows(client, tenant_a, listed):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = client.get("/accounts/early-warning.csv?who=all")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["account", "owner", "score", "band"]
    assert [row[0] for row in rows[1:]] == [
        "Someone Else's",
        "Low Ltd",
        "Renewing Co",
        "Falling Inc",
    ]
    assert rows[2][6] == "Adoption Health Check"


def test_every_account_by_band_from_the_home_links(client, tenant_a, listed):
    sign_in(client, tenant_a.people[Role.CSM])
    amber = client.get("/accounts/early-warning?show=all&band=amber").get_data(as_text=True)
    assert len(_rows(amber)) == 4  # every amber account of mine, listed or not
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="panel-accounts-by-health"' in home
    assert 'data-testid="panel-early-warning"' in home
    assert "Low Ltd: 45 (amber)" in home
    sign_in(client, tenant_a.people[Role.ADMIN])
    admin_home = client.get("/").get_data(as_text=True)
    assert 'data-testid="panel-health-distribution"' in admin_home
    assert "6 of 8 accounts have a score." in admin_home


def test_an_admin_sets_the_thresholds_within_bounds(client, tenant_a, listed, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    url = "/accounts/early-warning/thresholds"
    refused = client.post(url, data={"warning_below": "0", "warning_drop": "15"})
    assert refused.status_code == 400
    assert "Warn under a score of: a whole number from 1 to 100." in refused.get_data(as_text=True)
    assert client.post(url, data={"warning_below": "abc", "warning_drop": "15"}).status_code == 400
    assert client.post(url, data={"warning_below": "70", "warning_drop": "30"}).status_code == 302
    page = client.get("/accounts/early-warning?who=all").get_data(as_text=True)
    assert "Steady Co" in page  # 60 is now under 70
    assert "Fell 20 points" not in page  # 20 is no longer a fall that counts
    with unscoped():
        assert (
            db.session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "success.warning_thresholds_changed"
                )
            )
            == 1
        )
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.post(url, data={"warning_below": "10", "warning_drop": "5"}).status_code == 403


@pytest.mark.parametrize("role", NOT_ACCOUNT_READERS)
def test_nobody_else_opens_the_health_pages(client, tenant_a, role):
    sign_in(client, tenant_a.people[role])
    for url in ("/accounts/early-warning", "/accounts/early-warning.csv", "/accounts/health-model"):
        assert client.get(url).status_code == 403
    assert client.post("/accounts/health-model", data={}).status_code == 403
    assert client.post("/accounts/early-warning/thresholds", data={}).status_code == 403


def test_a_csm_reads_the_list_but_not_the_weights(client, tenant_a):
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.get("/accounts/early-warning").status_code == 200
    assert client.get("/accounts/health-model").status_code == 403
    assert client.post("/accounts/health-model/remove", data={"segment": "x"}).status_code == 403


def test_another_vendor_sees_none_of_it(client, tenant_b, listed):
    sign_in(client, tenant_b.people[Role.ADMIN])
    page = client.get("/accounts/early-warning?who=all&show=all").get_data(as_text=True)
    assert _rows(page) == []


def test_the_list_reads_as_many_statements_for_many_accounts(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        _scored(tenant_a, "First", 10, Band.RED, renews_in=10, was=50)
        _suggest(
            tenant_a,
            db.session.scalar(select(Organization.id).where(Organization.name == "First")),
            "Check",
        )
    sign_in(client, tenant_a.people[Role.CSM])
    client.get("/accounts/early-warning")
    with count_queries() as few:
        client.get("/accounts/early-warning")
    with unscoped():
        for n in range(12):
            customer = _scored(tenant_a, f"More {n}", 20, Band.RED, renews_in=10, was=60)
            _suggest(tenant_a, customer, f"Check {n}")
    with count_queries() as many:
        page = client.get("/accounts/early-warning").get_data(as_text=True)
    assert len(_rows(page)) == 13
    assert len(many) == len(few)
