"""Notifications: in the app (the bell) and by email, from one call.

``notify`` writes the in-app notification and, unless the person turned that kind of email
off, queues the email (``core.mail``), both in the caller's transaction: they exist exactly
when the change they report commits. Areas declare the kinds they send with
``notification_kind`` (a key, a label for the preferences page). Security emails (password
reset, invitations) are not notifications: they go through ``send_mail`` and are always sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import select, update
from sqlalchemy.orm import Mapped, mapped_column

from core.db import IdMixin, TenantMixin, utcnow
from core.extensions import db
from core.mail import send_mail


class Recipient(Protocol):
    id: int
    email: str


@dataclass(frozen=True)
class NotificationKind:
    key: str
    label: str  # what the preferences page calls it: "An order waits for my approval"


_kinds: dict[str, NotificationKind] = {}


def notification_kind(key: str, label: str) -> str:
    """Declare a kind of notification an area sends; returns ``key``."""
    _kinds[key] = NotificationKind(key, label)
    return key


def kinds() -> list[NotificationKind]:
    return sorted(_kinds.values(), key=lambda kind: kind.label)


class Notification(IdMixin, TenantMixin, db.Model):
    """Something that happened which a person should know about, in one vendor."""

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_unread", "user_id", "vendor_id", "read_at"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class EmailOptOut(db.Model):
    """A person does not want emails of ``kind`` (they still see it in the app)."""

    __tablename__ = "email_opt_out"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(60), primary_key=True)


def notify(
    user: Recipient, subject: str, body: str, link: str, kind: str, *, vendor_id: int
) -> Notification:
    """Tell ``user`` in the app and, if they want this kind of email, by email too."""
    if kind not in _kinds:
        raise ValueError(f"undeclared notification kind {kind!r}")
    notification = Notification(
        vendor_id=vendor_id,
        user_id=user.id,
        kind=kind,
        title=subject[:200],
        body=body,
        link=link[:500],
    )
    db.session.add(notification)
    if wants_email(user.id, kind):
        send_mail(user.email, subject, f"{body}\n\n{link}" if link else body, vendor_id=vendor_id)
    return notification


def wants_email(user_id: int, kind: str) -> bool:
    opted_out = db.session.scalar(
        select(EmailOptOut.kind).where(EmailOptOut.user_id == user_id, EmailOptOut.kind == kind)
    )
    return opted_out is None


def email_choices(user_id: int) -> dict[str, bool]:
    """Each declared kind and whether ``user_id`` receives its email."""
    off = set(db.session.scalars(select(EmailOptOut.kind).where(EmailOptOut.user_id == user_id)))
    return {kind.key: kind.key not in off for kind in kinds()}


def choose_emails(user_id: int, wanted: set[str]) -> None:
    """Receive the emails of the kinds in ``wanted``, none of the other declared kinds."""
    keys = set(_kinds)
    db.session.execute(sa.delete(EmailOptOut).where(EmailOptOut.user_id == user_id))
    db.session.add_all(EmailOptOut(user_id=user_id, kind=key) for key in sorted(keys - wanted))
    db.session.commit()


def unread_count_column(user_id: sa.ColumnElement[int], vendor_id: sa.ColumnElement[int]):
    """The unread count of a user in a vendor, as a correlated subquery: the identity
    statement reads it with the memberships, so the bell costs no statement of its own."""
    table = Notification.__table__
    return (
        select(sa.func.count())
        .where(
            table.c.user_id == user_id,
            table.c.vendor_id == vendor_id,
            table.c.read_at.is_(None),
        )
        .correlate_except(table)
        .scalar_subquery()
    )


def mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications (or all of them in the current vendor) read."""
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    count = db.session.execute(stmt.values(read_at=utcnow())).rowcount
    db.session.commit()
    return count
