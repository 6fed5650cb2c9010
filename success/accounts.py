"""Changes to a customer account: its record, its owning CSM, its key contacts, its notes.

Each function checks who acts (``success.policies``), validates with a message the person can
act on, writes its audit event and commits: one transaction, one way in for views, the CLI,
seeds and, later, the API. The record is made on the first change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import TypeVar

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from accounts.models import Membership, Organization
from catalog.models import LifecycleStage
from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor, OrgKind, Role
from success import events, policies
from success.models import (
    AccountNote,
    ContactRole,
    CustomerAccount,
    KeyContact,
    SuccessSettings,
    TouchModel,
)

MAX_SEGMENT = 60
MAX_LICENCES = 10_000_000
MAX_ARR_MINOR = 10**14  # a trillion in a two-decimal currency: beyond any one account
RENEWAL_PAST_DAYS = 2 * 366  # a renewal overdue for longer is a churned account
RENEWAL_FUTURE_DAYS = 10 * 366  # ten years ahead: a longer contract is a typo
MAX_NAME = 120
MAX_NOTE = 5_000
# Control characters other than tab and line breaks: nobody types them into a note.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
REFUSED = "You do not have permission to do that."

E = TypeVar("E", bound=Enum)


@dataclass(frozen=True)
class AccountRecord:
    """The record as typed: enums by value, ARR as an amount in the account's currency."""

    segment: str
    touch_model: str
    stage: str
    renewal_date: date | None
    arr: str
    licences_bought: int | None


@dataclass(frozen=True)
class ContactChange:
    role: str
    name: str
    email: str
    since: date | None = None


def account_of(customer: Organization) -> CustomerAccount | None:
    return db.session.scalar(
        select(CustomerAccount).where(CustomerAccount.organization_id == customer.id)
    )


def _account(customer: Organization) -> CustomerAccount:
    """The customer's record, made on first change (in the vendor's currency)."""
    account = account_of(customer)
    if account is None:
        vendor = db.session.get(Organization, customer.tenant_id)
        account = CustomerAccount(
            vendor_id=customer.tenant_id,
            organization_id=customer.id,
            segment="",
            touch_model=TouchModel.LOW_TOUCH,
            stage=LifecycleStage.ONBOARDING,
            arr_minor=0,
            currency=vendor.currency,
            licences_bought=0,
        )
        db.session.add(account)
        db.session.flush()
    return account


def _refuse_unless_editor(actor: Actor | None, customer: Organization) -> None:
    if customer.kind is not OrgKind.CUSTOMER:
        raise ServiceError("Account records are kept for customers only.")
    if not policies.edits_account(actor, customer):
        raise NotAllowed(REFUSED)


def _member(enum: type[E], value: str, what: str) -> E:
    try:
        return enum(value)
    except ValueError as error:
        labels = ", ".join(member.label for member in enum)  # type: ignore[attr-defined]
        raise ServiceError(f"{what}: choose one of {labels}.") from error


def _renewal(value: date | None, today: date) -> date | None:
    if value is None:
        return None
    earliest = today - timedelta(days=RENEWAL_PAST_DAYS)
    latest = today + timedelta(days=RENEWAL_FUTURE_DAYS)
    if not earliest <= value <= latest:
        raise ServiceError(
            f"Renewal date: between {earliest.isoformat()} and {latest.isoformat()}."
        )
    return value


def _arr(text: str, currency: str) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    try:
        amount = Money.parse(text, currency).amount
    except ValueError as error:
        raise ServiceError(f"ARR: {error}.") from error
    if amount < 0:
        raise ServiceError("ARR: cannot be negative.")
    if amount > MAX_ARR_MINOR:
        raise ServiceError("ARR: too large for one account.")
    return amount


def _segment(text: str) -> str:
    segment = " ".join((text or "").split())
    if len(segment) > MAX_SEGMENT:
        raise ServiceError(f"Segment: at most {MAX_SEGMENT} characters.")
    return segment


def update_account(
    actor: Actor | None, customer: Organization, values: AccountRecord
) -> CustomerAccount:
    """The owning CSM or an admin sets the account's record (one audit event per save)."""
    _refuse_unless_editor(actor, customer)
    licences = values.licences_bought or 0
    if not 0 <= licences <= MAX_LICENCES:
        raise ServiceError(f"Licences bought: from 0 to {MAX_LICENCES:,}.")
    fields = {
        "segment": _segment(values.segment),
        "touch_model": _member(TouchModel, values.touch_model, "Touch model"),
        "stage": _member(LifecycleStage, values.stage, "Life-cycle stage"),
        "renewal_date": _renewal(values.renewal_date, utcnow().date()),
        "licences_bought": licences,
    }
    account = _account(customer)
    fields["arr_minor"] = _arr(values.arr, account.currency)
    changes = audit.diff(account, fields)
    if changes:
        account.updated_at = utcnow()
        audit.record("success.account_updated", customer, changes=changes)
    db.session.commit()
    return account


