"""Catalog test data. Builders run inside ``unscoped()`` and return ids, like tests.factories.

Most go through the services (so versions, audit and search index are real); ``bulk_servlets``
inserts rows directly, for the query-budget tests that need a thousand servlets.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Any

from catalog import catalogs, recommendations, servlets
from catalog.content import ServletContent
from catalog.models import (
    BillingPolicy,
    CatalogItem,
    DeliveryMode,
    LifecycleStage,
    Servlet,
    ServletKind,
    ServletVersion,
    VersionState,
)
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.factories import Tenant

_serial = count(1)


@dataclass(frozen=True)
class Actor:
    """What services need to know about who acts (a Membership stands in in the app)."""

    id: int
    user_id: int
    organization_id: int
    vendor_id: int
    role: Role


def actor(tenant: Tenant, role: Role = Role.ADMIN) -> Actor:
    person = tenant.people[role]
    return Actor(
        person.membership_id, person.user_id, person.organization_id, person.vendor_id, role
    )


def content(**overrides: Any) -> ServletContent:
    values: dict[str, Any] = {
        "title": f"Health Check {next(_serial)}",
        "kind": ServletKind.HEALTH_CHECK,
        "stage": LifecycleStage.ADOPTION,
        "outcome": "A scored review of your configuration with a prioritised fix list.",
        "summary": "Five days, remote.",
        "description": "## Steps\n\n1. Kick-off\n2. Review",
        "delivery_mode": DeliveryMode.REMOTE,
        "duration_days": 5,
        "effort_hours": 24,
        "price": Money(500_000, "USD"),
        "delivery_cost": Money(200_000, "USD"),
        "billing_policy": BillingPolicy.PREPAID,
        "start_within_days": 5,
        "deliver_within_days": 5,
        "csat_target": Decimal("4.5"),
        "prerequisites": ["Admin account"],
        "in_scope": ["One production tenant"],
        "out_of_scope": ["Custom code"],
        "deliverables": [{"title": "Findings report", "description": "Scored, prioritised."}],
        "constraints": ["Business hours"],
        "required_skills": ["Administration"],
        "intake_questions": [
            {"label": "Preferred start", "type": "date", "required": True, "choices": []}
        ],
    }
    values.update(overrides)
    return ServletContent(**values)


def servlet(tenant: Tenant, publish: bool = True, **overrides: Any) -> int:
    admin = actor(tenant)
    created = servlets.create_servlet(admin, content(**overrides))
    if publish:
        servlets.publish_servlet(admin, created)
    return created.id


def catalog(
    tenant: Tenant,
    servlet_ids: list[int],
    customer_ids: list[int] | None = None,
    publish: bool = True,
    name: str | None = None,
    prices: dict[int, Money] | None = None,
) -> int:
    """A catalog holding ``servlet_ids``, assigned to the tenant's customer by default."""
    admin = actor(tenant)
    made = catalogs.create_catalog(admin, name or f"Catalog {next(_serial)}")
    for servlet_id in servlet_ids:
        item = catalogs.add_item(admin, made, servlet_id)
        if prices and servlet_id in prices:
            catalogs.set_price_override(admin, made, item.id, prices[servlet_id])
    customers = [tenant.customer_id] if customer_ids is None else customer_ids
    catalogs.assign_customers(admin, made, set(customers))
    if publish:
        catalogs.publish_catalog(admin, made)
    return made.id


def item_id(catalog_id: int, servlet_id: int) -> int:
    return db.session.scalar(
        db.select(CatalogItem.id).where(
            CatalogItem.catalog_id == catalog_id, CatalogItem.servlet_id == servlet_id
        )
    )


def shop(tenant: Tenant, **overrides: Any) -> tuple[int, int]:
    """A published servlet in a published catalog assigned to the tenant's customer."""
    servlet_id = servlet(tenant, **overrides)
    return servlet_id, catalog(tenant, [servlet_id])


def recommendation(tenant: Tenant, servlet_id: int, **kwargs: Any) -> int:
    made = recommendations.recommend(
        actor(tenant, Role.CSM),
        servlet_id,
        tenant.customer_id,
        kwargs.pop("reason", "Your usage dropped."),
        **kwargs,
    )
    return made.id


def bulk_servlets(tenant: Tenant, catalog_id: int, how_many: int) -> None:
    """``how_many`` published servlets appended to the catalog, inserted in bulk."""
    template = content().column_values()
    start = db.session.scalar(db.select(db.func.count(Servlet.id))) or 0
    now = utcnow()
    for number in range(start, start + how_many):
        servlet = Servlet(vendor_id=tenant.vendor_id, slug=f"bulk-{number}")
        version = ServletVersion(vendor_id=tenant.vendor_id, servlet=servlet, number=1)
        for name, value in template.items():
            setattr(version, name, value)
        version.title = f"Bulk servlet {number}"
        version.state = VersionState.PUBLISHED
        version.published_at = now
        db.session.add_all([servlet, version])
        db.session.add(
            CatalogItem(
                vendor_id=tenant.vendor_id,
                catalog_id=catalog_id,
                servlet=servlet,
                position=number + 1,
            )
        )
    db.session.commit()
