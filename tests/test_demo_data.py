"""The demo tells one consistent story: each vendor has a catalog worth browsing, and what a
page says about the data is true of it. One seeding (it is slow), several stories checked."""

from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import Membership, Organization, User
from billing.models import (
    CreditEntry,
    CreditNote,
    DunningReminder,
    Invoice,
    InvoiceState,
    Payment,
    PaymentMethod,
    Payout,
    PayoutState,
)
from catalog.models import (
    Catalog,
    LifecycleStage,
    Recommendation,
    RecommendationState,
    ServletKind,
    ServletVersion,
    VersionState,
)
from core.audit import AuditEvent
from core.db import utcnow
from core.demo import run_seeders
from core.extensions import db
from core.permissions import OrgKind, Role
from delivery.models import Engagement, EngagementState
from ordering.models import Order, OrderLine, OrderState
from success.health_models import AccountHealth, Band, HealthHistory
from success.models import AccountNote, CustomerAccount, KeyContact
from success.plan_models import SuccessPlan
from success.playbook_models import Suggestion, SuggestionState
from success.report_models import ValueReport
from success.signal_models import UsageSignal
from success.survey_models import FollowUpKind, FollowUpTask, NpsInvite
from tests.billing.books import assert_books_reconcile


def test_the_demo_holds_together(app, unscoped):
    with unscoped():
        run_seeders()
        vendors = db.session.scalars(
            select(Organization).where(Organization.kind == OrgKind.VENDOR)
        ).all()
        assert len(vendors) == 2
        for vendor in vendors:
            catalog_worth_browsing(vendor)
            books_show_every_case(vendor)
            success_workspace_tells_a_story(vendor)
        completed_orders_were_delivered()
        recommendations_expire_after_they_were_sent()
        people_have_names_and_references_count_per_vendor()
        accounts_are_owned_filled_in_and_have_a_contact_change()


def catalog_worth_browsing(vendor: Organization) -> None:
    """15-30 published servlets of every kind and stage, 2-3 catalogs, recommendations in
    every state."""
    published = db.session.scalars(
        select(ServletVersion).where(
            ServletVersion.vendor_id == vendor.id, ServletVersion.state == VersionState.PUBLISHED
        )
    ).all()
    catalogs = db.session.scalars(select(Catalog).where(Catalog.vendor_id == vendor.id)).all()
    states = set(
        db.session.scalars(
            select(Recommendation.state).where(Recommendation.vendor_id == vendor.id)
        )
    )
    assert 15 <= len(published) <= 30, vendor.name
    assert {v.kind for v in published} == set(ServletKind), vendor.name
    assert {v.stage for v in published} == set(LifecycleStage), vendor.name
    assert 2 <= len(catalogs) <= 3, vendor.name
    assert states == set(RecommendationState), vendor.name


def books_show_every_case(vendor: Organization) -> None:
    """Invoices in every state, payments of both kinds and a partial one, a credit note, an
    overdue invoice with its three reminders, customer credit, an approved payout."""
    invoices = db.session.scalars(select(Invoice).where(Invoice.vendor_id == vendor.id)).all()
    payments = db.session.scalars(select(Payment).where(Payment.vendor_id == vendor.id)).all()
    today = utcnow().date()
    overdue = [invoice for invoice in invoices if invoice.overdue_on(today)]
    reminded = set(
        db.session.scalars(
            select(DunningReminder.days_overdue).where(
                DunningReminder.invoice_id.in_([invoice.id for invoice in overdue])
            )
        )
    )
    assert {invoice.state for invoice in invoices} == set(InvoiceState), vendor.name
    assert {payment.method for payment in payments} >= {
        PaymentMethod.BANK_TRANSFER,
        PaymentMethod.CARD,
    }, vendor.name
    assert any(i.state is InvoiceState.PARTIALLY_PAID for i in overdue), vendor.name
    assert reminded == {1, 7, 14}, vendor.name
    assert db.session.scalar(select(CreditNote.id).where(CreditNote.vendor_id == vendor.id))
    assert db.session.scalar(select(CreditEntry.id).where(CreditEntry.vendor_id == vendor.id))
    assert db.session.scalar(
        select(Payout.id).where(Payout.vendor_id == vendor.id, Payout.state == PayoutState.APPROVED)
    ), vendor.name
    assert all(invoice.issued_on <= today for invoice in invoices if invoice.issued_on)
    assert_books_reconcile(vendor.id)


