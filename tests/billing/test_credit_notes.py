"""Credit notes: arithmetic per line with tax rounded half-up, full and partial, what is left
to credit, their own gapless numbers (also under 20 concurrent requests), paid money kept as
customer credit, an order's cancellation, and the pages."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from accounts.models import Organization
from billing import credit_notes, payments
from billing.models import Charge, CreditEntry, CreditNote, Invoice, InvoiceState
from catalog.models import BillingPolicy
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Role
from core.queue import QueuedJob
from delivery.models import Engagement
from ordering import orders
from ordering.models import Order, OrderLine
from tests.billing import factories
from tests.catalog.factories import actor
from tests.conftest import sign_in

State = InvoiceState
RACERS = 20


def usd(amount_minor: int) -> Money:
    return Money(amount_minor, "USD")


def credit(tenant, invoice_id: int, nets: dict[int, int] | None = None, reason: str = "Fix"):
    """Finance credits the invoice: in full, or ``nets`` (line position -> net minor)."""
    invoice = factories.reread(invoice_id)
    by_id = None
    if nets is not None:
        positions = {line.position: line.id for line in invoice.lines}
        by_id = {positions[position]: usd(net) for position, net in nets.items()}
    note = credit_notes.issue_credit_note(factories.finance(tenant), invoice, reason, by_id)
    return db.session.scalar(
        select(CreditNote).where(CreditNote.id == note.id).options(selectinload(CreditNote.lines))
    )


def notes_of(invoice_id: int) -> list[CreditNote]:
    return list(
        db.session.scalars(
            select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.id)
        )
    )


def credit_balance(customer_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount_minor), 0)).where(
            CreditEntry.customer_id == customer_id
        )
    )


def holds_the_invariant(invoice: Invoice) -> None:
    """paid + outstanding = invoiced - credited, and nothing owed below zero."""
    assert invoice.balance.amount >= 0
    assert invoice.paid_minor + invoice.balance.amount == invoice.total_minor - (
        invoice.credited_minor
    )


# --- arithmetic ------------------------------------------------------------------------------


def test_a_partial_credit_note_takes_tax_at_each_lines_rate_rounded_half_up(
    app, tenant_a, unscoped
):
    with unscoped():
        factories.set_tax(tenant_a, "19")
        invoice_id = factories.issued(
            tenant_a, ("Workshop", 1, usd(100_000)), ("Review", 3, usd(3_333))
        )
        invoice = factories.reread(invoice_id)
        assert invoice.total_minor == 100_000 + 19_000 + 9_999 + 1_900
        note = credit(tenant_a, invoice_id, {1: 50, 2: 333})
        # 19 % of 0.50 is 0.095 -> 0.10; of 3.33 is 0.6327 -> 0.63: per line, never summed.
        assert [(line.net_minor, line.tax_minor) for line in note.lines] == [(50, 10), (333, 63)]
        assert (note.subtotal_minor, note.tax_minor, note.total_minor) == (383, 73, 456)
        invoice = factories.reread(invoice_id)
        assert invoice.credited_minor == 456
        assert invoice.state is State.ISSUED
        assert invoice.balance == usd(130_899 - 456)


def test_a_full_credit_note_credits_everything_left_and_voids_an_unpaid_invoice(
    app, tenant_a, unscoped
):
    with unscoped():
        factories.set_tax(tenant_a, "20")
        invoice_id = factories.issued(
            tenant_a, ("Workshop", 1, usd(100_000)), ("Review", 1, usd(25_000))
        )
        credit(tenant_a, invoice_id, {2: 10_000})
        note = credit(tenant_a, invoice_id)
        assert [(line.net_minor, line.tax_minor) for line in note.lines] == [
            (100_000, 20_000),
            (15_000, 3_000),
        ]
        invoice = factories.reread(invoice_id)
        assert invoice.credited_minor == invoice.total_minor == 150_000
        assert invoice.state is State.VOID
        assert invoice.balance == usd(0)
        with pytest.raises(InvalidTransition, match="nothing left to credit"):
            credit(tenant_a, invoice_id)


def test_a_credit_note_larger_than_what_is_left_is_refused_and_changes_nothing(
    app, tenant_a, unscoped
):
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 2, usd(50_000)))
        with pytest.raises(ServiceError, match=r"at most \$1,000.00 net is left"):
            credit(tenant_a, invoice_id, {1: 100_001})
        db.session.rollback()
        assert notes_of(invoice_id) == []
        assert factories.reread(invoice_id).credited_minor == 0
        # No number was used by the refusal.
        assert credit(tenant_a, invoice_id, {1: 100}).sequence_number == 1


def test_a_second_credit_note_is_limited_by_the_first(app, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 1, usd(100_000)))
        credit(tenant_a, invoice_id, {1: 60_000})
        with pytest.raises(ServiceError, match=r"at most \$400.00 net is left"):
            credit(tenant_a, invoice_id, {1: 40_001})
        db.session.rollback()
        credit(tenant_a, invoice_id, {1: 40_000})
        assert factories.reread(invoice_id).state is State.VOID
        assert [note.total_minor for note in notes_of(invoice_id)] == [60_000, 40_000]


def test_a_line_credited_in_parts_never_takes_more_than_its_tax(app, tenant_a, unscoped):
    with unscoped():
        factories.set_tax(tenant_a, "50")
        invoice_id = factories.issued(tenant_a, ("Tiny", 1, usd(3)))
        assert factories.reread(invoice_id).total_minor == 5  # 1.5 cents of tax -> 2
        taxes = [credit(tenant_a, invoice_id, {1: 1}).tax_minor for _ in range(3)]
        assert taxes == [1, 1, 0]  # half-up each time, and the last takes what is left
        invoice = factories.reread(invoice_id)
        assert invoice.credited_minor == invoice.total_minor == 5


def test_credit_notes_number_consecutively_apart_from_invoices(app, tenant_a, unscoped):
    with unscoped():
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        vendor.invoice_prefix = "ACME"
        db.session.commit()
        first, second = (factories.issued(tenant_a) for _ in range(2))
        year = utcnow().year
        numbers = [
            credit(tenant_a, first, {1: 100}).number,
            credit(tenant_a, second, {1: 100}).number,
            credit(tenant_a, first, {1: 100}).number,
        ]
        assert numbers == [f"ACME-CN-{year}-00000{n}" for n in (1, 2, 3)]
        assert factories.reread(second).number == f"ACME-{year}-000002"
        assert factories.reread(factories.issued(tenant_a)).number == f"ACME-{year}-000003"


def test_only_finance_credits_issued_invoices_and_always_with_a_reason(app, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.issued(tenant_a)
        invoice = factories.reread(invoice_id)
        with pytest.raises(NotAllowed):
            credit_notes.issue_credit_note(actor(tenant_a, Role.BUYER), invoice, "Mine")
        with pytest.raises(ServiceError, match="Reason"):
            credit(tenant_a, invoice_id, reason="  ")
        draft = factories.reread(
            factories.drafts_of(factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE))[0].id
        )
        with pytest.raises(InvalidTransition, match="draft"):
            credit_notes.issue_credit_note(factories.finance(tenant_a), draft, "Too early")
        db.session.rollback()
        assert db.session.scalar(select(func.count(CreditNote.id))) == 0


# --- credit notes and money already paid -------------------------------------------------------


def pay(tenant, invoice_id: int, amount_minor: int) -> None:
    payments.record_bank_transfer(
        factories.finance(tenant),
        factories.reread(invoice_id),
        usd(amount_minor),
        utcnow().date(),
        "Wire",
    )


def test_crediting_a_paid_invoice_keeps_what_was_paid_as_customer_credit(app, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 1, usd(100_000)))
        pay(tenant_a, invoice_id, 100_000)
        credit(tenant_a, invoice_id, {1: 30_000})
        invoice = factories.reread(invoice_id)
        assert (invoice.state, invoice.paid_minor, invoice.credited_minor) == (
            State.PAID,
            70_000,
            30_000,
        )
        holds_the_invariant(invoice)
        assert credit_balance(tenant_a.customer_id) == 30_000
        credit(tenant_a, invoice_id)
        invoice = factories.reread(invoice_id)
        assert (invoice.state, invoice.paid_minor) == (State.VOID, 0)
        holds_the_invariant(invoice)
        assert credit_balance(tenant_a.customer_id) == 100_000
        assert credit_balance(tenant_a.neighbour_id) == 0


def test_crediting_a_partly_paid_invoice_credits_the_unpaid_part_first(app, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 1, usd(100_000)))
        pay(tenant_a, invoice_id, 60_000)
        credit(tenant_a, invoice_id, {1: 30_000})
        invoice = factories.reread(invoice_id)
        assert (invoice.state, invoice.balance) == (State.PARTIALLY_PAID, usd(10_000))
        assert credit_balance(tenant_a.customer_id) == 0
        credit(tenant_a, invoice_id, {1: 20_000})
        invoice = factories.reread(invoice_id)
        assert (invoice.state, invoice.paid_minor, invoice.balance) == (State.PAID, 50_000, usd(0))
        holds_the_invariant(invoice)
        assert credit_balance(tenant_a.customer_id) == 10_000


# --- an order cancelled ------------------------------------------------------------------------


def test_cancelling_an_order_credits_its_issued_invoice_in_full(app, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.order_invoice(tenant_a, usd(125_000), 2)
        order = db.session.get(Order, factories.reread(invoice_id).order_id)
        orders.cancel_order(actor(tenant_a, Role.ADMIN), order, "Customer changed plans")
        invoice = factories.reread(invoice_id)
        assert (invoice.state, invoice.credited_minor) == (State.VOID, 250_000)
        [note] = notes_of(invoice_id)
        assert note.total_minor == 250_000
        assert note.issued_by_id is None
        assert note.reason == f"Order {order.reference} cancelled: Customer changed plans"


def test_cancelling_an_order_discards_its_drafts_and_frees_their_charges(app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.started(tenant_a, BillingPolicy.MILESTONES)
        [draft] = factories.drafts_of(engagement_id)
        line = db.session.get(OrderLine, db.session.get(Engagement, engagement_id).order_line_id)
        order = db.session.get(Order, line.order_id)
        orders.cancel_order(actor(tenant_a, Role.ADMIN), order, "Project stopped")
        assert factories.reread(draft.id).state is State.VOID
        assert factories.reread(draft.id).number is None
        charges = db.session.scalars(select(Charge).where(Charge.order_id == order.id)).all()
        assert charges
        assert all(charge.invoice_line_id is None for charge in charges)
        assert notes_of(draft.id) == []


# --- concurrency ----------------------------------------------------------------------------


@pytest.fixture
def app_config() -> dict[str, object]:
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RACERS + 2, "max_overflow": 0}}


def test_twenty_concurrent_credit_notes_number_consecutively_and_never_overcredit(
    app, tenant_a, unscoped
):
    """Twenty finance requests at once each credit 100.00 of a 1,500.00 line: fifteen fit."""
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 1, usd(150_000)))
        line_id = factories.reread(invoice_id).lines[0].id
    person = tenant_a.people[Role.FINANCE]
    clients = [sign_in(app.test_client(), person) for _ in range(RACERS)]
    barrier = Barrier(RACERS)
    data = {"scope": "partial", f"line_{line_id}": "100.00", "reason": "Goodwill"}

    def post(client) -> int:
        barrier.wait(timeout=30)
        path = f"/invoices/{invoice_id}/credit-notes/new"
        return client.post(path, data=data).status_code

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        answers = list(pool.map(post, clients))
    assert sorted(answers) == [302] * 15 + [409] * 5  # the last see it credited in full
    with unscoped():
        numbers = sorted(note.sequence_number for note in notes_of(invoice_id))
        assert numbers == list(range(1, 16))
        invoice = factories.reread(invoice_id)
        assert (invoice.credited_minor, invoice.state) == (150_000, State.VOID)


# --- pages ------------------------------------------------------------------------------------


def test_finance_credits_part_of_a_line_through_the_form(app, client, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 2, usd(50_000)))
        line_id = factories.reread(invoice_id).lines[0].id
    sign_in(client, tenant_a.people[Role.FINANCE])
    path = f"/invoices/{invoice_id}/credit-notes/new"
    page = client.get(path)
    assert page.status_code == 200
    assert b"Issue credit note" in page.data
    refused = client.post(path, data={"scope": "partial", f"line_{line_id}": "abc", "reason": "x"})
    assert refused.status_code == 400
    assert b"is not an amount" in refused.data
    too_much = client.post(
        path, data={"scope": "partial", f"line_{line_id}": "1000.01", "reason": "x"}
    )
    assert too_much.status_code == 400
    assert b"net is left to credit" in too_much.data
    done = client.post(
        path, data={"scope": "partial", f"line_{line_id}": "250.00", "reason": "Late start"}
    )
    assert done.status_code == 302
    shown = client.get(done.headers["Location"])
    assert b"-CN-" in shown.data
    assert b"Late start" in shown.data
    assert b"$250.00" in shown.data
    invoice_page = client.get(f"/invoices/{invoice_id}").data
    assert b"Credit notes" in invoice_page
    assert b"Issue credit note" in invoice_page  # 750.00 is left to credit
    with unscoped():
        assert factories.reread(invoice_id).credited_minor == 25_000
        [note] = notes_of(invoice_id)
        assert note.number.encode() in invoice_page
        queued = db.session.scalar(
            select(QueuedJob.kind).where(QueuedJob.key == f"credit-note-document:{note.id}")
        )
        assert queued == "credit_note.document"


def test_customers_see_their_own_credit_notes_and_nobody_elses(app, client, tenant_a, unscoped):
    with unscoped():
        invoice_id = factories.issued(tenant_a)
        note_id = credit(tenant_a, invoice_id, {1: 1_000}, reason="Rounding").id
    sign_in(client, tenant_a.people[Role.VIEWER])
    assert client.get(f"/credit-notes/{note_id}").status_code == 200
    assert b"Rounding" in client.get("/credit-notes").data
    assert client.get(f"/invoices/{invoice_id}/credit-notes/new").status_code == 404
    sign_in(client, tenant_a.neighbours[Role.BUYER])
    assert client.get(f"/credit-notes/{note_id}").status_code == 404
    assert b"Rounding" not in client.get("/credit-notes").data
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.get(f"/credit-notes/{note_id}").status_code == 404


def test_credit_note_pages_take_the_same_queries_for_one_or_many(
    app, client, tenant_a, unscoped, count_queries
):
    with unscoped():
        invoice_id = factories.issued(tenant_a, ("Workshop", 1, usd(100_000)))
        note_id = credit(tenant_a, invoice_id, {1: 100}).id
    sign_in(client, tenant_a.people[Role.FINANCE])

    def cost(path: str) -> int:
        with count_queries() as counted:
            assert client.get(path).status_code == 200
        return len(counted)

    list_before, note_before = cost("/credit-notes"), cost(f"/credit-notes/{note_id}")
    with unscoped():
        for _ in range(3):
            credit(tenant_a, factories.issued(tenant_a, *[("Line", 1, usd(1_000))] * 3))
    assert cost("/credit-notes") == list_before
    assert cost(f"/credit-notes/{note_id}") == note_before
