"""Billing settings: the vendor's legal details, bank details, tax rate, invoice prefix,
terms and review period; each customer's legal details, billing contacts and tax override.

What is set here is copied onto an invoice when it is issued (``billing.invoices.freeze``),
so a change applies to invoices issued afterwards and never rewrites an issued one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email

from accounts.models import Organization
from billing import policies
from billing.invoices import MAX_TERMS_DAYS, profile_of
from billing.models import BillingProfile
from core import audit
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind

PREFIX = re.compile(r"[A-Z0-9]+(-[A-Z0-9]+)*")
MAX_PREFIX = 12
MAX_REVIEW_DAYS = 60
MAX_BILLING_EMAILS = 10


@dataclass(frozen=True)
class LegalDetails:
    legal_name: str = ""
    address: str = ""
    tax_id: str = ""


@dataclass(frozen=True)
class VendorBilling:
    legal: LegalDetails
    bank_details: str
    tax_rate: Decimal
    invoice_prefix: str
    payment_terms_days: int
    review_days: int


@dataclass(frozen=True)
class CustomerBilling:
    legal: LegalDetails
    billing_emails: str  # as typed: commas, spaces or new lines between addresses
    tax_rate: Decimal | None
    tax_note: str


def _refuse_unless_books(actor: Actor | None) -> None:
    if not policies.keeps_books(actor):
        raise NotAllowed("You do not have permission to do that.")


def _text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ServiceError(f"{what}: at most {limit:,} characters.")
    return value


def _rate(value: Decimal | None, what: str) -> Decimal | None:
    if value is not None and not Decimal(0) <= value <= Decimal(100):
        raise ServiceError(f"{what}: a percentage from 0 to 100.")
    return value


def _legal(details: LegalDetails) -> dict[str, str]:
    return {
        "legal_name": _text(details.legal_name, "Legal name", 200),
        "address": _text(details.address, "Address", 1000),
        "tax_id": _text(details.tax_id, "Tax id", 64),
    }


def billing_emails(text: str) -> str:
    """The addresses in ``text`` (separated by commas, semicolons or white space), checked
    and normalised, as stored: "a@x.example, b@x.example"."""
    addresses = [part for part in re.split(r"[\s,;]+", text or "") if part]
    if len(addresses) > MAX_BILLING_EMAILS:
        raise ServiceError(f"Billing emails: at most {MAX_BILLING_EMAILS} addresses.")
    cleaned: list[str] = []
    for address in addresses:
        try:
            valid = validate_email(address, check_deliverability=False)
        except EmailNotValidError as error:
            raise ServiceError(
                f"Billing emails: “{address[:80]}” is not an email address ({error})."
            ) from error
        if valid.normalized.lower() not in (known.lower() for known in cleaned):
            cleaned.append(valid.normalized)
    joined = ", ".join(cleaned)
    if len(joined) > 1000:
        raise ServiceError("Billing emails: at most 1,000 characters in all.")
    return joined


def _profile(organization: Organization) -> BillingProfile:
    """The organisation's profile, made on first edit."""
    profile = profile_of(organization.id)
    if profile is None:
        profile = BillingProfile(
            vendor_id=organization.tenant_id,
            organization_id=organization.id,
            legal_name="",
            address="",
            tax_id="",
            billing_emails="",
            tax_note="",
            bank_details="",
            review_days=2,
        )
        db.session.add(profile)
        db.session.flush()
    return profile


def vendor_profile(actor: Actor) -> tuple[Organization, BillingProfile | None]:
    return db.session.get(Organization, actor.vendor_id), profile_of(actor.vendor_id)


def update_vendor_billing(actor: Actor, values: VendorBilling) -> Organization:
    """Finance or an admin sets the vendor's billing settings (one audit event per change)."""
    _refuse_unless_books(actor)
    prefix = (values.invoice_prefix or "").strip()
    if len(prefix) > MAX_PREFIX or not PREFIX.fullmatch(prefix):
        raise ServiceError(
            f"Invoice prefix: up to {MAX_PREFIX} capital letters, digits and single dashes."
        )
    if not 0 <= values.payment_terms_days <= MAX_TERMS_DAYS:
        raise ServiceError(f"Payment terms: from 0 to {MAX_TERMS_DAYS} days.")
    if not 0 <= values.review_days <= MAX_REVIEW_DAYS:
        raise ServiceError(f"Review period: from 0 to {MAX_REVIEW_DAYS} days.")
    vendor = db.session.get(Organization, actor.vendor_id)
    profile_changes: dict[str, Any] = audit.diff(
        _profile(vendor),
        {
            **_legal(values.legal),
            "bank_details": _text(values.bank_details, "Bank details", 1000),
            "review_days": values.review_days,
        },
    )
    vendor_changes = audit.diff(
        vendor,
        {
            "tax_rate": _rate(values.tax_rate, "Tax rate"),
            "invoice_prefix": prefix,
            "payment_terms_days": values.payment_terms_days,
        },
    )
    changes = profile_changes | vendor_changes
    if changes:
        audit.record("billing.vendor_settings_updated", vendor, changes=changes)
    db.session.commit()
    return vendor


def update_customer_billing(
    actor: Actor, customer: Organization, values: CustomerBilling
) -> BillingProfile:
    """Finance or an admin sets a customer's legal details, billing contacts and tax rate."""
    _refuse_unless_books(actor)
    if customer.kind is not OrgKind.CUSTOMER:
        raise ServiceError("Billing details are kept for customers only.")
    fields = {
        **_legal(values.legal),
        "billing_emails": billing_emails(values.billing_emails),
        "tax_rate": _rate(values.tax_rate, "Tax rate override"),
        "tax_note": _text(values.tax_note, "Tax note", 200),
    }
    profile = _profile(customer)
    changes = audit.diff(profile, fields)
    if changes:
        audit.record("billing.customer_profile_updated", customer, changes=changes)
    db.session.commit()
    return profile