def set_csm_access(actor: Actor | None, own_only: bool) -> SuccessSettings:
    """An admin keeps each CSM to the accounts they own, or lets every CSM read every
    account (audited)."""
    if not policies.assigns_owner(actor):
        raise NotAllowed("Only an admin decides which accounts CSMs see.")
    settings = db.session.scalar(select(SuccessSettings))
    if settings is None:
        settings = SuccessSettings(vendor_id=actor.vendor_id)
        db.session.add(settings)
        db.session.flush()
    changes = audit.diff(settings, {"csms_see_own_accounts_only": own_only})
    if changes:
        settings.updated_at = utcnow()
        audit.record("success.csm_access_changed", settings, changes=changes)
    db.session.commit()
    return settings


def csm_choices(vendor_id: int) -> list[Membership]:
    """The vendor's active CSMs, who may own an account."""
    return list(
        db.session.scalars(
            select(Membership)
            .where(
                Membership.organization_id == vendor_id,
                Membership.role == Role.CSM,
                Membership.active.is_(True),
            )
            .options(joinedload(Membership.user))
            .order_by(Membership.id)
        )
    )


def assign_csm(actor: Actor | None, customer: Organization, csm_id: int | None) -> Organization:
    """An admin names the account's owning CSM (``None``: nobody owns it)."""
    if customer.kind is not OrgKind.CUSTOMER:
        raise ServiceError("Account records are kept for customers only.")
    if not policies.assigns_owner(actor) or customer.tenant_id != actor.vendor_id:
        raise NotAllowed(REFUSED)
    if csm_id is not None and csm_id not in {m.id for m in csm_choices(customer.tenant_id)}:
        raise ServiceError("Owner: choose one of your vendor's active CSMs.")
    if customer.csm_id != csm_id:
        audit.record(
            "success.owner_assigned", customer, changes={"csm_id": [customer.csm_id, csm_id]}
        )
        customer.csm_id = csm_id
    db.session.commit()
    return customer


def current_contacts(account: CustomerAccount | None) -> list[KeyContact]:
    if account is None:
        return []
    return list(
        db.session.scalars(
            select(KeyContact)
            .where(KeyContact.account_id == account.id, KeyContact.ended_at.is_(None))
            .order_by(KeyContact.role, KeyContact.id)
        )
    )


def _email(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ServiceError(f"Email: “{text[:80]}” is not an email address ({error}).") from error


def change_key_contact(
    actor: Actor | None, customer: Organization, change: ContactChange
) -> KeyContact | None:
    """Name who holds a contact role. A different person ends the current holder and starts
    a new row, audited as a change (a risk factor); the same person again changes nothing
    and returns ``None``."""
    _refuse_unless_editor(actor, customer)
    role = _member(ContactRole, change.role, "Contact role")
    name = " ".join((change.name or "").split())
    if not name:
        raise ServiceError("Name: who holds the role?")
    if len(name) > MAX_NAME:
        raise ServiceError(f"Name: at most {MAX_NAME} characters.")
    email = _email(change.email)
    today = utcnow().date()
    since = change.since or today
    if not today - timedelta(days=RENEWAL_PAST_DAYS) <= since <= today:
        raise ServiceError("Since: a date in the last two years, not in the future.")
    account = _account(customer)
    current = db.session.scalar(
        select(KeyContact).where(
            KeyContact.account_id == account.id,
            KeyContact.role == role,
            KeyContact.ended_at.is_(None),
        )
    )
    if current is not None and current.name == name and current.email.lower() == email.lower():
        db.session.commit()
        return None
    now = utcnow()
    if current is not None:
        current.ended_at = now
        db.session.flush()  # the old row stops being current before the new one starts
    contact = KeyContact(
        vendor_id=account.vendor_id,
        account_id=account.id,
        role=role,
        name=name,
        email=email,
        since=since,
        created_by_id=actor.user_id,
    )
    db.session.add(contact)
    db.session.flush()
    before = None if current is None else f"{current.name} <{current.email}>".strip()
    audit.record(
        "success.key_contact_changed" if current is not None else "success.key_contact_added",
        customer,
        changes={"role": role.value, "contact": [before, f"{name} <{email}>"]},
    )
    events.key_contact_changed.send(contact, customer=customer)
    db.session.commit()
    return contact


def note_text(body: str) -> str:
    """A note as stored: plain text without control characters, trimmed, bounded."""
    text = _CONTROL.sub("", (body or "").replace("\r\n", "\n")).strip()
    if not text:
        raise ServiceError("Note: write something first.")
    if len(text) > MAX_NOTE:
        raise ServiceError(f"Note: at most {MAX_NOTE:,} characters.")
    return text


def add_note(actor: Actor | None, customer: Organization, body: str) -> AccountNote:
    """The owning CSM or an admin notes something on the account's timeline."""
    _refuse_unless_editor(actor, customer)
    text = note_text(body)
    account = _account(customer)
    note = AccountNote(
        vendor_id=account.vendor_id, account_id=account.id, body=text, author_id=actor.user_id
    )
    db.session.add(note)
    db.session.flush()
    audit.record("success.note_added", customer, changes={"note_id": note.id})
    db.session.commit()
    return note
