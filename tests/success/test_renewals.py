"""Renewals: the accounts renewing in a window with ARR, health band and open recommendations,
the forecast by band against a brute-force sum, time to first value against a brute-force
computation, who sees what, the CSV, query counts and the CSM's quarter panel."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from accounts.models import Organization
from catalog.models import RecommendationState
from core.db import utcnow
from core.extensions import db
from core.permissions import OrgKind, Role
from delivery.models import Engagement
from ordering.models import Order, OrderLine, OrderState
from success import renewals
from success.health_models import AccountHealth, Band
from success.models import CustomerAccount, SuccessSettings
from tests import factories
from tests.catalog import factories as catalog_factories
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.ordering import factories as ordering_factories


def customer(
    tenant,
    name: str,
    renews_in: int | None,
    arr: int,
    band: Band | None = None,
    currency: str = "USD",
    segment: str = "",
    owned: bool = False,
) -> int:
    org = factories.organization(name, OrgKind.CUSTOMER, tenant.vendor_id)
    if owned:
        org.csm_id = tenant.people[Role.CSM].membership_id
    today = utcnow().date()
    db.session.add(
        CustomerAccount(
            vendor_id=tenant.vendor_id,
            organization_id=org.id,
            currency=currency,
            arr_minor=arr,
            segment=segment,
            renewal_date=today + timedelta(days=renews_in) if renews_in is not None else None,
        )
    )
    if band is not None:
        score = {Band.GREEN: 80, Band.AMBER: 55, Band.RED: 20}[band]
        db.session.add(
            AccountHealth(
                vendor_id=tenant.vendor_id,
                customer_id=org.id,
                score=score,
                band=band,
                components={},
                computed_at=utcnow(),
                changed_at=utcnow(),
            )
        )
    db.session.commit()
    return org.id


def book(tenant) -> dict[str, int]:
    """Accounts renewing at various dates, bands and currencies."""
    return {
        "green": customer(tenant, "Green Co", 30, 100_000_00, Band.GREEN, owned=True),
        "green2": customer(tenant, "Green Two", 200, 50_000_00, Band.GREEN),
        "amber": customer(tenant, "Amber Co", 60, 70_000_00, Band.AMBER, owned=True),
        "red": customer(tenant, "Red Co", 300, 40_000_00, Band.RED),
        "unscored": customer(tenant, "Unscored Co", 10, 9_000_00),
        "euro": customer(tenant, "Euro GmbH", 45, 30_000_00, Band.RED, currency="EUR"),
        "later": customer(tenant, "Later Co", 400, 1_000_000_00, Band.GREEN),
        "past": customer(tenant, "Past Co", -5, 1_000_000_00, Band.RED),
        "no_date": customer(tenant, "No Date Co", None, 1_000_000_00, Band.RED),
    }


def brute_forecast(vendor_id: int, days: int, csm_id: int | None = None):
    today = utcnow().date()
    bands = {h.customer_id: h.band.value for h in db.session.scalars(select(AccountHealth))}
    sums: dict[tuple[str, str], int] = {}
    for account in db.session.scalars(select(CustomerAccount)):
        if account.vendor_id != vendor_id or account.renewal_date is None:
            continue
        if not today <= account.renewal_date <= today + timedelta(days=days):
            continue
        org = db.session.get(Organization, account.organization_id)
        if csm_id is not None and org.csm_id != csm_id:
            continue
        key = (account.currency, bands.get(account.organization_id, "none"))
        sums[key] = sums.get(key, 0) + account.arr_minor
    return sums


def test_the_forecast_is_arr_by_band_of_the_window(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        book(tenant_a)
        customer(tenant_b, "Other Vendor Co", 20, 5_000_00, Band.GREEN)
        admin = actor(tenant_a, Role.ADMIN)
    with unscoped(), client.application.test_request_context():
        from core.tenancy import tenant_scope

        for days, window in ((365, "365"), (90, "90")):
            with tenant_scope(tenant_a.vendor_id):
                made = renewals.forecast(
                    admin, renewals.RenewalFilters(window=window), utcnow().date()
                )
                expected = brute_forecast(tenant_a.vendor_id, days)
            got = {
                (currency, band): minor
                for currency, bands in made.arr.items()
                for band, minor in bands.items()
            }
            assert got == expected
        assert expected == {
            ("USD", "green"): 100_000_00,
            ("USD", "amber"): 70_000_00,
            ("USD", "none"): 9_000_00,
            ("EUR", "red"): 30_000_00,
        }
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get("/accounts/renewals").get_data(as_text=True)
    assert page.count('data-testid="renewal-row"') == 6
    for name in ("Green Co", "Green Two", "Amber Co", "Red Co", "Unscored Co", "Euro GmbH"):
        assert name in page
    for name in ("Later Co", "Past Co", "No Date Co", "Other Vendor Co"):
        assert name not in page
    assert page.index("Unscored Co") < page.index("Green Co") < page.index("Red Co")
    # USD: green 150,000, amber 70,000, red 40,000, no score 9,000; total 269,000.
    assert "$150,000.00" in _cell(page, "forecast-USD-green")
    assert "$40,000.00" in _cell(page, "forecast-USD-red")
    assert "$9,000.00" in _cell(page, "forecast-USD-none")
    assert "$269,000.00" in _cell(page, "forecast-USD-total")
    assert "30,000.00" in _cell(page, "forecast-EUR-red")
    assert _cell(page, "forecast-accounts-total").strip() == "6"
    quarter = client.get("/accounts/renewals?window=90").get_data(as_text=True)
    assert quarter.count('data-testid="renewal-row"') == 4


def _cell(page: str, testid: str) -> str:
    start = page.index(f'data-testid="{testid}"')
    return page[page.index(">", start) + 1 : page.index("</td>", start)]


def test_open_recommendations_and_health_on_each_row(client, tenant_a, unscoped):
    with unscoped():
        ids = book(tenant_a)
        servlet_id, _ = catalog_factories.shop(tenant_a)
        catalog_factories.recommendation(tenant_a, servlet_id)
        catalog_factories.recommendation(tenant_a, servlet_id, reason="Second")
        declined = catalog_factories.recommendation(tenant_a, servlet_id, reason="Third")
        from catalog.models import Recommendation

        db.session.get(Recommendation, declined).state = RecommendationState.DECLINED
        # The tenant's own customer renews soon too.
        db.session.add(
            CustomerAccount(
                vendor_id=tenant_a.vendor_id,
                organization_id=tenant_a.customer_id,
                currency="USD",
                arr_minor=1_00,
                renewal_date=utcnow().date() + timedelta(days=5),
            )
        )
        db.session.commit()
        assert ids
    sign_in(client, tenant_a.people[Role.ADMIN])
    body = client.get("/accounts/renewals.csv").get_data(as_text=True)
    rows = {row["account"]: row for row in csv.DictReader(io.StringIO(body))}
    assert rows["Acme Software Customer"]["open_recommendations"] == "2"
    assert rows["Green Co"]["open_recommendations"] == "0"
    assert rows["Green Co"]["health_band"] == "Green"
    assert rows["Green Co"]["health_score"] == "80"
    assert rows["Unscored Co"]["health_band"] == "No score"
    assert rows["Euro GmbH"]["currency"] == "EUR"
    assert rows["Euro GmbH"]["arr"] == "30000.00"
    assert len(rows) == 7


def test_who_sees_which_renewals(client, tenant_a, unscoped):
    with unscoped():
        book(tenant_a)
    csm = tenant_a.people[Role.CSM]
    sign_in(client, csm)
    mine = client.get("/accounts/renewals").get_data(as_text=True)
    assert mine.count('data-testid="renewal-row"') == 2
    assert (
        client.get("/accounts/renewals?who=all")
        .get_data(as_text=True)
        .count('data-testid="renewal-row"')
        == 6
    )
    with unscoped():
        db.session.add(
            SuccessSettings(vendor_id=tenant_a.vendor_id, csms_see_own_accounts_only=True)
        )
        db.session.commit()
    kept = client.get("/accounts/renewals?who=all").get_data(as_text=True)
    assert kept.count('data-testid="renewal-row"') == 2
    assert "Red Co" not in kept
    assert "$170,000.00" in _cell(kept, "forecast-USD-total")
    for role in Role:
        sign_in(client, tenant_a.people[role])
        expected = 200 if role in (Role.ADMIN, Role.CSM) else 403
        assert client.get("/accounts/renewals").status_code == expected, role
        assert client.get("/accounts/renewals.csv").status_code == expected, role
    sign_in(client, tenant_a.neighbours[Role.BUYER])
    assert client.get("/accounts/renewals").status_code == 403


def test_the_page_runs_the_same_queries_with_more_accounts(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        customer(tenant_a, "First Co", 10, 1_00, Band.GREEN, owned=True)
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.get("/accounts/renewals")
    with count_queries() as few:
        client.get("/accounts/renewals")
    with unscoped():
        book(tenant_a)
        for n in range(8):
            customer(tenant_a, f"More {n}", 20 + n, 1_00, Band.AMBER, segment="SMB")
    with count_queries() as many:
        page = client.get("/accounts/renewals").get_data(as_text=True)
    assert page.count('data-testid="renewal-row"') == 15
    assert len(many) == len(few)


# --- time to first value -----------------------------------------------------------------


def at(days: float) -> datetime:
    return datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(days=days)


def test_time_to_first_value_per_account_and_segment(client, tenant_a, unscoped):
    """Four orders (one engagement each) moved onto accounts of two segments at known times;
    the page and the function agree with a brute-force computation."""
    with unscoped():
        ids = {
            "a": customer(tenant_a, "Alpha", 30, 1_00, segment="Enterprise"),
            "b": customer(tenant_a, "Beta", 40, 1_00, segment="Enterprise"),
            "c": customer(tenant_a, "Gamma", 50, 1_00, segment="SMB"),
            "d": customer(tenant_a, "Delta", 60, 1_00, segment="SMB"),
        }
        orders = [ordering_factories.order(tenant_a) for _ in range(5)]
        plan = [
            # (customer, order placed, engagement accepted, order cancelled)
            ("a", at(0), at(10), False),
            ("a", at(2), at(5), False),  # a later order accepted first: 5 days
            ("b", at(1), at(4.5), False),
            ("c", at(3), None, False),  # waiting
            ("d", at(-30), None, True),  # cancelled: not counted
        ]
        for order_id, (key, placed, accepted, cancelled) in zip(orders, plan, strict=True):
            order = db.session.get(Order, order_id)
            order.customer_id = ids[key]
            order.created_at = placed
            if cancelled:
                order.state = OrderState.CANCELLED
            for engagement in db.session.scalars(
                select(Engagement)
                .join(OrderLine, OrderLine.id == Engagement.order_line_id)
                .where(OrderLine.order_id == order_id)
            ):
                engagement.customer_id = ids[key]
                engagement.accepted_at = accepted
        db.session.commit()
        expected = brute_first_value()
        from core.tenancy import tenant_scope

        with tenant_scope(tenant_a.vendor_id):
            got = renewals.first_value()
        assert {k: v.days for k, v in got.items()} == expected
        assert expected[ids["a"]] == 5
        assert expected[ids["b"]] == 3.5
        assert expected[ids["c"]] is None
        assert ids["d"] not in expected
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get("/accounts/renewals").get_data(as_text=True)
    medians = {
        segment: statistics.median(
            [d for c, d in expected.items() if d is not None and c in segment_ids]
        )
        for segment, segment_ids in (("Enterprise", (ids["a"], ids["b"])),)
    }
    assert medians["Enterprise"] == 4.25
    section = page[page.index('data-testid="time-to-first-value"') :]
    assert "Enterprise" in section
    assert "4.2 days" in section or "4.3 days" in section
    smb = section[section.index("SMB") :]
    assert "—" in smb[: smb.index("</tr>")]
    assert "Waiting" in page


def brute_first_value() -> dict[int, float | None]:
    placed: dict[int, datetime] = {}
    for order in db.session.scalars(select(Order)):
        if order.state is OrderState.CANCELLED:
            continue
        if order.customer_id not in placed or order.created_at < placed[order.customer_id]:
            placed[order.customer_id] = order.created_at
    accepted: dict[int, datetime] = {}
    for engagement in db.session.scalars(select(Engagement)):
        if engagement.accepted_at is None:
            continue
        first = accepted.get(engagement.customer_id)
        if first is None or engagement.accepted_at < first:
            accepted[engagement.customer_id] = engagement.accepted_at
    return {
        customer_id: (
            (accepted[customer_id] - when).total_seconds() / 86400
            if customer_id in accepted
            else None
        )
        for customer_id, when in placed.items()
    }


def test_the_csm_home_shows_renewals_this_quarter(client, tenant_a, unscoped):
    with unscoped():
        today = utcnow().date()
        left = (renewals.quarter_end(today) - today).days
        customer(tenant_a, "Soon Co", min(left, 3), 12_000_00, Band.AMBER, owned=True)
        customer(tenant_a, "Next Quarter Co", left + 1, 5_00, Band.GREEN, owned=True)
        customer(tenant_a, "Not Mine Co", 0, 7_00, Band.RED)
    sign_in(client, tenant_a.people[Role.CSM])
    home = client.get("/").get_data(as_text=True)
    panel = home[home.index('data-testid="panel-renewals-quarter"') :]
    assert "Soon Co" in panel
    assert "$12,000.00" in panel
    assert "Next Quarter Co" not in panel
    assert "Not Mine Co" not in panel


def test_quarter_end():
    from datetime import date

    assert renewals.quarter_end(date(2026, 12, 2)) == date(2026, 12, 31)
    assert renewals.quarter_end(date(2026, 1, 1)) == date(2026, 3, 31)
    assert renewals.quarter_end(date(2026, 6, 30)) == date(2026, 6, 30)
    assert renewals.quarter_end(date(2026, 8, 15)) == date(2026, 9, 30)
