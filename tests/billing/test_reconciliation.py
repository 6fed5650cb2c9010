"""Reconciliation: every cent billing records adds up, whichever way it is counted, after
every step of a random sequence of real service operations (Hypothesis); the recount is
``tests.billing.books``. The demo's books are recounted in ``tests/test_demo_data.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from billing import credit_notes, invoices, payments, refunds
from billing.models import (
    OPEN_STATES,
    Charge,
    CreditNote,
    Invoice,
    InvoiceState,
    Payment,
    PaymentMethod,
    Refund,
)
from catalog.models import BillingPolicy
from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from delivery import change_orders
from delivery.models import Engagement, EngagementState
from delivery.policies import CHANGEABLE
from ordering import orders
from ordering.models import Order, OrderState
from tests import factories as tenant_factories
from tests.billing import factories
from tests.billing.books import AGEING_DAYS, assert_books_reconcile, usd
from tests.catalog.factories import actor
from tests.conftest import _empty_tables

State = InvoiceState
E = EngagementState


# --- a random sequence of operations --------------------------------------------------------

prices = st.integers(min_value=1, max_value=300_000)


def _vendor_ids(model: Any, tenant: tenant_factories.Tenant, *criteria: Any) -> list[int]:
    return list(
        db.session.scalars(
            select(model.id)
            .where(model.vendor_id == tenant.vendor_id, *criteria)
            .order_by(model.id)
        )
    )


def _pick(data: st.DataObject, ids: list[int], label: str) -> int:
    return data.draw(st.sampled_from(ids), label=label)


def place_prepaid_order(t: tenant_factories.Tenant, data: st.DataObject, _: None) -> None:
    """An order on account of a prepaid servlet: its invoice is issued at once."""
    quantity = data.draw(st.sampled_from([3, 2, 1]), label="quantity")  # several units first
    factories.order_invoice(t, usd(data.draw(prices, label="price")), quantity)


def start_engagement(t: tenant_factories.Tenant, data: st.DataObject, _: None) -> None:
    """An engagement of a new order, started by its consultant (milestones bill half)."""
    policy = data.draw(st.sampled_from(list(BillingPolicy)), label="policy")
    factories.started(t, policy, price=usd(data.draw(prices, label="price")))


def invoice_by_hand(t: tenant_factories.Tenant, data: st.DataObject, _: None) -> None:
    lines = data.draw(
        st.lists(st.tuples(st.integers(1, 5), prices), min_size=1, max_size=3), label="lines"
    )
    factories.issued(t, *[(f"Advisory {n}", q, usd(p)) for n, (q, p) in enumerate(lines)])


def running(t: tenant_factories.Tenant) -> list[int]:
    return _vendor_ids(Engagement, t, Engagement.state == E.IN_PROGRESS)


def accept(t: tenant_factories.Tenant, data: st.DataObject, engagement_id: int) -> None:
    factories.put_accepted(t, engagement_id)


def changeable(t: tenant_factories.Tenant) -> list[int]:
    return _vendor_ids(Engagement, t, Engagement.state.in_(CHANGEABLE))


def approve_change_order(
    t: tenant_factories.Tenant, data: st.DataObject, engagement_id: int
) -> None:
    price = data.draw(prices, label="change price")
    proposed = change_orders.propose(
        actor(t, Role.DELIVERY_MANAGER),
        db.session.get(Engagement, engagement_id),
        change_orders.Proposal(
            description="Extra region", price=f"{price // 100}.{price % 100:02d}"
        ),
    )
    change_orders.approve(actor(t, Role.BUYER), db.session.get(Engagement, engagement_id), proposed)


def drafts(t: tenant_factories.Tenant) -> list[int]:
    return _vendor_ids(Invoice, t, Invoice.state == State.DRAFT)


def issue_draft(t: tenant_factories.Tenant, data: st.DataObject, invoice_id: int) -> None:
    invoices.issue(factories.finance(t), db.session.get(Invoice, invoice_id))


def with_uninvoiced(t: tenant_factories.Tenant) -> list[int]:
    return sorted(
        set(
            db.session.scalars(
                select(Charge.customer_id).where(
                    Charge.vendor_id == t.vendor_id, Charge.invoice_line_id.is_(None)
                )
            )
        )
    )


def draft_uninvoiced(t: tenant_factories.Tenant, data: st.DataObject, customer_id: int) -> None:
    invoices.draft_from_uninvoiced(factories.finance(t), customer_id)


def open_invoices(t: tenant_factories.Tenant) -> list[int]:
    return _vendor_ids(Invoice, t, Invoice.state.in_(OPEN_STATES))


def pay_by_bank(t: tenant_factories.Tenant, data: st.DataObject, invoice_id: int) -> None:
    """A transfer of part of what is owed, all of it, or more (kept as credit)."""
    owed = db.session.get(Invoice, invoice_id).balance.amount
    kinds = ["exact", "over", *(["partial"] if owed > 1 else [])]
    kind = data.draw(st.sampled_from(kinds), label="payment")
    amount = {
        "partial": lambda: data.draw(st.integers(1, owed - 1), label="amount"),
        "exact": lambda: owed,
        "over": lambda: owed + data.draw(st.integers(1, 50_000), label="excess"),
    }[kind]()
    factories.bank_payment(t, usd(amount), invoice_id)


def refundable_payments(t: tenant_factories.Tenant) -> list[int]:
    bank = db.session.scalars(
        select(Payment).where(
            Payment.vendor_id == t.vendor_id, Payment.method == PaymentMethod.BANK_TRANSFER
        )
    )
    return sorted(p.id for p in bank if refunds.refundable(p).amount > 0)


def refund_part(t: tenant_factories.Tenant, data: st.DataObject, payment_id: int) -> None:
    payment = db.session.get(Payment, payment_id)
    most = refunds.refundable(payment).amount
    amount = data.draw(st.integers(1, most), label="refund")
    refunds.refund_payment(factories.finance(t), payment, usd(amount), utcnow().date(), "Sent back")


def open_with_credit(t: tenant_factories.Tenant) -> list[int]:
    return [
        invoice_id
        for invoice_id in open_invoices(t)
        if payments.credit_balance(db.session.get(Invoice, invoice_id).customer_id, "USD").amount
        > 0
    ]


def spend_credit(t: tenant_factories.Tenant, data: st.DataObject, invoice_id: int) -> None:
    """Credit applied: as much as fits, or a drawn part of it."""
    invoice = db.session.get(Invoice, invoice_id)
    most = min(payments.credit_balance(invoice.customer_id, "USD"), invoice.balance).amount
    amount = data.draw(st.none() | st.integers(1, most), label="credit")
    payments.apply_credit(factories.finance(t), invoice, None if amount is None else usd(amount))


def creditable(t: tenant_factories.Tenant) -> list[int]:
    return _vendor_ids(
        Invoice,
        t,
        Invoice.state.in_(credit_notes.CREDITABLE),
        Invoice.credited_minor < Invoice.total_minor,
    )


def credit_note(t: tenant_factories.Tenant, data: st.DataObject, invoice_id: int) -> None:
    """In full, or part of one line's net still to credit."""
    invoice = invoices.lock(db.session.get(Invoice, invoice_id))
    left = {k: net for k, (net, _) in credit_notes.left_by_line(invoice).items() if net > 0}
    nets = None
    if left and data.draw(st.sampled_from(["partial", "full"]), label="credit") == "partial":
        line_id = data.draw(st.sampled_from(sorted(left)), label="line")
        nets = {line_id: usd(data.draw(st.integers(1, left[line_id]), label="net"))}
    credit_notes.issue_credit_note(factories.finance(t), invoice, "Correction", nets)


