"""Outgoing email through an outbox.

``send_mail`` only adds a row to the session, so a message exists exactly when the change
that caused it commits. ``deliver_pending``, a scheduler job, sends what is waiting: to SMTP
when MAIL_SERVER is set, otherwise to the console (the outbox page shows every message in
development). No request waits on SMTP, and each message is claimed (``core.claims``) so two
schedulers never send it twice.

Attachments are stored as references (``Attachment``: a source name, an id, a file name) and
read at delivery through the loader the owning area registered (``attachment_source``): a
stored document is kept once however many people it is mailed to, and core never imports
the area that owns it.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Mapped, mapped_column

from core import claims
from core.claims import Claimable
from core.db import IdMixin, utcnow
from core.extensions import db
from core.permissions import Actor, Role
from core.tenancy import all_tenants, tenant_scope


class OutboxEmail(IdMixin, Claimable, db.Model):
    __tablename__ = "outbox_email"

    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    # ``Attachment`` references as dicts, read at delivery (see ``attachment_source``).
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )

    @property
    def sent_at(self) -> datetime | None:
        return self.done_at


@dataclass(frozen=True)
class Attachment:
    """A file to attach, named by the area that keeps it: ``source`` is the name its loader
    was registered under, ``object_id`` what the loader reads."""

    source: str
    object_id: int
    filename: str
    mimetype: str = "application/pdf"


class AttachmentMissing(LookupError):
    """An attachment's loader found nothing (yet): the message waits and is tried again."""


AttachmentLoader = Callable[[int], bytes | None]
_loaders: dict[str, AttachmentLoader] = {}


def attachment_source(name: str) -> Callable[[AttachmentLoader], AttachmentLoader]:
    """Register ``loader(object_id) -> bytes | None`` for attachments of source ``name``; it
    runs in the message's tenant scope."""

    def register(loader: AttachmentLoader) -> AttachmentLoader:
        existing = _loaders.get(name)
        if existing is not None and existing is not loader:
            raise RuntimeError(f"two loaders for mail attachments of source {name}")
        _loaders[name] = loader
        return loader

    return register


def send_mail(
    recipient: str,
    subject: str,
    body: str,
    *,
    vendor_id: int | None = None,
    attachments: Sequence[Attachment] = (),
) -> None:
    """Queue a plain-text email in the caller's transaction."""
    for attachment in attachments:
        if attachment.source not in _loaders:
            raise RuntimeError(f"no loader for mail attachments of source {attachment.source}")
    db.session.add(
        OutboxEmail(
            recipient=recipient,
            subject=subject[:200],
            body=body,
            vendor_id=vendor_id,
            attachments=[asdict(attachment) for attachment in attachments],
        )
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


def _files(email: OutboxEmail) -> list[tuple[Attachment, bytes]]:
    """Read ``email``'s attachments in its tenant's scope, in a short read of their own."""
    if not email.attachments:
        return []
    files = []
    scope = tenant_scope(email.vendor_id) if email.vendor_id is not None else all_tenants()
    with scope:
        for reference in email.attachments or []:
            attachment = Attachment(**reference)
            loader = _loaders.get(attachment.source)
            content = loader(attachment.object_id) if loader is not None else None
            if content is None:
                raise AttachmentMissing(f"attachment {attachment.filename} is not there yet")
            files.append((attachment, content))
    db.session.commit()  # no transaction stays open while the server is talked to
    return files


def _message(email: OutboxEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message.set_content(email.body)
    for attachment, content in _files(email):
        maintype, _, subtype = attachment.mimetype.partition("/")
        message.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _deliver(email: OutboxEmail) -> None:
    config = current_app.config
    if not config["MAIL_SERVER"]:
        names = ", ".join(reference["filename"] for reference in email.attachments or [])
        current_app.logger.info(
            "email to %s: %s%s\n%s",
            email.recipient,
            email.subject,
            f" (attached: {names})" if names else "",
            email.body,
        )
        return
    message = _message(email)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def deliver_pending(limit: int = 20) -> int:
    """Send waiting messages, each at most once; returns how many were sent."""
    sent = 0
    for email in claims.claim(OutboxEmail, limit=limit):
        try:
            _deliver(email)
        except (OSError, smtplib.SMTPException, AttachmentMissing) as error:
            claims.failed(email, str(error))
        else:
            claims.finished(email)
            sent += 1
        db.session.commit()
    return sent