def completed_orders_were_delivered() -> None:
    completed = db.session.scalars(select(Order).where(Order.state == OrderState.COMPLETED)).all()
    assert completed, "the demo shows a completed order"
    for order in completed:
        states = db.session.scalars(
            select(Engagement.state)
            .join(OrderLine, OrderLine.id == Engagement.order_line_id)
            .where(OrderLine.order_id == order.id)
        ).all()
        assert states, order.reference
        assert set(states) == {EngagementState.ACCEPTED}, order.reference


def recommendations_expire_after_they_were_sent() -> None:
    expired = db.session.scalars(
        select(Recommendation).where(Recommendation.state == RecommendationState.EXPIRED)
    ).all()
    assert expired
    assert all(r.created_at < r.expires_at <= r.closed_at for r in expired)


def people_have_names_and_references_count_per_vendor() -> None:
    names = set(db.session.scalars(select(User.name)))
    assert not {role.label for role in Role} & names, "people have people's names"
    numbers: dict[int, list[int]] = {}
    for vendor_id, number in db.session.execute(
        select(Order.vendor_id, Order.number).order_by(Order.id)
    ):
        numbers.setdefault(vendor_id, []).append(number)
    assert len(numbers) == 2
    assert all(found == list(range(1, len(found) + 1)) for found in numbers.values())


def accounts_are_owned_filled_in_and_have_a_contact_change() -> None:
    """Every customer owned by its vendor's CSM with a record; one admin contact changed per
    vendor; notes."""
    customers = db.session.scalars(
        select(Organization).where(Organization.kind == OrgKind.CUSTOMER)
    ).all()
    assert len(customers) == 6
    for customer in customers:
        owner = db.session.get(Membership, customer.csm_id)
        assert owner.role is Role.CSM
        assert owner.organization_id == customer.vendor_id
    records = db.session.scalars(select(CustomerAccount)).all()
    assert len(records) == 6
    assert all(r.arr_minor > 0 and r.renewal_date and r.segment for r in records)
    ended = db.session.scalars(select(KeyContact).where(KeyContact.ended_at.is_not(None)))
    assert [c.role.value for c in ended] == ["admin", "admin"]
    changes = select(func.count()).where(AuditEvent.action == "success.key_contact_changed")
    assert db.session.scalar(changes) == 2
    assert db.session.scalar(select(func.count()).select_from(AccountNote)) == 4


def success_workspace_tells_a_story(vendor: Organization) -> None:
    """A year of signals, a health history, an account in distress, suggestions in every
    state, a success plan, NPS answers with a detractor and a value report to open."""
    first_day, last_day = db.session.execute(
        select(func.min(UsageSignal.day), func.max(UsageSignal.day)).where(
            UsageSignal.vendor_id == vendor.id
        )
    ).one()
    assert (last_day - first_day).days >= 360
    scores = db.session.scalars(select(AccountHealth).where(AccountHealth.vendor_id == vendor.id))
    bands = {health.band for health in scores}
    assert Band.GREEN in bands, "a healthy account"
    assert bands - {Band.GREEN}, "an account in distress"
    history = select(func.count()).where(HealthHistory.vendor_id == vendor.id)
    assert db.session.scalar(history) >= 12
    states = set(
        db.session.scalars(select(Suggestion.state).where(Suggestion.vendor_id == vendor.id))
    )
    assert states == set(SuggestionState)
    assert db.session.scalar(select(SuccessPlan.id).where(SuccessPlan.vendor_id == vendor.id))
    assert db.session.scalar(select(ValueReport.id).where(ValueReport.vendor_id == vendor.id))
    detractors = select(func.count()).where(NpsInvite.vendor_id == vendor.id, NpsInvite.score <= 6)
    assert db.session.scalar(detractors) >= 1
    follow_up = select(FollowUpTask.id).where(
        FollowUpTask.vendor_id == vendor.id, FollowUpTask.kind == FollowUpKind.DETRACTOR
    )
    assert db.session.scalar(follow_up)
