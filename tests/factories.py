"""Test data builders. They run inside an app context with an all-tenants scope and return
plain values (ids, emails), so tests never hold ORM objects across requests."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from werkzeug.security import generate_password_hash

from accounts.models import Membership, Organization, User
from accounts.services import open_session
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, ROLES_BY_KIND, OrgKind, Role

PASSWORD = "correct horse battery"
# Hashed once: scrypt is slow on purpose, and every test builds a few dozen people.
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
    """A vendor and the people a test acts as: ``people`` holds every role, in the vendor, its
    first customer and its partner; ``neighbours`` the customer roles of a second customer of
    the same vendor, there so that any test can see data leak from one customer to another."""

    vendor_id: int
    customer_id: int
    partner_id: int
    neighbour_id: int
    people: dict[Role, Person]
    neighbours: dict[Role, Person]


def organization(name: str, kind: OrgKind, vendor_id: int | None = None) -> Organization:
    org = Organization(name=name, kind=kind, vendor_id=vendor_id)
    db.session.add(org)
    db.session.flush()
    return org


Seat = tuple[Organization, Role, User, Membership]


def person(org: Organization, role: Role, email: str | None = None) -> Person:
    return _people([_seat(org, role, email)])[0]


def _seat(org: Organization, role: Role, email: str | None = None) -> Seat:
    email = email or f"{role.value}.{next(_serial)}@{org.name.split()[0].lower()}.example"
    user = User(email=email, name=f"{role.label} of {org.name}", password_hash=PASSWORD_HASH)
    membership = Membership(user=user, organization=org, role=role, vendor_id=org.tenant_id)
    db.session.add_all([user, membership])
    return org, role, user, membership


def _people(seats: list[Seat]) -> list[Person]:
    """The people of ``seats``, each with a session to sign in with: one flush, one commit,
    and the values read before the commit expires them (a tenant has thirteen people)."""
    db.session.flush()
    made = [
        Person(
            user_id=user.id,
            email=user.email,
            membership_id=membership.id,
            organization_id=org.id,
            vendor_id=org.tenant_id,
            role=role,
            session_id=open_session(user),
        )
        for org, role, user, membership in seats
    ]
    db.session.commit()
    return made


def tenant(name: str) -> Tenant:
    """A vendor with two customers and a partner: one person in every role of the vendor, its
    first customer and the partner, and one in each customer role of the second customer."""
    vendor = organization(name, OrgKind.VENDOR)
    customer = organization(f"{name} Customer", OrgKind.CUSTOMER, vendor.id)
    partner = organization(f"{name} Partner", OrgKind.PARTNER, vendor.id)
    neighbour = organization(f"{name} Neighbour", OrgKind.CUSTOMER, vendor.id)
    orgs = {OrgKind.VENDOR: vendor, OrgKind.CUSTOMER: customer, OrgKind.PARTNER: partner}
    staff = [_seat(orgs[kind], role) for kind, roles in ROLES_BY_KIND.items() for role in roles]
    next_door = [_seat(neighbour, role) for role in CUSTOMER_ROLES]
    made = _people(staff + next_door)
    return Tenant(
        vendor_id=vendor.id,
        customer_id=customer.id,
        partner_id=partner.id,
        neighbour_id=neighbour.id,
        people={p.role: p for p in made[: len(staff)]},
        neighbours={p.role: p for p in made[len(staff) :]},
    )
