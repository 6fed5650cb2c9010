"""Delivery's scheduled jobs: auto-accept, the CSAT reminder and the SLA watch.

Each finds its candidates with a plain read, then acts on each in a transaction of its own
that claims the row first, so two schedulers running the same job at once act once:

- auto-accept re-reads the engagement under its row lock (``acceptance.auto_accept``) and
  skips it unless it is still delivered;
- the CSAT reminder stamps ``csat_reminded_at`` with a conditional ``UPDATE`` and tells the
  customer only when its own update changed the row;
- the SLA watch inserts the breach with ``ON CONFLICT DO NOTHING`` and alerts only when its
  own insert made the row.

On SQLite every job transaction begins with ``BEGIN IMMEDIATE`` (``core.db``), so claimers
queue; on PostgreSQL the row lock, the condition and the unique key decide. Each job returns
how much it did, so ``flask scheduler drain`` knows when nothing is left.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from accounts.models import Organization
from catalog.models import ServletVersion
from core.db import insert_for, utcnow
from core.extensions import db
from core.notifications import notification_kind, notify
from core.permissions import OrgKind, Role
from core.scheduler import every
from delivery import acceptance, recipients
from delivery.models import Engagement, EngagementState, SlaBreach

_E = EngagementState
# Auto-accept counts calendar days: "accepted automatically 10 days after delivery" is what
# a customer can check on a calendar, weekends included.
CSAT_REMINDER_AFTER = timedelta(days=3)
BATCH = 200

SLA_BREACHED = notification_kind("engagement.sla_breached", "An engagement misses its due date")

# The states in which a start_by, or a deliver_by, that has passed is a breach.


@every(15 * 60)
def auto_accept_deliveries() -> int:
    """Accept (as SYSTEM) each delivery its customer left unanswered for the vendor's
    ``auto_accept_days``; the customer is told and asked for its rating."""
    now = utcnow()
    due: list[tuple[int, int]] = []
    for vendor_id, days in db.session.execute(
        select(Organization.id, Organization.auto_accept_days).where(
            Organization.kind == OrgKind.VENDOR
        )
    ):
        ids = db.session.scalars(
            select(Engagement.id)
            .where(
                Engagement.vendor_id == vendor_id,
                Engagement.state == _E.DELIVERED,
                Engagement.delivered_at <= now - timedelta(days=days),
            )
            .order_by(Engagement.id)
            .limit(BATCH)
        )
        due.extend((engagement_id, days) for engagement_id in ids)
    db.session.commit()
    accepted = 0
    for engagement_id, days in due:
        engagement = db.session.get(Engagement, engagement_id)
        accepted += acceptance.auto_accept(engagement, days)
    return accepted


@every(60 * 60)
def remind_to_rate() -> int:
    """One reminder for an accepted engagement still unrated ``CSAT_REMINDER_AFTER`` after
    its acceptance; never a second."""
    cutoff = utcnow() - CSAT_REMINDER_AFTER
    unrated = (
        Engagement.state == _E.ACCEPTED,
        Engagement.rated_at.is_(None),
        Engagement.csat_reminded_at.is_(None),
        Engagement.accepted_at <= cutoff,
    )
    ids = list(
        db.session.scalars(
            select(Engagement.id).where(*unrated).order_by(Engagement.id).limit(BATCH)
        )
    )
    db.session.commit()
    reminded = 0
    for engagement_id in ids:
        claimed = db.session.execute(
            sa.update(Engagement)
            .where(Engagement.id == engagement_id, *unrated)
            .values(csat_reminded_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            engagement = db.session.get(Engagement, engagement_id)
            acceptance.ask_for_rating(engagement, None, "A reminder: your rating is still open.")
            reminded += 1
        db.session.commit()
    return reminded


@every(30 * 60)
def watch_slas() -> int:
    """A start_by passed without a start, or a deliver_by without a delivery, becomes one
    ``SlaBreach`` row and one alert (a moved date that passes again is a new breach)."""
    today = utcnow().date()
    found = [
        *_breaches("start", Engagement.start_by, Engagement.late_to_start(today)),
        *_breaches("deliver", Engagement.deliver_by, Engagement.late_to_deliver(today)),
    ]
    db.session.commit()
    alerted = 0
    for kind, engagement_id, vendor_id, due_on in found:
        table = SlaBreach.__table__
        made = db.session.execute(
            insert_for(db.session, table)
            .values(
                vendor_id=vendor_id,
                engagement_id=engagement_id,
                kind=kind,
                due_on=due_on,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["engagement_id", "kind", "due_on"])
            .returning(table.c.id)
        ).scalar()
        if made is not None:
            _alert(db.session.get(Engagement, engagement_id), kind, due_on)
            alerted += 1
        db.session.commit()
    return alerted


def _breaches(kind: str, due: Any, late: Any) -> list[tuple[str, int, int, date]]:
    """Engagements ``late`` (past ``due``) with no breach of that date recorded."""
    told = select(SlaBreach.id).where(
        SlaBreach.engagement_id == Engagement.id, SlaBreach.kind == kind, SlaBreach.due_on == due
    )
    rows = db.session.execute(
        select(Engagement.id, Engagement.vendor_id, due)
        .where(late, ~told.exists())
        .order_by(Engagement.id)
        .limit(BATCH)
    )
    return [(kind, engagement_id, vendor_id, day) for engagement_id, vendor_id, day in rows]


def _alert(engagement: Engagement, kind: str, due_on: date) -> None:
    """The delivery owner (else the vendor's delivery managers) and the account's CSM."""
    people = recipients.members(engagement.owner_id) or recipients.with_roles(
        engagement.vendor_id, Role.DELIVERY_MANAGER
    )
    people += recipients.account_csm(engagement.customer_id)
    version = db.session.get(ServletVersion, engagement.servlet_version_id)
    customer = db.session.get(Organization, engagement.customer_id)
    what = "start" if kind == "start" else "delivery"
    subject = f"Late {what}: {engagement.reference} {version.title} for {customer.name}"
    body = (
        f"{engagement.reference} {version.title} for {customer.name} was due to "
        f"{'start' if kind == 'start' else 'be delivered'} by {due_on.isoformat()} and is "
        f"{engagement.state.label.lower()}."
    )
    link = recipients.link("delivery.engagement", engagement_id=engagement.id)
    for user in {u.id: u for u in people}.values():
        notify(user, subject, body, link, SLA_BREACHED, vendor_id=engagement.vendor_id)
