"""One object of a tenant for every kind of id a route takes, for the tenancy matrix.

Each entry maps a URL argument name to a builder that returns the id of an object owned by
the given tenant (it runs inside an all-tenants scope). A new route with a new id argument
makes the matrix fail until its builder is added here, so no route escapes the check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from billing.models import Invoice, InvoiceLine
from core.extensions import db
from core.notifications import Notification
from core.permissions import Role
from delivery import change_orders
from delivery.models import Assignment, Engagement, EngagementState, Holiday, TimeOff
from tests.billing import factories as billing_factories
from tests.catalog import factories as catalog_factories
from tests.delivery import factories as delivery_factories
from tests.factories import Tenant
from tests.ordering import factories as ordering_factories


def _catalog_item(tenant: Tenant) -> int:
    servlet_id, catalog_id = catalog_factories.shop(tenant)
    return catalog_factories.item_id(catalog_id, servlet_id)


def _recommendation(tenant: Tenant) -> int:
    servlet_id, _ = catalog_factories.shop(tenant)
    return catalog_factories.recommendation(tenant, servlet_id)


def _notification(tenant: Tenant) -> int:
    """The buyer's "order confirmed" notification."""
    ordering_factories.order(tenant)
    return db.session.scalar(
        select(Notification.id).where(Notification.user_id == tenant.people[Role.BUYER].user_id)
    )


def _engagement(tenant: Tenant) -> int:
    """The tenant's first engagement (one is ordered when it has none): a route that takes an
    engagement and an object of it gets both built on the same engagement."""
    first = db.session.scalar(
        select(Engagement.id)
        .where(Engagement.vendor_id == tenant.vendor_id)
        .order_by(Engagement.id)
    )
    return first if first is not None else delivery_factories.engagement(tenant)


def _time_off(tenant: Tenant) -> int:
    made = TimeOff(
        vendor_id=tenant.vendor_id,
        resource_id=delivery_factories.resource(tenant),
        starts_on=date(2030, 1, 7),
        ends_on=date(2030, 1, 11),
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _holiday(tenant: Tenant) -> int:
    made = Holiday(vendor_id=tenant.vendor_id, day=date(2030, 12, 25), name="Christmas Day")
    db.session.add(made)
    db.session.commit()
    return made.id


def _partner_assignment(tenant: Tenant) -> int:
    """An assignment of the tenant's first engagement to its partner, no consultant named."""
    made = Assignment(
        vendor_id=tenant.vendor_id,
        engagement_id=_engagement(tenant),
        partner_id=tenant.partner_id,
        starts_on=date(2030, 1, 7),
        ends_on=date(2030, 1, 18),
        planned_hours=Decimal(16),
        assigned_by_id=tenant.people[Role.DELIVERY_MANAGER].membership_id,
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _change_order(tenant: Tenant) -> int:
    """A change order proposed on a running engagement of the tenant's customer."""
    engagement_id = _engagement(tenant)
    engagement = db.session.get(Engagement, engagement_id)
    engagement.state = EngagementState.IN_PROGRESS
    db.session.commit()
    return change_orders.propose(
        catalog_factories.actor(tenant, Role.DELIVERY_MANAGER),
        engagement,
        change_orders.Proposal(description="Add a second SSO provider.", price="100"),
    ).id


def _invoice(tenant: Tenant) -> int:
    """The tenant's first invoice (one is issued to its customer when it has none): a route
    that takes an invoice and a line of it gets both of the same invoice."""
    first = db.session.scalar(
        select(Invoice.id).where(Invoice.vendor_id == tenant.vendor_id).order_by(Invoice.id)
    )
    return first if first is not None else billing_factories.issued(tenant)


def _invoice_line(tenant: Tenant) -> int:
    return db.session.scalar(
        select(InvoiceLine.id)
        .where(InvoiceLine.invoice_id == _invoice(tenant))
        .order_by(InvoiceLine.id)
    )


ID_BUILDERS: dict[str, Callable[[Tenant], int]] = {
    "membership_id": lambda tenant: tenant.people[Role.CSM].membership_id,
    "organization_id": lambda tenant: tenant.customer_id,
    "servlet_id": lambda tenant: catalog_factories.shop(tenant)[0],
    "catalog_id": lambda tenant: catalog_factories.shop(tenant)[1],
    "item_id": _catalog_item,
    "recommendation_id": _recommendation,
    "cart_line_id": ordering_factories.cart_line,
    "order_id": ordering_factories.order,
    "notification_id": _notification,
    "engagement_id": _engagement,
    "resource_id": delivery_factories.resource,
    "time_off_id": _time_off,
    "holiday_id": _holiday,
    "assignment_id": _partner_assignment,
    "deliverable_file_id": delivery_factories.deliverable_file,
    "time_entry_id": delivery_factories.time_entry,
    "change_order_id": _change_order,
    "invoice_id": _invoice,
    "invoice_line_id": _invoice_line,
    "payout_id": billing_factories.payout,
    "payment_id": billing_factories.bank_payment,
    "credit_note_id": billing_factories.credit_note,
    # An account is its customer organisation (success.views).
    "account_id": lambda tenant: tenant.customer_id,
}
