"""Billing test data. Builders run inside ``unscoped()`` and return ids, like
tests.factories; invoices come from real orders and real engagement moves, through the
services, so charges, numbers and audit are the product's own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from accounts.models import Organization
from billing import invoices, payouts
from billing.models import BillingProfile, Charge, Invoice, InvoiceLine, InvoiceState, Payout
from catalog.models import BillingPolicy
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import OrgKind, Role
from delivery import acceptance, moves
from delivery.models import Assignment, Engagement, EngagementState
from ordering.models import OrderLine, PaymentRoute
from tests.catalog.factories import actor
from tests.delivery import factories as delivery_factories
from tests.factories import Tenant, organization
from tests.ordering import factories as ordering_factories

E = EngagementState


def finance(tenant: Tenant) -> Any:
    return actor(tenant, Role.FINANCE)


def reread(invoice_id: int) -> Invoice:
    """The invoice as stored now, with its lines."""
    db.session.expire_all()
    return invoices.lock(db.session.get(Invoice, invoice_id))


def invoices_of_order(order_id: int) -> list[Invoice]:
    return list(
        db.session.scalars(select(Invoice).where(Invoice.order_id == order_id).order_by(Invoice.id))
    )


def order_invoice(
    tenant: Tenant,
    price: Money | None = None,
    quantity: int = 1,
    route: PaymentRoute = PaymentRoute.INVOICE,
    **servlet: Any,
) -> int:
    """The invoice issued at once for a new prepaid order on account (the default servlet
    is prepaid)."""
    if price is not None:
        servlet["price"] = price
    ordering_factories.cart_line(
        tenant, ordering_factories.offered_servlet(tenant, **servlet), quantity
    )
    order_id = ordering_factories.place(tenant, route=route)
    return invoices_of_order(order_id)[0].id


def started(tenant: Tenant, policy: BillingPolicy, **servlet: Any) -> int:
    """An engagement of a servlet billed by ``policy``, started by its consultant."""
    engagement_id = delivery_factories.engagement(tenant, billing_policy=policy, **servlet)
    delivery_factories.assign(tenant, engagement_id)
    delivery_factories.put_in_state(engagement_id, E.SCHEDULED)
    moves.start(actor(tenant, Role.CONSULTANT), db.session.get(Engagement, engagement_id))
    return engagement_id


def accepted(tenant: Tenant, policy: BillingPolicy, **servlet: Any) -> int:
    """An engagement of a servlet billed by ``policy``, started, delivered and accepted by
    the customer's buyer (the delivery itself is set directly: not what billing tests)."""
    engagement_id = started(tenant, policy, **servlet)
    put_accepted(tenant, engagement_id)
    return engagement_id


def put_accepted(tenant: Tenant, engagement_id: int) -> None:
    """Deliver a running engagement (set directly) and have the customer's buyer accept it."""
    delivery_factories.put_in_state(engagement_id, E.DELIVERED)
    acceptance.accept(actor(tenant, Role.BUYER), db.session.get(Engagement, engagement_id))


def drafts_of(engagement_id: int) -> list[Invoice]:
    """The drafts holding charges of the engagement (its own, its change orders')."""
    return list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.state == InvoiceState.DRAFT,
                Invoice.id.in_(
                    select(InvoiceLine.invoice_id)
                    .join(Charge, Charge.invoice_line_id == InvoiceLine.id)
                    .where(Charge.engagement_id == engagement_id)
                ),
            )
            .order_by(Invoice.id)
        )
    )


def issued(tenant: Tenant, *lines: tuple[str, int, Money], customer_id: int | None = None) -> int:
    """An invoice finance drafted by hand with ``lines`` (description, quantity, unit price)
    and issued."""
    who = finance(tenant)
    invoice = invoices.draft_for(who, customer_id or tenant.customer_id)
    for description, quantity, unit_price in lines or [("Workshop", 1, Money(100_000, "USD"))]:
        invoices.add_line(who, invoice, description, quantity, unit_price)
    return invoices.issue(who, invoice).id


