"""Demo NPS answers: the given customers' key contacts are asked for this half-year and
answer: the first customer's as a detractor (with the follow-up it opens), a passive and
promoters, everyone after them as promoters and a passive; the last contact is left to
answer. Runs in the vendor's scope; each answer commits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.extensions import db
from core.tenancy import tenant_scope
from success import surveys
from success.models import ContactRole, CustomerAccount, KeyContact

ANSWERS = (
    (3, "Onboarding dragged on for weeks and nobody owned our tickets."),
    (8, "Good product; the renewal paperwork was slow."),
    (10, "The SSO rollout went without a hitch. Happy to talk to your prospects."),
    (9, "Responsive team, clear servlets."),
)
LATER = (
    (9, "Responsive team, clear servlets."),
    (10, "The onboarding servlet got our admins going in a week."),
    (7, "Fine so far; we have not used much of it yet."),
)
FALLBACK_CONTACTS = (
    ("Dana Whitfield", "dana.whitfield"),
    ("Marco Jensen", "marco.jensen"),
    ("Priya Natarajan", "priya.natarajan"),
)


def demo(vendor_id: int, customer_ids: list[int], today: date) -> None:
    """Invite the contacts of ``customer_ids`` and record answers (see the module)."""
    with tenant_scope(vendor_id):
        _ensure_contacts(vendor_id, customer_ids, today)
        period = surveys.period_of(today)
        tokens = [
            token
            for contact in surveys.due_contacts(period, customer_ids=customer_ids)
            if (token := surveys.invite(contact, period)) is not None
        ]
        db.session.commit()
        answering = tokens[:-1] if len(tokens) > len(ANSWERS) else tokens
        for index, token in enumerate(answering):
            score, comment = ANSWERS[index] if index < len(ANSWERS) else LATER[index % len(LATER)]
            surveys.answer(token, score, comment)


def _ensure_contacts(vendor_id: int, customer_ids: list[int], today: date) -> None:
    """Contacts with an e-mail address in roles still free, until three can answer (the demo
    needs a detractor, a passive and a promoter)."""
    accounts = db.session.scalars(
        select(CustomerAccount)
        .where(CustomerAccount.organization_id.in_(customer_ids))
        .order_by(CustomerAccount.id)
    ).all()
    current = db.session.execute(
        select(KeyContact.account_id, KeyContact.role, KeyContact.email).where(
            KeyContact.account_id.in_([a.id for a in accounts]), KeyContact.ended_at.is_(None)
        )
    ).all()
    reachable = sum(1 for _, _, email in current if "@" in (email or ""))
    taken = {(account_id, role) for account_id, role, _ in current}
    free = [(a, role) for role in ContactRole for a in accounts if (a.id, role) not in taken]
    for (account, role), (name, local) in zip(free, FALLBACK_CONTACTS, strict=False):
        if reachable >= len(FALLBACK_CONTACTS):
            break
        db.session.add(
            KeyContact(
                vendor_id=vendor_id,
                account_id=account.id,
                role=role,
                name=name,
                email=f"{local}@customer-{account.organization_id}.example",
                since=today,
            )
        )
        reachable += 1
    db.session.commit()
