"""Demo account records, through the services a CSM and an admin would use: the vendor's
admin makes its CSM the owner of every customer; the CSM fills in each record (segment,
touch model, stage, renewal, ARR, licences), names the key contacts (the first customer's
admin contact changed six weeks ago) and leaves a couple of notes. Services stamp the
present; contacts and notes are then moved back to when they happened, which only a seed may
do. Skips a vendor whose accounts have records already. Then the rest of the workspace
(``_seed_workspace``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from accounts.models import Membership, Organization
from accounts.seed import first_member, vendors
from catalog.models import ServletKind, ServletVersion, VersionState
from core.db import utcnow
from core.demo import Login, seeder
from core.extensions import db
from core.permissions import OrgKind, Role
from core.tenancy import tenant_scope
from success import accounts, health_demo, plan_demo, playbook_demo, signal_demo, survey_demo
from success.models import AccountNote, CustomerAccount, KeyContact

# Per customer, in the order the accounts seed made them: segment, touch model, stage, days
# to renewal, ARR, licences.
RECORDS = (
    ("Enterprise", "high_touch", "adoption", 58, "240000", 450),
    ("Mid-market", "low_touch", "expansion", 170, "85000", 400),
    ("SMB", "tech_touch", "onboarding", 320, "18000", 250),
)
CONTACTS = (
    # role, first name, last name, months in the role
    ("executive_sponsor", "Grace", "Whitmore", 14),
    ("admin", "Paul", "Novak", 11),
    ("champion", "Aisha", "Rahman", 9),
    ("billing", "Carlos", "Mendes", 12),
)
NEW_ADMIN = ("Mei", "Tanaka")  # took over from the first customer's admin six weeks ago
NOTES = (
    (
        30,
        "QBR booked for next month. Grace wants a view of adoption by region before the "
        "renewal talks start.",
    ),
    (
        9,
        "Mei is new to the admin role and asked for help with user provisioning: "
        "an admin onboarding servlet would fit.",
    ),
)


@seeder
def seed_success(logins: list[Login]) -> None:
    for vendor in vendors():
        if db.session.scalar(
            select(CustomerAccount.id).where(CustomerAccount.vendor_id == vendor.id).limit(1)
        ):
            continue
        admin, csm = first_member(vendor.id, Role.ADMIN), first_member(vendor.id, Role.CSM)
        if admin is not None and csm is not None:
            with tenant_scope(vendor.id):
                _seed_vendor(vendor, admin, csm)
            _seed_workspace(vendor, admin, csm)


def _seed_vendor(vendor: Organization, admin: Membership, csm: Membership) -> None:
    today = utcnow().date()
    customers = db.session.scalars(
        select(Organization)
        .where(Organization.vendor_id == vendor.id, Organization.kind == OrgKind.CUSTOMER)
        .order_by(Organization.id)
    ).all()
    for number, (customer, record) in enumerate(zip(customers, RECORDS, strict=False)):
        accounts.assign_csm(admin, customer, csm.id)
        segment, touch, stage, days, arr, licences = record
        accounts.update_account(
            csm,
            customer,
            accounts.AccountRecord(
                segment=segment,
                touch_model=touch,
                stage=stage,
                renewal_date=today + timedelta(days=days),
                arr=arr,
                licences_bought=licences,
            ),
        )
        _contacts(csm, customer, today)
        if number == 0:
            _change_admin(csm, customer, today)
            _notes(csm, customer)


def _seed_workspace(vendor: Organization, admin: Membership, csm: Membership) -> None:
    """A year of usage signals, the health history they make, playbook suggestions in every
    state, this quarter's success plan and last quarter's value report, NPS answers with a
    detractor: each part through its own demo, in the order the data flows."""
    today = utcnow().date()
    with tenant_scope(vendor.id):
        customer_ids = list(
            db.session.scalars(
                select(Organization.id)
                .where(Organization.vendor_id == vendor.id, Organization.kind == OrgKind.CUSTOMER)
                .order_by(Organization.id)
            )
        )
        # Deployment servlets first: the plan's first goal (single sign-on) is served by one.
        servlet_ids = list(
            db.session.scalars(
                select(ServletVersion.servlet_id)
                .where(
                    ServletVersion.vendor_id == vendor.id,
                    ServletVersion.state == VersionState.PUBLISHED,
                )
                .order_by(ServletVersion.kind != ServletKind.DEPLOYMENT, ServletVersion.servlet_id)
            )
        )
    signal_demo.demo(vendor.id, csm.user_id, customer_ids, today)
    db.session.commit()
    survey_demo.demo(vendor.id, customer_ids, today)
    health_demo.demo(vendor.id, today)
    db.session.commit()
    playbook_demo.demo(vendor.id, admin.user_id, csm.id, today)
    plan_demo.demo(vendor.id, csm.user_id, customer_ids, servlet_ids, today)
    db.session.commit()


def _domain(customer: Organization) -> str:
    return f"{customer.name.split()[0].lower()}.example"


def _days_ago(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def _contacts(csm: Membership, customer: Organization, today: date) -> None:
    for role, first, last, months in CONTACTS:
        contact = accounts.change_key_contact(
            csm,
            customer,
            accounts.ContactChange(
                role=role,
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}@{_domain(customer)}",
                since=today - timedelta(days=min(months * 30, 700)),
            ),
        )
        contact.created_at = _days_ago(min(months * 30, 700))
    db.session.commit()


def _change_admin(csm: Membership, customer: Organization, today: date) -> None:
    first, last = NEW_ADMIN
    contact = accounts.change_key_contact(
        csm,
        customer,
        accounts.ContactChange(
            role="admin",
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}@{_domain(customer)}",
            since=today - timedelta(days=42),
        ),
    )
    contact.created_at = _days_ago(42)
    previous = db.session.scalar(
        select(KeyContact).where(
            KeyContact.account_id == contact.account_id,
            KeyContact.role == contact.role,
            KeyContact.id != contact.id,
        )
    )
    previous.ended_at = _days_ago(42)
    db.session.commit()


def _notes(csm: Membership, customer: Organization) -> None:
    for days, body in NOTES:
        note: AccountNote = accounts.add_note(csm, customer, body)
        note.created_at = _days_ago(days)
    db.session.commit()
