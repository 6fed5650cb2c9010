"""API tokens for tests. Like the other factories they run inside an app context with an
all-tenants scope and return plain values: the token's secret and id."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from accounts.models import Organization
from api import tokens
from core.extensions import db
from core.permissions import Role
from tests import factories as base
from tests.catalog.factories import Actor
from tests.factories import Person, Tenant

ALL_READS = tuple(
    f"read:{area}" for area in ("catalog", "orders", "delivery", "billing", "success", "webhooks")
)


@dataclass(frozen=True)
class Made:
    secret: str
    id: int

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.secret)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def actor_of(person: Person) -> Actor:
    return Actor(
        person.membership_id, person.user_id, person.organization_id, person.vendor_id, person.role
    )


def personal(person: Person, scopes: Collection[str] = ("read:catalog",), days: int = 30) -> Made:
    wanted = tokens.TokenRequest("Test script", scopes, timedelta(days=days))
    made = tokens.make_personal_token(actor_of(person), wanted)
    return Made(made.secret, made.token.id)


def service(
    admin: Person, role: Role, scopes: Collection[str] = ("read:catalog",), days: int = 30
) -> Made:
    wanted = tokens.TokenRequest("CRM sync", scopes, timedelta(days=days), role=role)
    made = tokens.make_service_token(actor_of(admin), wanted)
    return Made(made.secret, made.token.id)


def person_like(tenant: Tenant, role: Role) -> Person:
    """Another member of the tenant's vendor with ``role`` (a vendor role)."""
    return base.person(db.session.get(Organization, tenant.vendor_id), role)
