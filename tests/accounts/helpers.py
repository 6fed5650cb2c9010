"""Reading what the app did: audit events and queued emails."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.audit import AuditEvent
from core.extensions import db
from core.mail import OutboxEmail


def audit_actions(unscoped) -> list[str]:
    with unscoped():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def emails_to(unscoped, recipient: str) -> list[OutboxEmail]:
    with unscoped():
        emails = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.recipient == recipient).order_by(OutboxEmail.id)
        ).all()
        db.session.expunge_all()
        return list(emails)


def link_path(body: str) -> str:
    """The path of the first link in an email body (links are absolute, to SERVER_NAME)."""
    match = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert match, body
    return match.group(1)
