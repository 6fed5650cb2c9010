"""The PDF of an approved payout statement, rendered once after approval and stored as an
``InvoiceDocument`` of kind "payout": the file the partner downloads is always the one made
when the statement became final. It prints the same partial as the statement page, with
the billing documents' one print stylesheet (``billing.documents.render_pdf``).

Approving only queues the work (``payouts.approve``); the job builds the HTML in a short
read, renders with no transaction open, and stores the document once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accounts.models import Organization
from billing import documents, payouts
from billing.models import InvoiceDocument, Payout
from core import queue
from core.extensions import db

KIND = "payout"


def statement_html(payout_id: int) -> str:
    """The statement as the PDF prints it, read afresh."""
    payout = db.session.scalar(payouts.with_lines(payout_id))
    # The Jinja environment directly: the job has no request, and needs none of its context.
    return current_app.jinja_env.get_template("billing/payout_pdf.html").render(
        payout=payout, vendor=db.session.get(Organization, payout.vendor_id), for_print=True
    )


def filename(payout: Payout) -> str:
    return f"payout-{payout.period_start:%Y-%m-%d}-{payout.period_end:%Y-%m-%d}-{payout.id}.pdf"


def stored(payout_id: int) -> sa.Select[tuple[InvoiceDocument]]:
    """The statement's stored PDF row (its bytes deferred)."""
    return select(InvoiceDocument).where(
        InvoiceDocument.kind == KIND, InvoiceDocument.object_id == payout_id
    )


@queue.performs(payouts.DOCUMENT_JOB)
def store_payout_document(payload: dict[str, Any]) -> None:
    payout_id = payload["payout_id"]
    if db.session.scalar(stored(payout_id).with_only_columns(InvoiceDocument.id)) is not None:
        db.session.commit()
        return
    payout = db.session.get(Payout, payout_id)
    vendor_id, name = payout.vendor_id, filename(payout)
    html = statement_html(payout_id)
    db.session.commit()
    pdf = documents.render_pdf(html)
    db.session.add(
        InvoiceDocument(vendor_id=vendor_id, kind=KIND, object_id=payout_id, filename=name, pdf=pdf)
    )
    try:
        db.session.commit()
    except IntegrityError:  # a run whose lease had passed stored it meanwhile
        db.session.rollback()