def set_tax(tenant: Tenant, rate: str, customer_rate: str | None = None, note: str = "") -> None:
    """The vendor's default rate, and optionally the first customer's own."""
    db.session.get(Organization, tenant.vendor_id).tax_rate = Decimal(rate)
    if customer_rate is not None:
        db.session.add(
            BillingProfile(
                vendor_id=tenant.vendor_id,
                organization_id=tenant.customer_id,
                tax_rate=Decimal(customer_rate),
                tax_note=note,
            )
        )
    db.session.commit()


# --- partner payouts ---------------------------------------------------------------------


def partner(tenant: Tenant, name: str) -> int:
    """Another partner organisation of the tenant's vendor (no people)."""
    made = organization(name, OrgKind.PARTNER, tenant.vendor_id)
    db.session.commit()
    return made.id


def engagements(tenant: Tenant, units: int) -> list[int]:
    """The engagements of one new confirmed order of ``units`` units (one per unit)."""
    order_id = ordering_factories.order(tenant, quantity=units)
    return list(
        db.session.scalars(
            select(Engagement.id)
            .join(OrderLine, OrderLine.id == Engagement.order_line_id)
            .where(OrderLine.order_id == order_id)
            .order_by(Engagement.id)
        )
    )


def accept_at(engagement_id: int, when: datetime) -> None:
    """Accepted at ``when`` (set directly: acceptance itself is delivery's to test)."""
    engagement = db.session.get(Engagement, engagement_id)
    engagement.state, engagement.accepted_at = E.ACCEPTED, when
    db.session.commit()


def partner_assignment(
    tenant: Tenant, engagement_id: int, fee_minor: int = 150_000, partner_id: int | None = None
) -> int:
    """The engagement allocated to a partner (the tenant's by default) at ``fee_minor``."""
    made = Assignment(
        vendor_id=tenant.vendor_id,
        engagement_id=engagement_id,
        partner_id=partner_id or tenant.partner_id,
        starts_on=date(2026, 1, 5),
        ends_on=date(2026, 1, 16),
        planned_hours=Decimal(16),
        partner_fee_minor=fee_minor,
        assigned_by_id=tenant.people[Role.DELIVERY_MANAGER].membership_id,
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def payout(tenant: Tenant, approve: bool = True) -> int:
    """A statement of last month for the tenant's partner: one engagement accepted on the
    10th at 1,500.00, prepared (and approved) by finance through the services."""
    start, end = payouts.last_month(utcnow().date())
    engagement_id = delivery_factories.engagement(tenant)
    partner_assignment(tenant, engagement_id)
    accept_at(engagement_id, datetime(start.year, start.month, 10, 12, tzinfo=UTC))
    payouts.prepare(finance(tenant), start, end)
    made = db.session.scalar(
        select(Payout).where(Payout.partner_id == tenant.partner_id, Payout.period_start == start)
    )
    if approve and made.state.value == "draft":
        payouts.approve(finance(tenant), made)
    return made.id


def bank_payment(tenant: Tenant, amount: Money | None = None, invoice_id: int | None = None) -> int:
    """A bank transfer finance recorded against the tenant's first invoice (by default 400.00
    of a 1,000.00 invoice issued for it when it has none)."""
    from billing import payments

    if invoice_id is None:
        invoice_id = db.session.scalar(
            select(Invoice.id)
            .where(Invoice.vendor_id == tenant.vendor_id, Invoice.number.is_not(None))
            .order_by(Invoice.id)
        ) or issued(tenant)
    invoice = db.session.get(Invoice, invoice_id)
    return payments.record_bank_transfer(
        finance(tenant),
        invoice,
        amount or Money(40_000, invoice.currency),
        utcnow().date(),
        "Bank transfer 4711",
    ).id


def credit_note(tenant: Tenant, reason: str = "Goodwill for a late start") -> int:
    """A credit note of 1.00 net on the first line of a new invoice issued to the customer."""
    from billing import credit_notes

    invoice = reread(issued(tenant))
    line = invoice.lines[0]
    return credit_notes.issue_credit_note(
        finance(tenant), invoice, reason, {line.id: Money(100, invoice.currency)}
    ).id
