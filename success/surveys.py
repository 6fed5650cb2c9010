"""The periodic NPS survey: each current key contact of each account is asked once per
half-year "how likely are you to recommend us?" (0-10), by an email whose link carries a token
that opens the answer page without signing in.

The ``NpsInvite`` row (customer, e-mail, period) is the claim: the job inserts it with
``ON CONFLICT DO NOTHING`` and mails only when its own insert made the row, so the job run
twice, or two schedulers at once, ask once. Only the token's SHA-256 is stored; the contact's
link holds the token itself. An answer is taken once (a conditional update), recorded as the
customer's "nps" signal of the day (the mean of that day's answers) and classified: a
detractor (0-6) opens a follow-up for the owning CSM, a passive (7-8) a lighter one, and a
promoter (9-10) is a reference candidate.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from accounts.models import Organization
from core import audit
from core.db import LabelledEnum, insert_for, utcnow
from core.errors import Conflict, ServiceError
from core.extensions import db
from core.mail import send_mail
from core.permissions import OrgKind, scoped
from core.scheduler import every
from core.tenancy import all_tenants, tenant_scope
from delivery import recipients
from success import follow_ups
from success.models import CustomerAccount, KeyContact
from success.signal_models import BuiltInSignal, SignalSource
from success.signals import SignalRow, store_signals
from success.survey_models import FollowUpKind, NpsInvite

log = logging.getLogger(__name__)

SCORES = range(11)
PASSIVE_FROM, PROMOTER_FROM = 7, 9
MAX_COMMENT = 1000
MAX_TOKEN = 100  # longer is no token of ours: refused before any query
INVITE_BATCH = 200
MAX_BATCHES = 50  # per run; the next run goes on where this one stopped
REFERENCE_DAYS = 365
ANSWER_ENDPOINT = "success.nps_answer"


class NpsCategory(LabelledEnum):
    DETRACTOR = "detractor"
    PASSIVE = "passive"
    PROMOTER = "promoter"


def category(score: int) -> NpsCategory:
    if score >= PROMOTER_FROM:
        return NpsCategory.PROMOTER
    if score >= PASSIVE_FROM:
        return NpsCategory.PASSIVE
    return NpsCategory.DETRACTOR


FOLLOW_UP = {
    NpsCategory.DETRACTOR: FollowUpKind.DETRACTOR,
    NpsCategory.PASSIVE: FollowUpKind.PASSIVE,
}


def period_of(day: date) -> str:
    """The survey's half-year: "2026-H1" (January to June) or "2026-H2"."""
    return f"{day.year}-H{1 if day.month <= 6 else 2}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def answer_link(token: str) -> str:
    """The answer page's address for an email; empty when no host is known (SERVER_NAME)."""
    return recipients.link(ANSWER_ENDPOINT, token=token)


# --- inviting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DueContact:
    vendor_id: int
    vendor_name: str
    customer_id: int
    customer_name: str
    contact_id: int
    name: str
    email: str


def due_contacts(
    period: str, limit: int = INVITE_BATCH, customer_ids: list[int] | None = None
) -> list[DueContact]:
    """Current key contacts with an e-mail address, of active customers of active vendors,
    not asked this period, once per address and customer: one statement."""
    email = func.lower(func.trim(KeyContact.email))
    customer, vendor = aliased(Organization), aliased(Organization)
    invited = select(NpsInvite.id).where(
        NpsInvite.customer_id == customer.id, NpsInvite.email == email, NpsInvite.period == period
    )
    rows = db.session.execute(
        select(
            KeyContact.vendor_id,
            vendor.name,
            customer.id,
            customer.name,
            KeyContact.id,
            KeyContact.name,
            email,
        )
        .join(CustomerAccount, CustomerAccount.id == KeyContact.account_id)
        .join(customer, customer.id == CustomerAccount.organization_id)
        .join(vendor, vendor.id == KeyContact.vendor_id)
        .where(
            KeyContact.ended_at.is_(None),
            email.like("%_@_%"),
            customer.kind == OrgKind.CUSTOMER,
            customer.active.is_(True),
            vendor.active.is_(True),
            ~invited.exists(),
            customer.id.in_(customer_ids) if customer_ids is not None else sa.true(),
        )
        .order_by(KeyContact.vendor_id, customer.id, KeyContact.id)
        .limit(limit)
    )
    unique: dict[tuple[int, str], DueContact] = {}
    for row in rows:
        contact = DueContact(*row)
        unique.setdefault((contact.customer_id, contact.email), contact)
    return list(unique.values())


def invite(contact: DueContact, period: str) -> str | None:
    """Ask ``contact`` for this period unless they were asked: the token of the link this
    call mailed, or ``None``. The email is queued in the caller's transaction. No commit."""
    token = secrets.token_urlsafe(32)
    table = NpsInvite.__table__
    made = db.session.execute(
        insert_for(db.session, table)
        .values(
            vendor_id=contact.vendor_id,
            customer_id=contact.customer_id,
            contact_id=contact.contact_id,
            name=contact.name[:120],
            email=contact.email[:254],
            period=period,
            token=token_hash(token),
            comment="",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["customer_id", "email", "period"])
        .returning(table.c.id)
    ).scalar()
    if made is None:
        return None
    subject, body = invitation(contact, answer_link(token))
    send_mail(contact.email, subject, body, vendor_id=contact.vendor_id)
    return token


def invitation(contact: DueContact, link: str) -> tuple[str, str]:
    subject = f"{contact.vendor_name}: how likely are you to recommend us?"
    body = "\n".join(
        [
            f"Hello {contact.name},",
            "",
            f"How likely are you to recommend {contact.vendor_name} to a friend or colleague?",
            "One click, a score from 0 to 10 and, if you like, a word on why:",
            "",
            link,
            "",
            f"You are asked as a key contact of {contact.customer_name}, once every six months.",
            f"Thank you, the {contact.vendor_name} customer success team",
        ]
    )
    return subject, body


