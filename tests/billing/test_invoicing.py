"""Invoices by billing policy, their lines and tax, and issuing: gapless numbers under
concurrency, nothing used by a crash, nothing changed once issued."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from billing import invoices
from billing.models import BillingProfile, Charge, Invoice, InvoiceState
from catalog.models import BillingPolicy
from core import queue
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import InvalidTransition, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Role
from core.sequences import SequenceCounter
from core.tenancy import tenant_scope
from delivery import change_orders
from delivery.models import ChangeOrder, Engagement
from tests.billing import factories
from tests.catalog.factories import actor

State = InvoiceState
RACERS = 50


@pytest.fixture
def app_config() -> dict[str, object]:
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RACERS + 2, "max_overflow": 0}}


def first_number() -> str:
    return f"INV-{utcnow().year}-000001"


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


@pytest.mark.parametrize(
    ("quantity", "unit", "rate", "net", "tax"),
    [
        (3, "19.99", "7.5", "59.97", "4.50"),  # 4.49775 rounds up
        (1, "0.29", "19", "0.29", "0.06"),  # 0.0551
        (1, "0.50", "5", "0.50", "0.03"),  # 0.025: half-up, not to even
        (1, "0.30", "5", "0.30", "0.02"),  # 0.015: half-up
        (7, "1000.10", "20", "7000.70", "1400.14"),
        (1, "99.99", "0", "99.99", "0.00"),
    ],
)
def test_line_tax_is_rounded_half_up_on_the_line(quantity, unit, rate, net, tax):
    assert invoices.line_amounts(quantity, usd(unit).amount, Decimal(rate), "USD") == (
        usd(net).amount,
        usd(tax).amount,
    )


def test_the_total_is_the_sum_of_the_lines_each_rounded_on_its_own(app, tenant_a, unscoped):
    """Three lines of 0.10 at 5 % make 0.005 tax each: 0.01 per line, 0.03 in all (rounding
    the invoice's tax once would give 0.02)."""
    with unscoped():
        factories.set_tax(tenant_a, "5")
        invoice = factories.reread(
            factories.issued(tenant_a, *[(f"Item {n}", 1, usd("0.10")) for n in range(3)])
        )
        assert [line.tax_minor for line in invoice.lines] == [1, 1, 1]
        assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (30, 3, 33)


def test_a_customer_rate_overrides_the_vendors_and_is_printed_with_its_note(
    app, tenant_a, unscoped
):
    with unscoped():
        factories.set_tax(tenant_a, "20", customer_rate="0", note="Reverse charge")
        invoice = factories.reread(factories.issued(tenant_a, ("Workshop", 2, usd("1500.00"))))
        neighbour = factories.reread(
            factories.issued(
                tenant_a, ("Workshop", 1, usd("100.00")), customer_id=tenant_a.neighbour_id
            )
        )
        assert (invoice.tax_minor, invoice.total_minor) == (0, 300_000)
        assert invoice.buyer["tax_note"] == "Reverse charge"
        assert (neighbour.tax_minor, neighbour.total_minor) == (2_000, 12_000)


# --- by billing policy -----------------------------------------------------------------------


def test_a_prepaid_order_on_account_is_invoiced_at_once_on_the_orders_terms(
    app, tenant_a, unscoped
):
    with unscoped():
        invoice = factories.reread(factories.order_invoice(tenant_a, usd("1250.00"), 2))
        assert invoice.state is State.ISSUED
        assert invoice.number == first_number()
        assert [(line.quantity, line.unit_price_minor) for line in invoice.lines] == [(2, 125_000)]
        assert invoice.total_minor == 250_000
        assert (invoice.due_on - invoice.issued_on).days == 30
        assert db.session.scalar(select(func.count()).select_from(Charge)) == 2


def test_acceptance_billing_drafts_an_invoice_when_the_customer_accepts_and_not_before(
    app, tenant_a, unscoped
):
    with unscoped():
        engagement_id = factories.started(tenant_a, BillingPolicy.ON_ACCEPTANCE)
        assert factories.drafts_of(engagement_id) == []
        factories.put_accepted(tenant_a, engagement_id)
        [draft] = factories.drafts_of(engagement_id)
        assert draft.number is None
        assert draft.total_minor == 500_000
        assert draft.origin.startswith("Acceptance of E-")


def test_milestones_bill_half_at_start_and_the_rest_at_acceptance(app, tenant_a, unscoped):
    """1,000.01 splits into 500.01 and 500.00: the halves always add up to the price."""
    with unscoped():
        engagement_id = factories.started(tenant_a, BillingPolicy.MILESTONES, price=usd("1000.01"))
        [at_start] = factories.drafts_of(engagement_id)
        factories.put_accepted(tenant_a, engagement_id)
        at_start, at_acceptance = factories.drafts_of(engagement_id)
        assert at_start.subtotal_minor == 50_001
        assert at_acceptance.subtotal_minor == 50_000
        assert "50% at acceptance" in factories.reread(at_acceptance.id).lines[0].description


def test_a_change_order_is_billed_by_its_servlets_policy(app, tenant_a, unscoped):
    """Milestones: half when approved on a running engagement, the rest at acceptance, on
    the engagement's acceptance invoice; prepaid: an invoice issued at approval."""
    with unscoped():
        running = factories.started(tenant_a, BillingPolicy.MILESTONES, price=usd("100.00"))
        change_order = _approved_change(tenant_a, running, "30.01")
        [_, change_draft] = factories.drafts_of(running)
        assert change_draft.origin == f"Change order {change_order.reference}"
        assert change_draft.subtotal_minor == 1_501
        factories.put_accepted(tenant_a, running)
        acceptance = factories.drafts_of(running)[-1]
        assert acceptance.subtotal_minor == 5_000 + 1_500

        prepaid = factories.started(tenant_a, BillingPolicy.PREPAID, price=usd("100.00"))
        prepaid_change = _approved_change(tenant_a, prepaid, "45.00")
        issued = db.session.scalar(
            select(Invoice).where(Invoice.origin == f"Change order {prepaid_change.reference}")
        )
        assert issued.state is State.ISSUED
        assert issued.subtotal_minor == 4_500


def _approved_change(tenant, engagement_id: int, price: str) -> ChangeOrder:
    engagement = db.session.get(Engagement, engagement_id)
    proposed = change_orders.propose(
        actor(tenant, Role.DELIVERY_MANAGER),
        engagement,
        change_orders.Proposal(description="Extra region", tasks="Set up EU", price=price),
    )
    return change_orders.approve(
        actor(tenant, Role.BUYER), db.session.get(Engagement, engagement_id), proposed
    )


def test_a_billing_event_replayed_bills_nothing_twice(app, tenant_a, unscoped):
    from billing import charges

    with unscoped():
        engagement_id = factories.accepted(tenant_a, BillingPolicy.ON_ACCEPTANCE)
        engagement = db.session.get(Engagement, engagement_id)
        assert charges.bill_milestone(engagement, "accept", "again") is None
        assert len(factories.drafts_of(engagement_id)) == 1


# --- issuing ---------------------------------------------------------------------------------


def test_an_issued_invoice_never_changes(app, tenant_a, unscoped):
    with unscoped():
        finance = factories.finance(tenant_a)
        invoice = factories.reread(factories.issued(tenant_a, ("Workshop", 1, usd("10.00"))))
        line_id = invoice.lines[0].id
        attempts = [
            lambda: invoices.add_line(finance, invoice, "More", 1, usd("1.00")),
            lambda: invoices.remove_line(finance, invoice, line_id),
            lambda: invoices.update_draft(
                finance, invoice, po_number="PO-9", notes="", terms_days=5
            ),
            lambda: invoices.issue(finance, invoice),
            lambda: invoices.discard(finance, invoice),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidTransition) as refused:
                attempt()
            assert "never changes" in refused.value.message
        invoice = factories.reread(invoice.id)
        assert [(line.description, line.net_minor) for line in invoice.lines] == [
            ("Workshop", 1_000)
        ]
        assert (invoice.state, invoice.po_number, invoice.total_minor) == (State.ISSUED, "", 1_000)


def test_an_empty_draft_cannot_be_issued(app, tenant_a, unscoped):
    with unscoped():
        finance = factories.finance(tenant_a)
        draft = invoices.draft_for(finance, tenant_a.customer_id)
        with pytest.raises(ServiceError, match="at least one line"):
            invoices.issue(finance, draft)
        assert factories.reread(draft.id).state is State.DRAFT


def test_a_crash_while_issuing_uses_no_number_and_writes_nothing(
    app, tenant_a, unscoped, monkeypatch
):
    with unscoped():
        finance = factories.finance(tenant_a)
        draft = invoices.draft_for(finance, tenant_a.customer_id)
        invoices.add_line(finance, draft, "Workshop", 1, usd("10.00"))

        def crash(*args, **kwargs):
            raise RuntimeError("power cut")

        monkeypatch.setattr(queue, "enqueue", crash)  # the last step of issuing
        with pytest.raises(RuntimeError):
            invoices.issue(finance, draft)
        db.session.rollback()
        monkeypatch.undo()
        assert factories.reread(draft.id).number is None
        assert db.session.scalar(select(func.count()).select_from(SequenceCounter)) == 0
        issued = invoices.issue(finance, db.session.get(Invoice, draft.id))
        assert issued.number == first_number()


def test_fifty_invoices_issued_at_once_get_fifty_consecutive_numbers(app, tenant_a, unscoped):
    finance = factories.finance(tenant_a)
    with unscoped():
        drafts = []
        for n in range(RACERS):
            draft = invoices.draft_for(finance, tenant_a.customer_id)
            invoices.add_line(finance, draft, f"Item {n}", 1, usd("1.00"))
            drafts.append(draft.id)
    barrier = Barrier(RACERS)

    def issue(draft_id: int) -> str:
        """The number issued, or the error met instead (the assertion below shows it)."""
        with app.app_context(), tenant_scope(tenant_a.vendor_id):
            barrier.wait(timeout=30)
            try:
                return invoices.issue(finance, db.session.get(Invoice, draft_id)).number
            except Exception as error:  # any failure is the finding
                return f"{type(error).__name__}-0"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        numbers = list(pool.map(issue, drafts))
    assert sorted(int(number.rsplit("-", 1)[1]) for number in numbers) == list(range(1, RACERS + 1))
    with unscoped():
        stored = db.session.scalars(select(Invoice.number).where(Invoice.number.is_not(None)))
        assert sorted(stored) == sorted(numbers)


# --- drafts ----------------------------------------------------------------------------------


def test_a_draft_refuses_what_does_not_fit_and_says_why(app, tenant_a, unscoped):
    with unscoped():
        finance = factories.finance(tenant_a)
        draft = invoices.draft_for(finance, tenant_a.customer_id)
        refusals = [
            (
                lambda: invoices.add_line(finance, draft, "  ", 1, usd("1")),
                "Description: required.",
            ),
            (
                lambda: invoices.add_line(finance, draft, "x" * 301, 1, usd("1")),
                "Description: at most 300 characters.",
            ),
            (
                lambda: invoices.add_line(finance, draft, "Zero", 0, usd("1")),
                "Quantity: a whole number from 1 to 10,000.",
            ),
            (
                lambda: invoices.add_line(finance, draft, "Many", 10_001, usd("1")),
                "Quantity: a whole number from 1 to 10,000.",
            ),
            (
                lambda: invoices.add_line(finance, draft, "Euro", 1, Money(100, "EUR")),
                "Unit price: this invoice is in USD.",
            ),
            (
                lambda: invoices.add_line(finance, draft, "Minus", 1, usd("-0.01")),
                "Unit price: cannot be negative; credit with a credit note instead.",
            ),
            (
                lambda: invoices.add_line(finance, draft, "Tax", 1, usd("1"), Decimal("100.01")),
                "Tax rate: a percentage from 0 to 100.",
            ),
            (
                lambda: invoices.add_line(finance, draft, "Tax", 1, usd("1"), Decimal("-0.01")),
                "Tax rate: a percentage from 0 to 100.",
            ),
            (
                lambda: invoices.update_draft(
                    finance, draft, po_number="", notes="", terms_days=366
                ),
                "Payment terms: from 0 to 365 days.",
            ),
            (
                lambda: invoices.update_draft(
                    finance, draft, po_number="", notes="", terms_days=-1
                ),
                "Payment terms: from 0 to 365 days.",
            ),
            (
                lambda: invoices.update_draft(
                    finance, draft, po_number="P" * 65, notes="", terms_days=30
                ),
                "PO number: at most 64 characters.",
            ),
            (
                lambda: invoices.update_draft(
                    finance, draft, po_number="", notes="n" * 1001, terms_days=30
                ),
                "Notes: at most 1,000 characters.",
            ),
            (
                lambda: invoices.remove_line(finance, draft, 999_999),
                "That line is not on this invoice.",
            ),
        ]
        for attempt, message in refusals:
            with pytest.raises(ServiceError) as refused:
                attempt()
            assert refused.value.message == message
            db.session.rollback()
        # Each bound itself is allowed.
        invoices.add_line(finance, draft, "x" * 300, 10_000, usd("0"), Decimal("0"))
        invoices.add_line(finance, draft, " Full tax ", 1, usd("10.00"), Decimal("100"))
        invoices.update_draft(finance, draft, po_number=" PO-1 ", notes="n" * 1000, terms_days=365)
        invoices.update_draft(finance, draft, po_number="P" * 64, notes="", terms_days=0)
        draft = factories.reread(draft.id)
        assert [(line.position, line.description, line.quantity) for line in draft.lines] == [
            (1, "x" * 300, 10_000),
            (2, "Full tax", 1),
        ]
        assert (draft.subtotal_minor, draft.tax_minor, draft.total_minor) == (1_000, 1_000, 2_000)
        assert (draft.po_number, draft.notes, draft.terms_days) == ("P" * 64, "", 0)
        updates = db.session.scalars(
            select(AuditEvent.changes)
            .where(AuditEvent.action == "invoice.updated", AuditEvent.object_id == draft.id)
            .order_by(AuditEvent.id)
        ).all()
        assert updates[-1] == {
            "po_number": ["PO-1", "P" * 64],
            "notes": ["n" * 1000, ""],
            "terms_days": [365, 0],
        }
        invoices.remove_line(finance, draft, draft.lines[1].id)
        draft = factories.reread(draft.id)
        assert (len(draft.lines), draft.total_minor) == (1, 0)


def test_a_draft_holds_at_most_a_hundred_lines(app, tenant_a, unscoped):
    with unscoped():
        finance = factories.finance(tenant_a)
        draft = invoices.draft_for(finance, tenant_a.customer_id)
        for n in range(100):
            invoices.add_line(finance, draft, f"Item {n}", 1, usd("1.00"))
        with pytest.raises(ServiceError) as refused:
            invoices.add_line(finance, draft, "One more", 1, usd("1.00"))
        assert refused.value.message == "An invoice holds at most 100 lines."
        assert factories.reread(draft.id).total_minor == 10_000


def test_finance_drafts_only_for_its_own_customers_and_only_what_is_uninvoiced(
    app, tenant_a, tenant_b, unscoped
):
    with unscoped():
        finance = factories.finance(tenant_a)
        for someone in (tenant_a.partner_id, tenant_a.vendor_id, tenant_b.customer_id, 999_999):
            for draft in (invoices.draft_for, invoices.draft_from_uninvoiced):
                with pytest.raises(ServiceError) as refused:
                    draft(finance, someone)
                assert refused.value.message == "Choose one of your customers."
        neighbour = db.session.get(Organization, tenant_a.neighbour_id)
        with pytest.raises(ServiceError) as refused:
            invoices.draft_from_uninvoiced(finance, neighbour.id)
        assert refused.value.message == f"{neighbour.name} has nothing uninvoiced."
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
        own = invoices.draft_for(finance, tenant_a.neighbour_id)
        assert (own.customer_id, own.currency, own.terms_days, own.created_by_id) == (
            tenant_a.neighbour_id,
            "USD",
            30,
            finance.user_id,
        )


def test_issuing_numbers_dates_and_prints_both_parties_and_the_bank_details(
    app, tenant_a, unscoped
):
    with unscoped():
        finance = factories.finance(tenant_a)
        vendor = db.session.get(Organization, tenant_a.vendor_id)
        customer = db.session.get(Organization, tenant_a.customer_id)
        db.session.add(
            BillingProfile(
                vendor_id=tenant_a.vendor_id,
                organization_id=tenant_a.vendor_id,
                legal_name="Vendor Legal GmbH",
                address="1 Main St",
                tax_id="DE123",
                bank_details="IBAN DE00 1234",
            )
        )
        db.session.commit()
        draft = invoices.draft_for(finance, tenant_a.customer_id)
        invoices.update_draft(finance, draft, po_number="", notes="", terms_days=14)
        invoices.add_line(finance, draft, "Workshop", 1, usd("10.00"))
        today = utcnow().date()
        invoice = invoices.issue(finance, draft)
        assert (invoice.number, invoice.sequence_year, invoice.sequence_number) == (
            first_number(),
            today.year,
            1,
        )
        assert (invoice.issued_on, invoice.due_on) == (today, today + timedelta(days=14))
        assert invoice.issued_by_id == finance.user_id
        assert invoice.payment_instructions == "IBAN DE00 1234"
        assert invoice.seller == {
            "name": vendor.name,
            "legal_name": "Vendor Legal GmbH",
            "address": "1 Main St",
            "tax_id": "DE123",
            "tax_note": "",
        }
        assert invoice.buyer == {
            "name": customer.name,
            "legal_name": customer.name,
            "address": "",
            "tax_id": "",
            "tax_note": "",
        }
        second = factories.reread(factories.issued(tenant_a))
        assert second.number == f"INV-{today.year}-000002"
        assert invoices.invoice_number("ACME", 2031, 1234567) == "ACME-2031-1234567"


def test_a_line_taken_off_a_draft_or_a_discarded_draft_frees_its_charges_for_the_next_one(
    app, tenant_a, unscoped
):
    with unscoped():
        finance = factories.finance(tenant_a)
        invoiced = factories.reread(factories.order_invoice(tenant_a))  # issued, prepaid
        invoiced_charges = charges_of(invoiced.order_id)
        engagement_id = factories.started(tenant_a, BillingPolicy.MILESTONES, price=usd("1000.01"))
        [draft] = factories.drafts_of(engagement_id)
        draft = factories.reread(draft.id)
        [line] = draft.lines
        invoices.add_line(finance, draft, "Travel", 1, usd("10.00"), Decimal("0"))
        invoices.remove_line(finance, draft, line.id)
        draft = factories.reread(draft.id)
        assert [(x.description, x.net_minor) for x in draft.lines] == [("Travel", 1_000)]
        assert (draft.subtotal_minor, draft.tax_minor, draft.total_minor) == (1_000, 0, 1_000)
        [charge] = db.session.scalars(select(Charge).where(Charge.engagement_id == engagement_id))
        assert charge.invoice_line_id is None
        assert invoiced_charges  # other invoices keep their charges
        assert all(line_id is not None for _, line_id in invoiced_charges)
        assert charges_of(invoiced.order_id) == invoiced_charges
        removed = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "invoice.line_removed")
        )
        assert (removed.object_id, removed.changes) == (
            draft.id,
            {"line_id": line.id, "net": "$500.01"},
        )
        neighbour = db.session.get(Organization, tenant_a.neighbour_id)
        with pytest.raises(ServiceError) as refused:  # the freed charge is not the neighbour's
            invoices.draft_from_uninvoiced(finance, neighbour.id)
        assert refused.value.message == f"{neighbour.name} has nothing uninvoiced."
        db.session.rollback()
        again = invoices.draft_from_uninvoiced(finance, tenant_a.customer_id)
        again = factories.reread(again.id)
        assert (again.origin, again.created_by_id, again.state) == (
            "Uninvoiced items",
            finance.user_id,
            State.DRAFT,
        )
        assert [(x.description, x.quantity, x.net_minor) for x in again.lines] == [
            (line.description, 1, 50_001)
        ]
        assert db.session.get(Charge, charge.id).invoice_line_id == again.lines[0].id
        with pytest.raises(ServiceError) as refused:
            invoices.draft_from_uninvoiced(finance, tenant_a.customer_id)
        customer = db.session.get(Organization, tenant_a.customer_id)
        assert refused.value.message == f"{customer.name} has nothing uninvoiced."
        invoices.discard(finance, again)
        again = factories.reread(again.id)
        assert (again.state, again.number) == (State.VOID, None)
        assert db.session.get(Charge, charge.id).invoice_line_id is None
        assert factories.reread(draft.id).state is State.DRAFT  # the other draft is untouched
        voided = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invoice.void"))
        assert (voided.object_id, voided.changes) == (again.id, {"state": ["draft", "void"]})


def charges_of(order_id: int) -> list[tuple[int, int | None]]:
    """Each charge of the order and the invoice line it is on."""
    return [
        tuple(row)
        for row in db.session.execute(
            select(Charge.id, Charge.invoice_line_id)
            .where(Charge.order_id == order_id)
            .order_by(Charge.id)
        )
    ]
