"""Who may do what with the vendor's money: one answer for services, pages and the API.

Finance and the vendor's admin keep the books; a customer's own people (buyer, approver,
viewer) read their organisation's issued invoices and credit notes and pay them by card; a
partner manager reads its own partner's payout statements. Nobody else sees any of it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from billing.models import BILLING_STAFF, Invoice, InvoiceState, Payout, PayoutState
from core.permissions import CUSTOMER_ROLES, Actor, Role

CARD_PAYERS = (Role.BUYER, Role.APPROVER)


def keeps_books(actor: Actor | None) -> bool:
    return actor is not None and actor.role in BILLING_STAFF


def sees_invoices(actor: Actor | None) -> bool:
    return actor is not None and (actor.role in BILLING_STAFF or actor.role in CUSTOMER_ROLES)


def invoice_reach(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Billing staff see every invoice of the tenant; a customer's people the issued ones of
    their own organisation (a draft is the vendor's work in progress); anyone else none."""
    if keeps_books(actor):
        return stmt
    if actor is not None and actor.role in CUSTOMER_ROLES:
        return stmt.where(
            cls.customer_id == actor.organization_id, Invoice.state != InvoiceState.DRAFT
        )
    return stmt.where(sa.false())


def customer_document_reach(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Credit notes and payments: billing staff all, a customer's people their own."""
    if keeps_books(actor):
        return stmt
    if actor is not None and actor.role in CUSTOMER_ROLES:
        return stmt.where(cls.customer_id == actor.organization_id)
    return stmt.where(sa.false())


def payout_reach(cls: Any, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
    """Billing staff see every statement; a partner manager the approved and paid statements
    of their own partner (a draft may still change)."""
    if keeps_books(actor):
        return stmt
    if actor is not None and actor.role is Role.PARTNER_MANAGER:
        return stmt.where(
            cls.partner_id == actor.organization_id, Payout.state != PayoutState.DRAFT
        )
    return stmt.where(sa.false())


def pays_by_card(actor: Actor | None, invoice: Invoice) -> bool:
    """A customer's buyer or approver pays their own organisation's open invoice by card."""
    return (
        actor is not None
        and actor.role in CARD_PAYERS
        and invoice.customer_id == actor.organization_id
    )