@every(3600)
def send_nps_surveys() -> int:
    """Ask every contact not asked this half-year; how many were asked."""
    if not answer_link("probe"):
        log.warning("NPS survey not sent: set SERVER_NAME so its emails can carry a link")
        return 0
    period = period_of(utcnow().date())
    asked = 0
    for _ in range(MAX_BATCHES):
        due = due_contacts(period)
        if not due:
            break
        per_vendor: Counter[int] = Counter()
        for contact in due:
            if invite(contact, period) is not None:
                per_vendor[contact.vendor_id] += 1
        for vendor_id, count in per_vendor.items():
            audit.record(
                "success.nps_survey_sent",
                vendor_id=vendor_id,
                object_type="nps_invite",
                changes={"period": period, "invited": count},
            )
        db.session.commit()
        asked += sum(per_vendor.values())
    return asked


# --- answering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ballot:
    """What the answer page shows of an invitation (read in its vendor's scope)."""

    invite_id: int
    vendor_id: int
    vendor_name: str
    customer_name: str
    name: str
    answered_at: datetime | None
    score: int | None


def ballot(token: str) -> Ballot | None:
    """The invitation ``token`` opens, or ``None`` (unknown, malformed)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    with all_tenants():
        found = db.session.scalar(select(NpsInvite).where(NpsInvite.token == token_hash(token)))
        if found is None:
            return None
        names = dict(
            db.session.execute(
                select(Organization.id, Organization.name).where(
                    Organization.id.in_([found.vendor_id, found.customer_id])
                )
            ).all()
        )
    return Ballot(
        found.id,
        found.vendor_id,
        names.get(found.vendor_id, ""),
        names.get(found.customer_id, ""),
        found.name,
        found.answered_at,
        found.score,
    )


def parse_score(raw: Any) -> int:
    """A whole number from 0 to 10, or a ``ServiceError`` saying so."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or int(text) not in SCORES:
        raise ServiceError("Choose a score from 0 (not at all likely) to 10 (extremely likely).")
    return int(text)


def answer(token: str, raw_score: Any, comment: str) -> NpsInvite:
    """Record the one answer of the invitation ``token`` opens: the signal, the follow-up,
    the audit event, one transaction. ``Conflict`` when it was answered already."""
    found = ballot(token)
    if found is None:
        raise ServiceError("This survey link is not valid.")
    score = parse_score(raw_score)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ServiceError(f"Comment: at most {MAX_COMMENT:,} characters.")
    with tenant_scope(found.vendor_id):
        now = utcnow()
        taken = db.session.execute(
            update(NpsInvite)
            .where(NpsInvite.id == found.invite_id, NpsInvite.answered_at.is_(None))
            .values(answered_at=now, score=score, comment=comment)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            db.session.rollback()
            raise Conflict("You answered this survey already: thank you.")
        made = db.session.get(NpsInvite, found.invite_id, populate_existing=True)
        _record_signal(made, now.date())
        _follow_up(made, now.date())
        audit.record(
            "success.nps_answered",
            made,
            changes={"score": score, "category": category(score).value, "period": made.period},
        )
        db.session.commit()
        return made


def _record_signal(made: NpsInvite, day: date) -> None:
    """The customer's "nps" signal of ``day``: the mean of the answers given that day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    mean = db.session.scalar(
        select(func.avg(NpsInvite.score)).where(
            NpsInvite.customer_id == made.customer_id,
            NpsInvite.answered_at >= start,
            NpsInvite.answered_at < start + timedelta(days=1),
            NpsInvite.score.is_not(None),
        )
    )
    row = SignalRow(made.customer_id, BuiltInSignal.NPS.value, day, float(mean))
    store_signals(made.vendor_id, [row], SignalSource.SURVEY, None, filename="NPS survey")


def _follow_up(made: NpsInvite, today: date) -> None:
    kind = FOLLOW_UP.get(category(made.score))
    if kind is None:
        return
    verb = "Call" if kind is FollowUpKind.DETRACTOR else "Check in with"
    follow_ups.open_task(
        made.customer_id,
        kind,
        f"nps:{made.id}",
        f"{verb} {made.name}: NPS {made.score} of 10",
        "\n".join(filter(None, [f"{made.name} <{made.email}>", made.comment])),
        today,
    )


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRow:
    invite: NpsInvite
    customer: str

    @property
    def category(self) -> NpsCategory:
        return category(self.invite.score)


def promoters(today: date) -> sa.Select[Any]:
    """Reference candidates: promoters of the last twelve months, newest first."""
    return (
        scoped(NpsInvite)
        .where(
            NpsInvite.score >= PROMOTER_FROM,
            NpsInvite.answered_at
            >= datetime.combine(today - timedelta(days=REFERENCE_DAYS), time.min, tzinfo=UTC),
        )
        .order_by(NpsInvite.answered_at.desc(), NpsInvite.id.desc())
    )


def latest_answers(customer_id: int, limit: int) -> list[NpsInvite]:
    return list(
        db.session.scalars(
            scoped(NpsInvite)
            .where(NpsInvite.customer_id == customer_id, NpsInvite.answered_at.is_not(None))
            .order_by(NpsInvite.answered_at.desc(), NpsInvite.id.desc())
            .limit(limit)
        )
    )


def answer_rows(page: list[NpsInvite]) -> list[AnswerRow]:
    names = follow_ups.customer_names({invite.customer_id for invite in page})
    return [AnswerRow(invite, names.get(invite.customer_id, "")) for invite in page]
