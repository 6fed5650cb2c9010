"""Ordering test data. Builders run inside ``unscoped()`` and return ids, like
tests.factories; they go through the services so state, audit and engagements are real."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from accounts.models import Organization
from catalog.models import ServletKind
from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from ordering import carts, checkout, entitlements
from ordering.models import Cart, PaymentRoute
from tests.catalog import factories as catalog_factories
from tests.factories import Tenant

# A question of every type, for intake tests.
ALL_QUESTIONS = [
    {"label": "Goals", "type": "text", "required": True, "choices": []},
    {"label": "Users", "type": "number", "required": True, "choices": []},
    {"label": "Preferred start", "type": "date", "required": True, "choices": []},
    {"label": "Region", "type": "choice", "required": True, "choices": ["EU", "US"]},
    {"label": "SSO in place", "type": "yes_no", "required": True, "choices": []},
    {"label": "Anything else", "type": "text", "required": False, "choices": []},
]
GOOD_ANSWERS = {0: "Faster onboarding", 1: "250", 2: "2030-01-15", 3: "EU", 4: "yes", 5: ""}


def actor(tenant: Tenant, role: Role = Role.BUYER) -> catalog_factories.Actor:
    return catalog_factories.actor(tenant, role)


def offered_servlet(tenant: Tenant, **overrides: Any) -> int:
    """A published servlet in a published catalog of the tenant's customer."""
    overrides.setdefault("intake_questions", [])
    return catalog_factories.shop(tenant, **overrides)[0]


def cart_line(
    tenant: Tenant, servlet_id: int | None = None, quantity: int = 1, role: Role = Role.BUYER
) -> int:
    servlet_id = servlet_id or offered_servlet(tenant)
    return carts.add_to_cart(actor(tenant, role), servlet_id, quantity).id


def token(tenant: Tenant, role: Role = Role.BUYER) -> str:
    person = tenant.people[role]
    return db.session.scalar(
        select(Cart.checkout_token).where(
            Cart.user_id == person.user_id, Cart.customer_id == person.organization_id
        )
    )


def accept(tenant: Tenant) -> str:
    return db.session.get(Organization, tenant.vendor_id).terms_version


def place(
    tenant: Tenant,
    role: Role = Role.BUYER,
    route: PaymentRoute = PaymentRoute.INVOICE,
    answers: dict[int, dict[int, str]] | None = None,
    po_number: str = "",
) -> int:
    """Check out the person's current cart."""
    order = checkout.place_order(
        actor(tenant, role),
        checkout.Checkout(
            token=token(tenant, role),
            payment_route=route,
            accepted_terms_version=accept(tenant),
            po_number=po_number,
            answers=answers or {},
        ),
    )
    return order.id


def order(tenant: Tenant, quantity: int = 1, role: Role = Role.BUYER, **servlet: Any) -> int:
    """A confirmed invoice order of one new servlet (no approval threshold set)."""
    cart_line(tenant, offered_servlet(tenant, **servlet), quantity, role)
    return place(tenant, role)


def set_threshold(tenant: Tenant, amount_minor: int | None) -> None:
    db.session.get(Organization, tenant.customer_id).approval_threshold_minor = amount_minor
    db.session.commit()


def credits(
    tenant: Tenant,
    quantity: int = 2,
    servlet_id: int | None = None,
    kind: ServletKind | None = None,
    valid_until: date | None = None,
) -> int:
    if servlet_id is None and kind is None:
        kind = ServletKind.HEALTH_CHECK
    today = utcnow().date()
    return entitlements.grant_entitlement(
        actor(tenant, Role.CSM),
        entitlements.Grant(
            customer_id=tenant.customer_id,
            servlet_id=servlet_id,
            kind=kind,
            quantity=quantity,
            valid_from=today - timedelta(days=1),
            valid_until=valid_until or today + timedelta(days=365),
            note="Premier plan",
        ),
    ).id
