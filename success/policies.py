"""Who may see and change customer accounts: one answer for services, pages and the API.

Every CSM of the vendor reads every customer account of the vendor (a CSM covers for a
colleague, and a vendor small enough to have a few CSMs shares its accounts); only the
account's owning CSM and the vendor's admins change its record, key contacts and notes;
only admins name the owning CSM. A vendor may keep each CSM to the accounts they own
(``SuccessSettings.csms_see_own_accounts_only``): another's account then answers 404.
Nobody else, in the vendor or outside it, sees accounts: an account page answers them 404,
the list 403 (README, Decisions). A customer's own people read its success plans and value
reports, nothing else of the account.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, g, has_request_context

from accounts.models import Organization
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, Actor, OrgKind, Role, current_actor, get_or_404

ACCOUNT_READERS = (Role.ADMIN, Role.CSM)


def sees_accounts(actor: Actor | None) -> bool:
    return actor is not None and actor.role in ACCOUNT_READERS


def owns(actor: Actor | None, customer: Organization) -> bool:
    return (
        actor is not None
        and actor.role is Role.CSM
        and customer.csm_id is not None
        and customer.csm_id == actor.id
    )


def edits_account(actor: Actor | None, customer: Organization) -> bool:
    """The owning CSM or an admin of the customer's vendor."""
    if actor is None or customer.tenant_id != actor.vendor_id:
        return False
    return actor.role is Role.ADMIN or owns(actor, customer)


def assigns_owner(actor: Actor | None) -> bool:
    return actor is not None and actor.role is Role.ADMIN


def own_only_setting() -> bool:
    """Whether the current vendor keeps CSMs to their own accounts (read once per request)."""
    if has_request_context() and "csms_own_only" in g:
        return g.csms_own_only
    from success.models import SuccessSettings

    own_only = bool(db.session.scalar(sa.select(SuccessSettings.csms_see_own_accounts_only)))
    if has_request_context():
        g.csms_own_only = own_only
    return own_only


def restricted_to_own(actor: Actor | None) -> bool:
    """Whether ``actor`` is a CSM whose vendor keeps CSMs to their own accounts."""
    return actor is not None and actor.role is Role.CSM and own_only_setting()


def sees_account(actor: Actor | None, customer: Organization) -> bool:
    """Whether ``actor`` may open this customer's account (else 404)."""
    if not sees_accounts(actor) or customer.tenant_id != actor.vendor_id:
        return False
    return not restricted_to_own(actor) or owns(actor, customer)


def _owned_customers(actor: Actor) -> sa.Select[Any]:
    return sa.select(Organization.id).where(Organization.csm_id == actor.id)


def account_reach(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Everything of the success area: the vendor's admins and CSMs, nobody else (the
    tenant filter is added by ``core.tenancy``); a CSM kept to their own accounts sees the
    rows of those customers, and the vendor-wide rows (playbooks, signal types)."""
    if not sees_accounts(actor):
        return stmt.where(sa.false())
    if not restricted_to_own(actor):
        return stmt
    return _own_rows(cls, stmt, actor)


def _own_rows(cls: Any, stmt: sa.Select[Any], actor: Actor) -> sa.Select[Any]:
    from success.models import CustomerAccount

    owned = _owned_customers(actor)
    if cls is CustomerAccount:
        return stmt.where(cls.organization_id.in_(owned))
    if hasattr(cls, "account_id"):
        accounts = sa.select(CustomerAccount.id).where(CustomerAccount.organization_id.in_(owned))
        return stmt.where(cls.account_id.in_(accounts))
    if hasattr(cls, "customer_id"):
        return stmt.where(cls.customer_id.in_(owned))
    return stmt


def customer_readable_reach(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Success plans and value reports: as ``account_reach``, and the customer's own people
    read their own."""
    if actor is not None and actor.role in CUSTOMER_ROLES:
        return stmt.where(cls.customer_id == actor.organization_id)
    return account_reach(cls, stmt, actor)


def account_or_404(account_id: int) -> Organization:
    """The customer organisation ``account_id`` names, 404 unless the signed-in person sees
    its account (so another vendor's, or another CSM's where restricted, look absent)."""
    customer = get_or_404(Organization, account_id)
    if customer.kind is not OrgKind.CUSTOMER or not sees_account(current_actor(), customer):
        abort(404)
    return customer
