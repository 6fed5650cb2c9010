"""Demo organisations and people: two vendors, their customers and partners, one user per role."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from accounts.models import Membership, Organization, User
from core.demo import Login, seeder
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, PARTNER_ROLES, VENDOR_ROLES, OrgKind, Role

DEMO_PASSWORD = "servlet-demo-1"  # noqa: S105  (printed on purpose: it is the demo login)

VENDORS = {
    "Northwind Analytics": {
        "domain": "northwind.example",
        "currency": "USD",
        "prefix": "NWA",
        "customers": ["Blue Harbor Logistics", "Granite Federal Bank", "Maple Leaf Retail"],
        "partner": "Bridgepoint Consulting",
    },
    "Helios CRM": {
        "domain": "helios.example",
        "currency": "EUR",
        "prefix": "HEL",
        "customers": ["Alpenrose Versicherung", "Costa Verde Hotels", "Nordlys Energi"],
        "partner": "Keystone Partners",
    },
}


# The demo's people, by the email the seed gives them: names, not role labels.
PEOPLE = {
    "admin@northwind.example": "Dana Whitfield",
    "csm@northwind.example": "Priya Raman",
    "delivery.manager@northwind.example": "Marcus Lee",
    "consultant@northwind.example": "Sofia Alvarez",
    "finance@northwind.example": "Tom Becker",
    "buyer@blue.example": "Jamal Carter",
    "approver@blue.example": "Helen Osei",
    "viewer@blue.example": "Ken Watanabe",
    "partner.manager@bridgepoint.example": "Olivia Grant",
    "partner.consultant@bridgepoint.example": "Ravi Patel",
    "admin@helios.example": "Lena Vogel",
    "csm@helios.example": "Jonas Berg",
    "delivery.manager@helios.example": "Amélie Dubois",
    "consultant@helios.example": "Matteo Rossi",
    "finance@helios.example": "Ingrid Holm",
    "buyer@alpenrose.example": "Stefan Huber",
    "approver@alpenrose.example": "Claudia Meier",
    "viewer@alpenrose.example": "Lukas Brunner",
    "partner.manager@keystone.example": "Nora Fitzgerald",
    "partner.consultant@keystone.example": "Daniel Okafor",
}


def first_member(organization_id: int, role: Role) -> Membership | None:
    """The organisation's first person in ``role``: whom the other areas' seeders act as."""
    return db.session.scalar(
        select(Membership)
        .where(Membership.organization_id == organization_id, Membership.role == role)
        .order_by(Membership.id)
    )


def vendors() -> list[Organization]:
    """Every vendor, oldest first: the other areas' seeders fill each in turn."""
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.kind == OrgKind.VENDOR)
            .order_by(Organization.id)
        )
    )


def _organization(name: str, kind: OrgKind, vendor: Organization | None) -> Organization:
    organization = db.session.scalar(select(Organization).where(Organization.name == name))
    if organization is None:
        organization = Organization(
            name=name, kind=kind, vendor_id=vendor.id if vendor is not None else None
        )
        db.session.add(organization)
        db.session.flush()
    return organization


def _member(organization: Organization, role: Role, email: str, logins: list[Login]) -> None:
    user = db.session.scalar(select(User).where(User.email == email))
    name = PEOPLE.get(email, role.label)
    if user is not None and user.name == role.label:  # seeded before people had names
        user.name = name
    if user is None:
        user = User(email=email, name=name)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        db.session.flush()
        db.session.add(
            Membership(
                user=user, organization=organization, role=role, vendor_id=organization.tenant_id
            )
        )
    logins.append((organization.name, role.value, email, DEMO_PASSWORD))


def _slug(name: str) -> str:
    return name.lower().split()[0]


@seeder
def seed_accounts(logins: list[Login]) -> None:
    for vendor_name, spec in VENDORS.items():
        vendor = _organization(vendor_name, OrgKind.VENDOR, None)
        vendor.currency = spec["currency"]
        vendor.invoice_prefix = spec["prefix"]
        vendor.tax_rate = Decimal("8.00")
        vendor.terms_text = (
            f"{vendor_name} professional services terms. Fixed-price servlets are delivered "
            "as described on their page; the customer provides the listed prerequisites."
        )
        domain = spec["domain"]
        for role in VENDOR_ROLES:
            _member(vendor, role, f"{role.value.replace('_', '.')}@{domain}", logins)
        for index, customer_name in enumerate(spec["customers"]):
            customer = _organization(customer_name, OrgKind.CUSTOMER, vendor)
            if index == 0:
                for role in CUSTOMER_ROLES:
                    _member(customer, role, f"{role.value}@{_slug(customer_name)}.example", logins)
        partner = _organization(spec["partner"], OrgKind.PARTNER, vendor)
        for role in PARTNER_ROLES:
            email = f"{role.value.replace('_', '.')}@{_slug(spec['partner'])}.example"
            _member(partner, role, email, logins)
