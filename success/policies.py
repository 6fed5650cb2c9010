"""Who may see and change customer accounts: one answer for services, pages and the API.

Every CSM of the vendor reads every customer account of the vendor (a CSM covers for a
colleague, and a vendor small enough to have a few CSMs shares its accounts); only the
account's owning CSM and the vendor's admins change its record, key contacts and notes;
only admins name the owning CSM. Nobody else, in the vendor or outside it, sees accounts:
an account page answers them 404, the list 403 (README, Decisions).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from accounts.models import Organization
from core.permissions import Actor, Role

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


def account_reach(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Account records, contacts and notes: the vendor's admins and CSMs, nobody else (the
    tenant filter is added by ``core.tenancy``)."""
    return stmt if sees_accounts(actor) else stmt.where(sa.false())
