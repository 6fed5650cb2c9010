"""Billing's scheduled jobs: dunning reminders, and issuing the drafts a billing policy made
once the vendor's review days have passed.

Each finds its candidates with a plain read, then acts on each in a transaction of its own
that claims first, so two schedulers running the same job at once act once: a reminder by
its unique row (``billing.dunning``), a draft under its row lock, issued only if still a
draft. Each returns how much it did, so ``flask scheduler drain`` knows when nothing is left.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from accounts.models import Organization
from billing import dunning, invoices
from billing.models import BillingProfile, Invoice, InvoiceLine, InvoiceState
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.permissions import OrgKind
from core.scheduler import every

DEFAULT_REVIEW_DAYS = 2
BATCH = 200


@every(60 * 60)
def send_dunning_reminders() -> int:
    """The reminders of invoices 1, 7 and 14 days overdue, each once (``billing.dunning``)."""
    today = utcnow().date()
    due = dunning.due(today)
    db.session.commit()
    sent = 0
    for invoice_id, step in due:
        sent += dunning.remind(invoice_id, step, today)
        db.session.commit()
    return sent


def _review_days() -> list[tuple[int, int]]:
    """(vendor id, review days) of every vendor; 2 days where it set none."""
    rows = db.session.execute(
        select(Organization.id, BillingProfile.review_days)
        .outerjoin(BillingProfile, BillingProfile.organization_id == Organization.id)
        .where(Organization.kind == OrgKind.VENDOR)
        .order_by(Organization.id)
    )
    return [(vendor_id, DEFAULT_REVIEW_DAYS if days is None else days) for vendor_id, days in rows]


@every(30 * 60)
def issue_reviewed_drafts() -> int:
    """Issue (as the system) each draft a billing policy made that finance left unissued for
    the vendor's review days: numbered, frozen, rendered and mailed as finance's would be.
    A draft finance emptied or made worth nothing stays for finance to discard."""
    now = utcnow()
    has_lines = select(InvoiceLine.id).where(InvoiceLine.invoice_id == Invoice.id).exists()
    ids: list[int] = []
    for vendor_id, days in _review_days():
        ids += db.session.scalars(
            select(Invoice.id)
            .where(
                Invoice.vendor_id == vendor_id,
                Invoice.state == InvoiceState.DRAFT,
                Invoice.created_by_id.is_(None),
                Invoice.created_at <= now - timedelta(days=days),
                Invoice.total_minor > 0,
                has_lines,
            )
            .order_by(Invoice.id)
            .limit(BATCH)
        )
    db.session.commit()
    issued = 0
    for invoice_id in ids:
        invoice = invoices.lock(db.session.get(Invoice, invoice_id))
        if invoice.state is not InvoiceState.DRAFT:
            db.session.commit()
            continue
        try:
            invoices.freeze(invoice, None)
        except ServiceError as error:
            db.session.rollback()
            current_app.logger.warning("draft %s not issued: %s", invoice_id, error.message)
            continue
        db.session.commit()
        issued += 1
    return issued
