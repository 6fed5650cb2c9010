"""Outgoing email through an outbox.

``send_mail`` only adds a row to the session, so a message exists exactly when the change
that caused it commits. ``deliver_pending``, a scheduler job, sends what is waiting: to SMTP
when MAIL_SERVER is set, otherwise to the console (the outbox page shows every message in
development). No request waits on SMTP, and each message is claimed (``core.claims``) so two
schedulers never send it twice.
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Mapped, mapped_column

from core import claims
from core.claims import Claimable
from core.db import IdMixin, utcnow
from core.extensions import db
from core.permissions import Actor, Role


class OutboxEmail(IdMixin, Claimable, db.Model):
    __tablename__ = "outbox_email"

    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)

    @property
    def sent_at(self) -> datetime | None:
        return self.done_at


def send_mail(recipient: str, subject: str, body: str, *, vendor_id: int | None = None) -> None:
    """Queue a plain-text email in the caller's transaction."""
    db.session.add(
        OutboxEmail(recipient=recipient, subject=subject[:200], body=body, vendor_id=vendor_id)
    )


def reads_tenant_mail(actor: Actor) -> bool:
    """A vendor admin reads its tenant's mail on the development outbox page."""
    return actor.role is Role.ADMIN


def readable_mail(email: str, actor: Actor) -> ColumnElement[bool]:
    """The outbox mail a person may read: their own, and their tenant's for an admin. Never
    anyone else's: a password-reset link in it opens their account."""
    own = OutboxEmail.recipient == email
    if reads_tenant_mail(actor):
        return sa.or_(own, OutboxEmail.vendor_id == actor.vendor_id)
    return own


def _message(email: OutboxEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message.set_content(email.body)
    return message


def _deliver(email: OutboxEmail) -> None:
    config = current_app.config
    if not config["MAIL_SERVER"]:
        current_app.logger.info("email to %s: %s\n%s", email.recipient, email.subject, email.body)
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(_message(email))


def deliver_pending(limit: int = 20) -> int:
    """Send waiting messages, each at most once; returns how many were sent."""
    sent = 0
    for email in claims.claim(OutboxEmail, limit=limit):
        try:
            _deliver(email)
        except (OSError, smtplib.SMTPException) as error:
            claims.failed(email, str(error))
        else:
            claims.finished(email)
            sent += 1
        db.session.commit()
    return sent
