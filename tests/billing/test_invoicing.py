"""Invoices by billing policy, their lines and tax, and issuing: gapless numbers under
concurrency, nothing used by a crash, nothing changed once issued."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import pytest
from sqlalchemy import func, select

from billing import invoices
from billing.models import Charge, Invoice, InvoiceState
from catalog.models import BillingPolicy
from core import queue
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
