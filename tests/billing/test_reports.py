"""Finance's reports and home: every figure equals a brute-force count over the rows, the
CSV is the table, the pages cost a fixed number of queries, and only finance and admin see
them."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from accounts.models import Organization
from billing import credit_notes, invoices, payments, refunds, reports, revenue
from billing.models import (
    OPEN_STATES,
    Charge,
    CreditEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
)
from catalog.models import BillingPolicy, ServletVersion
from core.charts import horizontal_bars
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import Role
from core.tenancy import tenant_scope
from delivery import kpi_facts
from delivery.kpis import Period
from delivery.models import Engagement, EngagementState
from tests.billing import factories
from tests.conftest import sign_in

USD = "USD"
ALL_TIME = 1000  # days back a custom period reaches: before any test data


def usd(amount: int) -> Money:
    return Money(amount, USD)


def days_ago(days: int) -> date:
    return utcnow().date() - timedelta(days=days)


def backdate(invoice_id: int, issued: date, due: date) -> None:
    """Move an issued invoice in time (its issue and due dates only)."""
    invoice = db.session.get(Invoice, invoice_id)
    invoice.issued_on, invoice.due_on = issued, due
    db.session.commit()


def hand_invoice(tenant, net: int, issued: date, due: date, customer_id=None) -> int:
    invoice_id = factories.issued(tenant, ("Advisory day", 1, usd(net)), customer_id=customer_id)
    backdate(invoice_id, issued, due)
    return invoice_id


def pay(tenant, invoice_id: int, amount: int, received_on: date) -> int:
    invoice = db.session.get(Invoice, invoice_id)
    return payments.record_bank_transfer(
        factories.finance(tenant), invoice, usd(amount), received_on, "Transfer"
    ).id


@dataclass(frozen=True)
class Books:
    prepaid_invoice: int
    engagements: list[int]
    drafts: int


def books(tenant) -> Books:
    """A small varied year: a prepaid order of three units (one accepted, one credited in
    part), an overdue invoice in each ageing bucket, partial payments, an overpayment kept as
    credit, a refund, an invoice on acceptance, a first milestone, a draft waiting."""
    factories.set_tax(tenant, "20")
    who = factories.finance(tenant)
    # Prepaid, three units on one line: issued at once; four months ago, 95 days overdue.
    prepaid = factories.order_invoice(tenant, usd(100_001), 3, title="Security Review")
    backdate(prepaid, days_ago(125), days_ago(95))
    units = list(
        db.session.scalars(
            select(Charge.engagement_id)
            .join(InvoiceLine, InvoiceLine.id == Charge.invoice_line_id)
            .where(InvoiceLine.invoice_id == prepaid)
            .order_by(Charge.id)
        )
    )
    factories.accept_at(units[0], datetime.combine(days_ago(60), datetime.min.time(), UTC))
    engagement = db.session.get(Engagement, units[0])
    engagement.delivered_at = datetime.combine(days_ago(62), datetime.min.time(), UTC)
    db.session.commit()
    factories.partner_assignment(tenant, units[0], fee_minor=40_000)
    kpi_facts.refresh([units[0]])
    db.session.commit()
    pay(tenant, prepaid, 50_000, days_ago(100))
    invoice = db.session.get(Invoice, prepaid)
    [line] = invoices.lock(invoice).lines
    note = credit_notes.issue_credit_note(
        who, invoice, "One unit cancelled, in part", {line.id: usd(70_000)}
    )
    db.session.get(CreditNote, note.id).issued_on = days_ago(30)
    db.session.commit()

    # Hand invoices, one per ageing bucket, paid in several ways.
    late_10 = hand_invoice(tenant, 20_000, days_ago(40), days_ago(10))
    pay(tenant, late_10, 5_000, days_ago(5))
    late_45 = hand_invoice(tenant, 30_000, days_ago(75), days_ago(45))
    late_75 = hand_invoice(tenant, 12_345, days_ago(105), days_ago(75))
    hand_invoice(tenant, 9_999, days_ago(3), days_ago(-27), customer_id=tenant.neighbour_id)
    overpaid = hand_invoice(tenant, 10_000, days_ago(50), days_ago(20))
    overpayment = pay(tenant, overpaid, 15_000, days_ago(45))
    refunds.refund_payment(
        who, db.session.get(Payment, overpayment), usd(2_000), days_ago(1), "Sent back part"
    )
    pay(tenant, late_45, 6_000, days_ago(2))
    assert late_75

    # On acceptance: the accepted engagement's draft, issued today; a milestone's first half.
    accepted = factories.accepted(tenant, BillingPolicy.ON_ACCEPTANCE, price=usd(80_000))
    for draft in factories.drafts_of(accepted):
        invoices.issue(who, draft)
    started = factories.started(tenant, BillingPolicy.MILESTONES, price=usd(60_001))
    for draft in factories.drafts_of(started):
        invoices.issue(who, draft)
    # A draft waiting for finance.
    waiting = invoices.draft_for(who, tenant.customer_id)
    invoices.add_line(who, waiting, "Extra workshop", 2, usd(25_000))
    return Books(prepaid, [*units, accepted, started], waiting.id)


# --- brute force --------------------------------------------------------------------------


def scoped_report(tenant, make, *args):
    """A report of ``tenant`` under its tenant scope, as a request reads it."""
    with tenant_scope(tenant.vendor_id):
        return make(tenant.vendor_id, *args)


def vendor_rows(model, tenant):
    return list(db.session.scalars(select(model).where(model.vendor_id == tenant.vendor_id)))


def brute_ageing(tenant, today: date) -> dict[str, list[int]]:
    """Customer name -> owed per bucket, by walking the open invoices."""
    owed: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    for invoice in vendor_rows(Invoice, tenant):
        if invoice.state not in OPEN_STATES:
            continue
        late = (today - invoice.due_on).days
        index = 0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
        owed[db.session.get(Organization, invoice.customer_id).name][index] += (
            invoice.balance.amount
        )
    return dict(owed)


def lines_of(note: CreditNote) -> list[CreditNoteLine]:
    return list(
        db.session.scalars(select(CreditNoteLine).where(CreditNoteLine.credit_note_id == note.id))
    )


def month(day: date) -> date:
    return day.replace(day=1)


def brute_revenue(tenant) -> dict[str, dict[date, int]]:
    """Invoiced, collected, deferred and recognised by month, by walking every row."""
    figures: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    engagements = {e.id: e for e in vendor_rows(Engagement, tenant)}
    charges = defaultdict(list)
    for charge in vendor_rows(Charge, tenant):
        if charge.invoice_line_id is not None:
            charges[charge.invoice_line_id].append(charge)

    def book(amount: int, engagement_id: int | None, on: date) -> None:
        e = engagements.get(engagement_id)
        if e is None or e.state is EngagementState.ACCEPTED:
            when = on if e is None else max(on, e.accepted_at.date())
            figures["recognised"][month(when)] += amount
        else:
            figures["deferred"][month(on)] += amount

    lines = {line.id: line for line in vendor_rows(InvoiceLine, tenant)}
    for invoice in vendor_rows(Invoice, tenant):
        if invoice.issued_on is None:
            continue
        for line in (line for line in lines.values() if line.invoice_id == invoice.id):
            figures["invoiced"][month(invoice.issued_on)] += line.net_minor
            for charge in charges[line.id]:
                book(charge.amount_minor, charge.engagement_id, invoice.issued_on)
            book(
                line.net_minor - sum(c.amount_minor for c in charges[line.id]),
                None,
                invoice.issued_on,
            )
    for note in vendor_rows(CreditNote, tenant):
        for credit_line in lines_of(note):
            line = lines[credit_line.invoice_line_id]
            figures["invoiced"][month(note.issued_on)] -= credit_line.net_minor
            shares = 0
            for charge in charges[line.id]:
                share = credit_line.net_minor * charge.amount_minor // line.net_minor
                shares += share
                book(-share, charge.engagement_id, note.issued_on)
            book(shares - credit_line.net_minor, None, note.issued_on)
    for payment in vendor_rows(Payment, tenant):
        figures["collected"][month(payment.received_on)] += payment.applied_minor
    for refund in vendor_rows(Refund, tenant):
        figures["collected"][month(refund.refunded_on)] -= refund.from_invoice_minor
    return figures


def as_months(report: revenue.Revenue, name: str) -> dict[date, int]:
    return {
        m.month: getattr(m, f"{name}_minor") for m in report.months if getattr(m, f"{name}_minor")
    }


def nonzero(figures: dict[date, int]) -> dict[date, int]:
    return {key: value for key, value in figures.items() if value}


# --- the reports' figures -------------------------------------------------------------------


def test_ar_ageing_puts_each_open_invoice_in_its_bucket_per_customer(app, tenant_a, unscoped):
    with unscoped():
        books(tenant_a)
        today = utcnow().date()
        report = scoped_report(tenant_a, reports.ageing, today)
        expected = brute_ageing(tenant_a, today)
        assert {row.name: list(row.buckets) for row in report.rows if row.invoices} == expected
        assert all(amount > 0 for amount in report.totals.buckets)  # one invoice in each
        assert list(report.totals.buckets) == [
            sum(col) for col in zip(*expected.values(), strict=True)
        ]
        credit = sum(e.amount_minor for e in vendor_rows(CreditEntry, tenant_a))
        assert report.totals.credit_minor == credit > 0
        overdue = [i for i in vendor_rows(Invoice, tenant_a) if i.overdue_on(today)]
        assert report.totals.overdue_invoices == len(overdue)
        assert report.totals.overdue.amount == sum(i.balance.amount for i in overdue)


def test_revenue_by_month_equals_the_rows_and_deferred_plus_recognised_is_invoiced(
    app, tenant_a, unscoped
):
    with unscoped():
        books(tenant_a)
        period = Period(days_ago(ALL_TIME), utcnow().date())
        report = scoped_report(tenant_a, revenue.by_month, period)
        expected = brute_revenue(tenant_a)
        for name in ("invoiced", "collected", "deferred", "recognised"):
            assert as_months(report, name) == nonzero(expected[name]), name
        totals = report.totals
        assert totals.deferred_minor + totals.recognised_minor == totals.invoiced_minor
        issued = [i for i in vendor_rows(Invoice, tenant_a) if i.issued_on is not None]
        credited = sum(n.subtotal_minor for n in vendor_rows(CreditNote, tenant_a))
        assert totals.invoiced_minor == sum(i.subtotal_minor for i in issued) - credited
        assert totals.collected_minor == sum(i.paid_minor for i in issued)
        assert len(as_months(report, "invoiced")) >= 4  # several months, some deferred
        assert totals.deferred_minor > 0
        assert totals.recognised_minor > 0


def test_a_credit_note_reduces_its_own_month_split_over_the_lines_engagements(
    app, tenant_a, unscoped
):
    with unscoped():
        prepaid = factories.order_invoice(tenant_a, usd(100_001), 3)
        backdate(prepaid, days_ago(125), days_ago(95))
        first = db.session.scalar(
            select(Charge.engagement_id)
            .where(Charge.vendor_id == tenant_a.vendor_id)
            .order_by(Charge.id)
        )
        factories.accept_at(first, datetime.combine(days_ago(60), datetime.min.time(), UTC))
        invoice = db.session.get(Invoice, prepaid)
        [line] = invoices.lock(invoice).lines
        credit_notes.issue_credit_note(
            factories.finance(tenant_a), invoice, "Part of a unit", {line.id: usd(70_000)}
        )
        report = scoped_report(
            tenant_a, revenue.by_month, Period(days_ago(ALL_TIME), utcnow().date())
        )
        # 70,000.00 over three charges of 100,001: 23,333 each, and the cent left to none.
        by_month = {m.month: m for m in report.months}
        this_month = by_month[month(utcnow().date())]
        assert this_month.invoiced_minor == -70_000
        assert this_month.recognised_minor == -23_333 - 1
        assert this_month.deferred_minor == -2 * 23_333
        assert by_month[month(days_ago(60))].recognised_minor == 100_001
        assert by_month[month(days_ago(125))].invoiced_minor == 300_003
        assert by_month[month(days_ago(125))].deferred_minor == 200_002
        totals = report.totals
        assert totals.invoiced_minor == 300_003 - 70_000
        assert totals.deferred_minor + totals.recognised_minor == totals.invoiced_minor


def test_margin_by_servlet_is_invoiced_revenue_less_delivery_cost(app, tenant_a, unscoped):
    with unscoped():
        made = books(tenant_a)
        period = Period(days_ago(ALL_TIME), utcnow().date())
        report = scoped_report(tenant_a, reports.margins, period)
        net: dict[int | None, int] = defaultdict(int)
        lines = {line.id: line for line in vendor_rows(InvoiceLine, tenant_a)}
        for line in lines.values():
            if db.session.get(Invoice, line.invoice_id).issued_on is not None:
                net[line.servlet_id] += line.net_minor
        for note in vendor_rows(CreditNote, tenant_a):
            for credit_line in lines_of(note):
                net[lines[credit_line.invoice_line_id].servlet_id] -= credit_line.net_minor
        cost: dict[int | None, int] = defaultdict(int)
        for e in vendor_rows(Engagement, tenant_a):
            if e.delivered_at is not None and e.state in (
                EngagementState.DELIVERED,
                EngagementState.ACCEPTED,
            ):
                cost[db.session.get(ServletVersion, e.servlet_version_id).servlet_id] += (
                    e.approved_cost_minor + e.partner_fee_minor
                )
        got = {m.servlet_id: (m.revenue_minor, m.cost_minor) for m in report.rows}
        keys = set(net) | set(cost)
        assert got == {key: (net[key], cost[key]) for key in keys}
        security = next(m for m in report.rows if m.name == "Security Review")
        assert security.cost_minor == 40_000
        assert security.margin.amount == security.revenue_minor - 40_000
        assert security.margin_rate == (
            Decimal(security.revenue_minor - 40_000) / security.revenue_minor
        ).quantize(Decimal("0.0001"))
        whole = scoped_report(tenant_a, revenue.by_month, period).totals.invoiced_minor
        assert report.totals.revenue_minor == whole
        assert made.engagements


def test_another_tenants_books_do_not_count(app, tenant_a, tenant_b, unscoped):
    with unscoped():
        books(tenant_a)
        period = Period(days_ago(ALL_TIME), utcnow().date())
        assert scoped_report(tenant_b, reports.ageing, utcnow().date()).rows == []
        assert scoped_report(tenant_b, revenue.by_month, period).totals.invoiced_minor == 0
        assert scoped_report(tenant_b, reports.margins, period).rows == []


# --- pages ---------------------------------------------------------------------------------


def table(html: str) -> list[list[str]]:
    """The report table's body and totals rows, as the cells' text."""
    body = re.search(r'data-testid="report-table">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("</thead>")[1], re.S)
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def shown_money(cell: str) -> str:
    return str(Money(int(Decimal(cell) * 100), USD))


def shown_month(cell: str) -> str:
    return cell if cell == "Total" else datetime.strptime(cell, "%Y-%m").strftime("%B %Y")


def shown_rate(cell: str) -> str:
    return "—" if cell == "" else f"{Decimal(cell) * 100:.1f}%"


# How the page shows each column of the CSV (the currency column is the page's headline).
AGEING = [str, *[shown_money] * 6, str, str, shown_money]
REVENUE = [shown_month, *[shown_money] * 4]
MARGINS = [str, *[shown_money] * 3, shown_rate]


@pytest.mark.parametrize(
    ("page", "export", "columns"),
    [
        ("/reports/ageing", "/reports/ageing.csv", AGEING),
        ("/reports/revenue?period=year", "/reports/revenue.csv?period=year", REVENUE),
        ("/reports/margins?period=year", "/reports/margins.csv?period=year", MARGINS),
    ],
)
def test_each_reports_csv_is_its_table(app, tenant_a, unscoped, page, export, columns):
    with unscoped():
        books(tenant_a)
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="chart-' in html
    response = client.get(export)
    assert response.mimetype == "text/csv"
    header, *rows = csv.reader(io.StringIO(response.get_data(as_text=True)))
    assert header[-1] == "currency"
    assert {row[-1] for row in rows} == {USD}
    as_shown = [[show(cell) for show, cell in zip(columns, row, strict=False)] for row in rows]
    assert as_shown == table(html)
    assert len(rows) > 2
    assert rows[-1][0] == "Total"


def test_the_revenue_page_labels_revenue_as_net_of_tax(app, tenant_a, unscoped):
    with unscoped():
        books(tenant_a)
    client = sign_in(app.test_client(), tenant_a.people[Role.ADMIN])
    html = client.get("/reports/revenue").get_data(as_text=True)
    assert "net of tax" in html
    assert "Invoiced (net)" in html


def test_reports_with_no_books_say_so(app, tenant_a):
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])
    for url in ("/reports/ageing", "/reports/revenue", "/reports/margins"):
        response = client.get(url)
        assert response.status_code == 200
        assert 'data-testid="empty-state"' in response.get_data(as_text=True), url


def test_a_custom_period_that_cannot_be_is_refused_with_a_reason(app, tenant_a):
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])
    html = client.get("/reports/revenue?period=custom&start=2026-05-01&end=2026-01-01").get_data(
        as_text=True
    )
    assert "end is before its start" in html
    for bad in ("period=decade", "start=never", "period=custom&start=1900-01-01&end=2026-01-01"):
        assert client.get(f"/reports/margins?{bad}").status_code == 200


@pytest.mark.parametrize(
    "role",
    [Role.CSM, Role.DELIVERY_MANAGER, Role.CONSULTANT, Role.BUYER, Role.PARTNER_MANAGER],
)
def test_reports_are_finances_and_admins_only(app, tenant_a, role):
    client = sign_in(app.test_client(), tenant_a.people[role])
    for url in (
        "/reports/ageing",
        "/reports/ageing.csv",
        "/reports/revenue?period=year",
        "/reports/revenue.csv",
        "/reports/margins",
        "/reports/margins.csv",
    ):
        assert client.get(url).status_code == 403, url
    html = client.get("/").get_data(as_text=True)
    assert "/reports/ageing" not in html  # no "Reports" in the sidebar


def test_the_sidebar_offers_reports_under_bill_to_finance(app, tenant_a):
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])
    html = client.get("/").get_data(as_text=True)
    assert 'href="/reports/ageing"' in html


def test_report_pages_cost_the_same_queries_whatever_the_books(
    app, tenant_a, unscoped, count_queries
):
    urls = ["/reports/ageing", "/reports/revenue?period=year", "/reports/margins?period=year", "/"]
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])

    def costs() -> list[int]:
        counted = []
        for url in urls:
            client.get(url)  # warm: the session and the navigation
            with count_queries() as statements:
                assert client.get(url).status_code == 200
            counted.append(len(statements))
        return counted

    with unscoped():
        books(tenant_a)
    small = costs()
    with unscoped():
        for days in range(5, 125, 10):
            hand_invoice(tenant_a, 1_000 + days, days_ago(days + 20), days_ago(days))
        for _ in range(3):
            books_more = factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE, price=usd(7_000))
            for draft in factories.drafts_of(books_more):
                invoices.issue(factories.finance(tenant_a), draft)
    assert costs() == small
    assert max(small) <= 30


# --- finance's home -----------------------------------------------------------------------


def panel(html: str, key: str) -> str:
    match = re.search(rf'data-testid="panel-{key}">(.*?)</section>', html, re.S)
    assert match, f"no {key} panel"
    return match.group(1)


def figures(section: str) -> dict[str, str]:
    pairs = re.findall(
        r'data-testid="figure-value">([^<]*)</div>\s*<div class="small text-muted">([^<]*)</div>',
        section,
    )
    return {unescape(label): unescape(value) for value, label in pairs}


def test_finance_home_shows_overdue_totals_drafts_to_issue_and_payments_to_match(
    app, tenant_a, unscoped
):
    with unscoped():
        made = books(tenant_a)
        today = utcnow().date()
        overdue = [i for i in vendor_rows(Invoice, tenant_a) if i.overdue_on(today)]
        drafts = [i for i in vendor_rows(Invoice, tenant_a) if i.is_draft]
        partly = [i for i in vendor_rows(Invoice, tenant_a) if i.state.value == "partially_paid"]
        credit = sum(e.amount_minor for e in vendor_rows(CreditEntry, tenant_a))
        ageing = scoped_report(tenant_a, reports.ageing, today)
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])
    home = client.get("/").get_data(as_text=True)

    late = panel(home, "overdue")
    assert figures(late) == {
        "Overdue": str(usd(sum(i.balance.amount for i in overdue))),
        "Invoices overdue": str(len(overdue)),
    }
    assert figures(late)["Overdue"] == str(ageing.totals.overdue)  # the report behind it
    assert f"/invoices/{made.prepaid_invoice}" in late  # the most overdue, first
    assert 'data-testid="panel-empty"' not in late

    to_issue = panel(home, "drafts")
    assert figures(to_issue)["Drafts to issue"] == str(len(drafts)) == "1"
    assert figures(to_issue)["Their total"] == str(usd(sum(i.total_minor for i in drafts)))
    assert "/invoices?state=draft" in to_issue
    assert f"/invoices/{made.drafts}" in to_issue

    to_match = panel(home, "to-match")
    assert figures(to_match)["Customer credit unused"] == str(usd(credit))
    assert figures(to_match)["Invoices paid in part"] == str(len(partly))
    assert len(partly) >= 2
    assert 'data-testid="panel-empty"' not in to_match


def test_finance_home_charts_what_the_revenue_report_says_was_invoiced(app, tenant_a, unscoped):
    with unscoped():
        books(tenant_a)
        this_month = month(utcnow().date())
        invoiced = brute_revenue(tenant_a)["invoiced"][this_month]
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])
    trend = panel(client.get("/").get_data(as_text=True), "revenue-trend")
    title = re.search(r'<title id="chart-trend-title">([^<]*)</title>', trend).group(1)
    assert f"{this_month:%b %Y} {usd(invoiced)}" in unescape(title)
    assert title.count(" 20") == 6  # six months


def test_a_month_of_more_credit_than_invoicing_draws_no_bar_but_states_its_figure():
    chart = horizontal_bars(
        [("Oct", 500, "invoiced"), ("Nov", -200, "invoiced")], texts=["$5.00", "-$2.00"]
    )
    october, november = chart.bars
    assert october.width == chart.track_width
    assert november.width == 0
    assert november.text == "-$2.00"


def test_finance_home_with_nothing_waiting_says_so_in_each_panel(app, tenant_a):
    client = sign_in(app.test_client(), tenant_a.people[Role.FINANCE])
    home = client.get("/").get_data(as_text=True)
    for key in ("overdue", "drafts", "to-match"):
        section = panel(home, key)
        assert 'data-testid="panel-empty"' in section, key
    assert figures(panel(home, "overdue"))["Invoices overdue"] == "0"
