"""Every role's home tells the truth: its figures are the database's, and a panel that says
nothing waits is never shown while work waits. Checked on the seeded demo, signed in
through the real form as each demo person."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select

from accounts.models import Organization, User
from billing.models import OPEN_STATES, CreditEntry, Invoice, InvoiceState
from catalog.models import Recommendation, RecommendationState
from core.db import utcnow
from core.demo import run_seeders
from core.extensions import db
from delivery.models import CLOSED, Engagement, EngagementState, TimeEntry, TimeEntryState
from ordering.models import Entitlement, Order, OrderState
from ordering.payment_models import CardPayment

PASSWORD = "servlet-demo-1"
OPEN_ORDERS = (OrderState.AWAITING_APPROVAL, OrderState.AWAITING_PAYMENT, OrderState.CONFIRMED)


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


def says_nothing_waits(section: str) -> bool:
    return 'data-testid="panel-empty"' in section


def home_of(client, email: str) -> str:
    client.post("/sign-out")
    response = client.post("/sign-in", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, email
    return client.get("/").data.decode()


def count(*criteria) -> int:
    return db.session.scalar(select(func.count()).where(*criteria))


def test_each_roles_home_shows_the_figures_of_the_database(app, client, unscoped):
    with unscoped():
        run_seeders()
        blue = db.session.scalar(select(Organization).where(Organization.name.like("Blue%")))
        csm = db.session.scalar(select(User).where(User.email == "csm@northwind.example"))
        waiting_approval = count(
            Order.customer_id == blue.id, Order.state == OrderState.AWAITING_APPROVAL
        )
        open_orders = count(Order.customer_id == blue.id, Order.state.in_(OPEN_ORDERS))
        today = utcnow().date()
        credits = sum(
            e.remaining
            for e in db.session.scalars(
                select(Entitlement).where(
                    Entitlement.customer_id == blue.id,
                    Entitlement.valid_from <= today,
                    Entitlement.valid_until >= today,
                )
            )
        )
        running = count(Engagement.customer_id == blue.id, Engagement.state.not_in(CLOSED))
        open_recommendations = count(
            Recommendation.recommended_by_id == csm.id,
            Recommendation.state.in_([RecommendationState.PROPOSED, RecommendationState.VIEWED]),
        )
        requested = count(
            Engagement.vendor_id == blue.vendor_id,
            Engagement.state == EngagementState.REQUESTED,
        )
        awaiting_payment = count(
            Order.vendor_id == blue.vendor_id, Order.state == OrderState.AWAITING_PAYMENT
        )
        refunds = count(
            CardPayment.vendor_id == blue.vendor_id,
            CardPayment.refund_requested_at.is_not(None),
            CardPayment.refunded_at.is_(None),
        )
        not_started = count(
            Engagement.vendor_id == blue.vendor_id,
            Engagement.state.in_([EngagementState.REQUESTED, EngagementState.SCHEDULED]),
            Engagement.start_by < today,
        )
        submitted = count(
            TimeEntry.vendor_id == blue.vendor_id, TimeEntry.state == TimeEntryState.SUBMITTED
        )
        late_invoices = count(
            Invoice.vendor_id == blue.vendor_id,
            Invoice.state.in_(OPEN_STATES),
            Invoice.due_on < today,
        )
        draft_invoices = count(
            Invoice.vendor_id == blue.vendor_id, Invoice.state == InvoiceState.DRAFT
        )
        paid_in_part = count(
            Invoice.vendor_id == blue.vendor_id, Invoice.state == InvoiceState.PARTIALLY_PAID
        )
        holding_credit = db.session.scalar(
            select(func.count()).select_from(
                select(CreditEntry.customer_id)
                .where(CreditEntry.vendor_id == blue.vendor_id)
                .group_by(CreditEntry.customer_id)
                .having(func.sum(CreditEntry.amount_minor) > 0)
                .subquery()
            )
        )
    assert all([waiting_approval, open_orders, credits, running, open_recommendations, requested])
    assert all([not_started, submitted])  # the demo holds late work and time to approve

    approvals = panel(home_of(client, "approver@blue.example"), "approvals")
    assert figures(approvals)["Waiting for you"] == str(waiting_approval)
    assert not says_nothing_waits(approvals)

    for email in ("buyer@blue.example", "viewer@blue.example"):
        home = home_of(client, email)
        orders = panel(home, "orders")
        assert figures(orders) == {"Open orders": str(open_orders), "Credits left": str(credits)}
        assert not says_nothing_waits(orders)
        engagements = panel(home, "engagements")
        assert figures(engagements) == {"Under way or waiting to start": str(running)}

    recommendations = panel(home_of(client, "csm@northwind.example"), "recommendations")
    assert figures(recommendations)["Open"] == str(open_recommendations)
    assert not says_nothing_waits(recommendations)

    manager = home_of(client, "delivery.manager@northwind.example")
    allocation = panel(manager, "allocation")
    assert figures(allocation)["Waiting"] == str(requested)
    assert not says_nothing_waits(allocation)
    assert figures(panel(manager, "late"))["Not started by their start date"] == str(not_started)
    assert not says_nothing_waits(panel(manager, "late"))
    assert figures(panel(manager, "time-approvals"))["Entries waiting"] == str(submitted)
    assert not says_nothing_waits(panel(manager, "time-approvals"))

    finance = home_of(client, "finance@northwind.example")
    payments = panel(finance, "payments")
    assert figures(payments)["Orders awaiting payment"] == str(awaiting_payment)
    assert figures(payments)["Refunds not yet received"] == str(refunds)
    assert says_nothing_waits(payments) == (awaiting_payment == 0)
    overdue = panel(finance, "overdue")
    assert figures(overdue)["Invoices overdue"] == str(late_invoices)
    assert says_nothing_waits(overdue) == (late_invoices == 0)
    drafts = panel(finance, "drafts")
    assert figures(drafts)["Drafts to issue"] == str(draft_invoices)
    assert says_nothing_waits(drafts) == (draft_invoices == 0)
    to_match = panel(finance, "to-match")
    assert figures(to_match)["Invoices paid in part"] == str(paid_in_part)
    assert says_nothing_waits(to_match) == (paid_in_part == 0 and not holding_credit)
