"""Dunning: reminders of an overdue invoice at 1, 7 and 14 days past its due date, each sent
once, to the customer's billing contacts.

A reminder is a ``DunningReminder`` row, unique per invoice and step: the scheduler inserts it
with ``ON CONFLICT DO NOTHING`` and mails only when its own insert made the row, so a job run
twice, or two schedulers at once, remind once. Only the highest step an invoice has reached is
sent: after a scheduler outage an invoice 9 days late gets the 7-day reminder alone (the 1-day
one is never sent late, and three messages never arrive at once), and one 40 days late gets
the 14-day one. An invoice paid, credited or void is not reminded.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import select

from billing import invoices
from billing.models import OPEN_STATES, DunningReminder, Invoice
from core import audit
from core.db import insert_for, utcnow
from core.extensions import db
from core.mail import send_mail
from core.permissions import Role
from delivery import recipients

STEPS = (1, 7, 14)  # days overdue
BATCH = 200
# Who is reminded when the customer named no billing contact.
FALLBACK_ROLES = (Role.BUYER, Role.APPROVER)


def step_for(days_overdue: int) -> int | None:
    """The highest reminder step ``days_overdue`` has reached, or None before the first."""
    reached = [step for step in STEPS if step <= days_overdue]
    return reached[-1] if reached else None


def due(today: date, limit: int = BATCH) -> list[tuple[int, int]]:
    """(invoice id, step) of open invoices whose highest step reached has no reminder yet
    (nor a higher one): one statement, whatever the number of invoices."""
    cutoffs = {step: today - timedelta(days=step) for step in STEPS}
    whens = [(Invoice.due_on <= cutoffs[step], step) for step in reversed(STEPS[1:])]
    step = sa.case(*whens, else_=STEPS[0])
    reminded = select(DunningReminder.id).where(
        DunningReminder.invoice_id == Invoice.id, DunningReminder.days_overdue >= step
    )
    rows = db.session.execute(
        select(Invoice.id, step)
        .where(
            Invoice.state.in_(OPEN_STATES),
            Invoice.due_on <= cutoffs[STEPS[0]],
            ~reminded.exists(),
        )
        .order_by(Invoice.due_on, Invoice.id)
        .limit(limit)
    )
    return [(invoice_id, int(reached)) for invoice_id, reached in rows]


def contacts(customer_id: int) -> list[str]:
    """The customer's billing contacts, else its active buyers' and approvers' addresses."""
    profile = invoices.profile_of(customer_id)
    if profile is not None and profile.emails:
        return profile.emails
    return [user.email for user in recipients.with_roles(customer_id, *FALLBACK_ROLES)]


def remind(invoice_id: int, step: int, today: date) -> bool:
    """Send ``invoice_id``'s reminder of ``step`` unless it was sent (or the invoice was paid
    meanwhile); whether this call sent it. No commit."""
    invoice = invoices.lock(db.session.get(Invoice, invoice_id))
    if step_for(invoice.days_overdue(today)) != step:
        return False
    to = contacts(invoice.customer_id)
    table = DunningReminder.__table__
    made = db.session.execute(
        insert_for(db.session, table)
        .values(
            vendor_id=invoice.vendor_id,
            invoice_id=invoice.id,
            days_overdue=step,
            balance_minor=invoice.balance.amount,
            recipients=", ".join(to)[:1000],
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["invoice_id", "days_overdue"])
        .returning(table.c.id)
    ).scalar()
    if made is None:
        return False
    subject, body = message(invoice, step, today)
    for address in to:
        send_mail(address, subject, body, vendor_id=invoice.vendor_id)
    audit.record(
        "invoice.reminded",
        invoice,
        changes={"days_overdue": step, "balance": str(invoice.balance), "recipients": to},
    )
    return True


def message(invoice: Invoice, step: int, today: date) -> tuple[str, str]:
    seller = invoice.seller.get("name", "")
    late = invoice.days_overdue(today)
    lead = {1: "Reminder", 7: "Second reminder", 14: "Final reminder"}[step]
    subject = f"{lead}: invoice {invoice.number} from {seller} is overdue"
    days = "1 day" if late == 1 else f"{late} days"
    lines = [
        f"Invoice {invoice.number} from {seller} was due on {invoice.due_on.isoformat()} and "
        f"is {days} overdue.",
        f"Still to pay: {invoice.balance} of {invoice.total}.",
    ]
    if invoice.po_number:
        lines.append(f"Your PO number: {invoice.po_number}.")
    if invoice.payment_instructions:
        lines += ["", "Pay by bank transfer to:", invoice.payment_instructions]
    link = recipients.link("billing.invoice", invoice_id=invoice.id)
    if link:
        lines += ["", f"The invoice and its PDF: {link}"]
    lines += ["", "If you have paid in the last few days, thank you, and please ignore this."]
    return subject, "\n".join(lines)
