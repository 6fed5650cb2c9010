"""Billing's jobs: dunning reminders at 1, 7 and 14 days overdue, each sent once (also when the
job runs twice or two schedulers run it at once), and the drafts a billing policy made issued
once the vendor's review days have passed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from billing import invoices, jobs, payments
from billing.models import BillingProfile, DunningReminder, Invoice, InvoiceState
from catalog.models import BillingPolicy
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.mail import OutboxEmail
from core.money import Money
from core.permissions import Role
from tests.billing import factories
from tests.scheduled_jobs import run_at_once, run_once

State = InvoiceState


def overdue(tenant, days: int, **kwargs) -> int:
    """An issued invoice whose due date passed ``days`` ago."""
    invoice_id = factories.issued(tenant, **kwargs)
    db.session.get(Invoice, invoice_id).due_on = utcnow().date() - timedelta(days=days)
    db.session.commit()
    return invoice_id


def billing_contacts(tenant, *emails: str) -> None:
    db.session.add(
        BillingProfile(
            vendor_id=tenant.vendor_id,
            organization_id=tenant.customer_id,
            billing_emails=", ".join(emails),
        )
    )
    db.session.commit()


def reminders(invoice_id: int) -> list[int]:
    return sorted(
        db.session.scalars(
            select(DunningReminder.days_overdue).where(DunningReminder.invoice_id == invoice_id)
        )
    )


def mails(number: str) -> list[tuple[str, str]]:
    return sorted(
        db.session.execute(
            select(OutboxEmail.recipient, OutboxEmail.subject).where(
                OutboxEmail.subject.contains(number)
            )
        )
    )


def later(invoice_id: int, days: int) -> None:
    """Time passes: the invoice is ``days`` more overdue."""
    db.session.get(Invoice, invoice_id).due_on -= timedelta(days=days)
    db.session.commit()


# --- dunning ----------------------------------------------------------------------------------


def test_reminders_go_at_1_7_and_14_days_overdue_each_once_to_the_billing_contacts(
    app, tenant_a, unscoped
):
    with unscoped():
        billing_contacts(tenant_a, "ap@customer.example", "cfo@customer.example")
        invoice_id = overdue(tenant_a, 0)
        number = db.session.get(Invoice, invoice_id).number
    assert run_once(app, jobs.send_dunning_reminders) == 0  # due today: not overdue yet
    sent = []
    for step, wait in ((1, 1), (7, 6), (14, 7)):
        with unscoped():
            later(invoice_id, wait)
        assert run_once(app, jobs.send_dunning_reminders) == 1
        assert run_once(app, jobs.send_dunning_reminders) == 0
        sent.append(step)
        with unscoped():
            assert reminders(invoice_id) == sent
    with unscoped():
        later(invoice_id, 30)
    assert run_once(app, jobs.send_dunning_reminders) == 0  # after 14 days: no fourth
    with unscoped():
        got = mails(number)
        assert len(got) == 6
        assert {recipient for recipient, _ in got} == {
            "ap@customer.example",
            "cfo@customer.example",
        }
        subjects = {subject.split(":")[0] for _, subject in got}
        assert subjects == {"Reminder", "Second reminder", "Final reminder"}
        body = db.session.scalar(
            select(OutboxEmail.body).where(OutboxEmail.subject.contains(number))
        )
        assert "Still to pay: $1,000.00" in body
        assert f"/invoices/{invoice_id}" in body


def test_a_job_down_for_days_sends_only_the_highest_step_reached(app, tenant_a, unscoped):
    with unscoped():
        billing_contacts(tenant_a, "ap@customer.example")
        nine, forty = overdue(tenant_a, 9), overdue(tenant_a, 40)
        numbers = {i: db.session.get(Invoice, i).number for i in (nine, forty)}
    assert run_once(app, jobs.send_dunning_reminders) == 2
    assert run_once(app, jobs.send_dunning_reminders) == 0
    with unscoped():
        assert reminders(nine) == [7]
        assert reminders(forty) == [14]
        assert len(mails(numbers[nine])) == 1
        assert len(mails(numbers[forty])) == 1
        later(nine, 5)
    assert run_once(app, jobs.send_dunning_reminders) == 1
    with unscoped():
        assert reminders(nine) == [7, 14]


def test_without_billing_contacts_the_customers_buyers_and_approvers_are_reminded(
    app, tenant_a, unscoped
):
    with unscoped():
        invoice_id = overdue(tenant_a, 1)
        number = db.session.get(Invoice, invoice_id).number
    assert run_once(app, jobs.send_dunning_reminders) == 1
    with unscoped():
        recipients = {recipient for recipient, _ in mails(number)}
        people = tenant_a.people
        assert recipients == {people[Role.BUYER].email, people[Role.APPROVER].email}
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "invoice.reminded", AuditEvent.object_id == invoice_id
            )
        )
        assert event.changes["days_overdue"] == 1


def test_paid_and_credited_invoices_are_not_reminded(app, tenant_a, unscoped):
    with unscoped():
        paid = overdue(tenant_a, 3)
        payments.record_bank_transfer(
            factories.finance(tenant_a),
            db.session.get(Invoice, paid),
            Money(100_000, "USD"),
            utcnow().date(),
            "Wire 1",
        )
        partly = overdue(tenant_a, 3)
        payments.record_bank_transfer(
            factories.finance(tenant_a),
            db.session.get(Invoice, partly),
            Money(40_000, "USD"),
            utcnow().date(),
            "Wire 2",
        )
    assert run_once(app, jobs.send_dunning_reminders) == 1
    with unscoped():
        assert reminders(paid) == []
        [reminder] = db.session.scalars(
            select(DunningReminder).where(DunningReminder.invoice_id == partly)
        ).all()
        assert reminder.balance_minor == 60_000


def test_two_schedulers_remind_each_invoice_once(app, tenant_a, unscoped):
    with unscoped():
        billing_contacts(tenant_a, "ap@customer.example")
        ids = [overdue(tenant_a, days) for days in (1, 2, 7, 15)]
    assert sum(run_at_once(app, jobs.send_dunning_reminders)) == 4
    assert run_once(app, jobs.send_dunning_reminders) == 0
    with unscoped():
        assert [reminders(i) for i in ids] == [[1], [1], [7], [14]]
        assert db.session.scalar(select(func.count(OutboxEmail.id))) == 4


# --- drafts issued after review ------------------------------------------------------------


def aged(invoice_id: int, days: float) -> None:
    db.session.get(Invoice, invoice_id).created_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_a_policy_draft_is_issued_by_the_system_after_the_vendors_review_days(
    app, tenant_a, unscoped
):
    with unscoped():
        [waited] = factories.drafts_of(factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE))
        [fresh] = factories.drafts_of(factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE))
        waited_id, fresh_id = waited.id, fresh.id
        aged(waited_id, 2.1)
        aged(fresh_id, 1.9)
        by_hand = invoices.draft_for(factories.finance(tenant_a), tenant_a.customer_id)
        invoices.add_line(factories.finance(tenant_a), by_hand, "Workshop", 1, Money(1_000, "USD"))
        by_hand_id = by_hand.id
        aged(by_hand_id, 30)
    assert run_once(app, jobs.issue_reviewed_drafts) == 1
    assert run_once(app, jobs.issue_reviewed_drafts) == 0
    with unscoped():
        issued = factories.reread(waited_id)
        assert issued.state is State.ISSUED
        assert issued.number.endswith("-000001")
        assert issued.issued_by_id is None
        assert factories.reread(fresh_id).state is State.DRAFT
        assert factories.reread(by_hand_id).state is State.DRAFT


def test_a_vendor_that_reviews_longer_keeps_its_drafts_longer(app, tenant_a, unscoped):
    with unscoped():
        db.session.add(
            BillingProfile(
                vendor_id=tenant_a.vendor_id, organization_id=tenant_a.vendor_id, review_days=5
            )
        )
        db.session.commit()
        [draft] = factories.drafts_of(factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE))
        draft_id = draft.id
        aged(draft_id, 3)
    assert run_once(app, jobs.issue_reviewed_drafts) == 0
    with unscoped():
        aged(draft_id, 5.1)
    assert run_once(app, jobs.issue_reviewed_drafts) == 1


def test_two_schedulers_issue_each_waiting_draft_once(app, tenant_a, unscoped):
    with unscoped():
        ids = []
        for _ in range(3):
            [draft] = factories.drafts_of(factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE))
            ids.append(draft.id)
            aged(draft.id, 3)
    assert sum(run_at_once(app, jobs.issue_reviewed_drafts)) == 3
    with unscoped():
        numbers = sorted(factories.reread(i).sequence_number for i in ids)
        assert numbers == [1, 2, 3]
        issued = db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "invoice.issued")
        )
        assert issued == 3
