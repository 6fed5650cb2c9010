"""Test data builders. They run inside an app context with an all-tenants scope and return
plain values (ids, emails), so tests never hold ORM objects across requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from werkzeug.security import generate_password_hash

from accounts.models import Membership, Organization, User
from accounts.services import open_session
from core.extensions import db
from core.permissions import ROLES_BY_KIND, OrgKind, Role

PASSWORD = "correct horse battery"
# Hashed once: scrypt is slow on purpose, and every test builds a dozen people.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="scrypt")
_serial = count(1)


@dataclass(frozen=True)
class Person:
    user_id: int
    email: str
    membership_id: int
    organization_id: int
    vendor_id: int
    role: Role
    session_id: str  # the key of a server-side session opened for tests' ``sign_in``


@dataclass
class Tenant:
    vendor_id: int
    customer_id: int
    partner_id: int
    people: dict[Role, Person] = field(default_factory=dict)


def organization(name: str, kind: OrgKind, vendor_id: int | None = None) -> Organization:
    org = Organization(name=name, kind=kind, vendor_id=vendor_id)
    db.session.add(org)
    db.session.flush()
    return org


def person(org: Organization, role: Role, email: str | None = None) -> Person:
    email = email or f"{role.value}.{next(_serial)}@{org.name.split()[0].lower()}.example"
    user = User(email=email, name=f"{role.label} of {org.name}", password_hash=PASSWORD_HASH)
    membership = Membership(user=user, organization=org, role=role, vendor_id=org.tenant_id)
    db.session.add_all([user, membership])
    db.session.flush()
    session_key = open_session(user)
    db.session.commit()
    return Person(
        user_id=user.id,
        email=user.email,
        membership_id=membership.id,
        organization_id=org.id,
        vendor_id=org.tenant_id,
        role=role,
        session_id=session_key,
    )


def tenant(name: str) -> Tenant:
    """A vendor with one customer and one partner, and one person in every role."""
    vendor = organization(name, OrgKind.VENDOR)
    customer = organization(f"{name} Customer", OrgKind.CUSTOMER, vendor.id)
    partner = organization(f"{name} Partner", OrgKind.PARTNER, vendor.id)
    db.session.commit()
    result = Tenant(vendor_id=vendor.id, customer_id=customer.id, partner_id=partner.id)
    orgs = {OrgKind.VENDOR: vendor, OrgKind.CUSTOMER: customer, OrgKind.PARTNER: partner}
    for kind, roles in ROLES_BY_KIND.items():
        for role in roles:
            result.people[role] = person(orgs[kind], role)
    return result