def cancellable(t: tenant_factories.Tenant) -> list[int]:
    return _vendor_ids(Order, t, Order.state.not_in([OrderState.CANCELLED, OrderState.COMPLETED]))


def time_passes(t: tenant_factories.Tenant, data: st.DataObject, _: None) -> None:
    """Some weeks pass: every date of the books so far moves that far back (set directly,
    as the clock cannot be moved), so later steps happen in another month than earlier ones
    and engagements are accepted after their invoices were issued."""
    back = timedelta(days=data.draw(st.integers(1, 70), label="days pass"))
    dated = {
        Invoice: ("issued_on", "due_on"),
        CreditNote: ("issued_on",),
        Payment: ("received_on",),
        Refund: ("refunded_on",),
        Engagement: ("started_at", "delivered_at", "accepted_at"),
    }
    for model, names in dated.items():
        for row in db.session.scalars(select(model).where(model.vendor_id == t.vendor_id)):
            for name in names:
                if getattr(row, name) is not None:
                    setattr(row, name, getattr(row, name) - back)
    db.session.commit()


def cancel_order(t: tenant_factories.Tenant, data: st.DataObject, order_id: int) -> None:
    """The vendor cancels: drafts discarded, issued invoices credited in full."""
    orders.cancel_order(actor(t, Role.ADMIN), db.session.get(Order, order_id), "Plans changed")


Targets = Callable[[tenant_factories.Tenant], list[int]] | None
# Each step builds something new or, as often, acts on what exists (when anything does).
OPERATIONS: list[tuple[Callable[..., None], Targets]] = [
    (accept, running),
    (issue_draft, drafts),
    (credit_note, creditable),
    (pay_by_bank, open_invoices),
    (refund_part, refundable_payments),
    (spend_credit, open_with_credit),
    (approve_change_order, changeable),
    (draft_uninvoiced, with_uninvoiced),
    (cancel_order, cancellable),
    (start_engagement, None),
    (time_passes, None),
    (place_prepaid_order, None),
    (invoice_by_hand, None),
]


def fresh_tenant() -> tenant_factories.Tenant:
    """An empty database with one vendor: each example starts from nothing."""
    db.session.remove()
    _empty_tables()
    return tenant_factories.tenant("Acme Software")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_books_reconcile_after_any_sequence_of_operations(app, unscoped, data):
    """Each example empties the database, builds one vendor and takes 3-8 steps, each
    checked; the ageing is also asked on one drawn day at a bucket's edge."""
    with unscoped():
        tenant = fresh_tenant()
        factories.set_tax(tenant, data.draw(st.sampled_from(["0", "7.5", "19"]), label="tax"))
        as_of = (0, data.draw(st.sampled_from(AGEING_DAYS[1:]), label="ageing day"))
        for _ in range(data.draw(st.integers(3, 8), label="steps")):
            possible = {True: [], False: []}  # builders, and operations on what exists
            for operation, targets in OPERATIONS:
                ids = [None] if targets is None else targets(tenant)
                if ids:
                    possible[targets is None].append((operation, ids))
            build = not possible[False] or data.draw(st.booleans(), label="build")
            operation, ids = data.draw(st.sampled_from(possible[build]), label="operation")
            target = None if build else _pick(data, ids, operation.__name__)
            event(operation.__name__)
            operation(tenant, data, target)
            assert_books_reconcile(tenant.vendor_id, as_of)
