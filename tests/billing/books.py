"""The books recounted: ``assert_books_reconcile`` recounts a vendor's billing rows by brute
force and holds them against what the services stored and the reports say: invoices are the
charges of billed order and change-order lines (plus lines typed by hand), paid +
outstanding = invoiced - credited, customer credit is its ledger, deferred + recognised =
invoiced, and AR ageing and revenue by month equal the rows. Used after every step of the
random operations of ``test_reconciliation`` and over the demo (``tests/test_demo_data.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from billing import payments, reports, revenue
from billing.models import (
    OPEN_STATES,
    Charge,
    CreditEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceState,
    Payment,
    PaymentMethod,
    Refund,
)
from catalog.models import BillingPolicy, ServletVersion
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.tenancy import tenant_scope
from delivery.kpis import Period
from delivery.models import ChangeOrder, ChangeOrderState, Engagement, EngagementState
from ordering.models import Order, OrderLine, PaymentRoute

State = InvoiceState
E = EngagementState
# Days after today the AR ageing is also asked for: both sides of every bucket's edge for an
# invoice due in 30 days.
AGEING_DAYS = (0, 30, 31, 60, 61, 90, 91, 120, 121)


def usd(amount: int) -> Money:
    return Money(amount, "USD")


# --- the books, recounted -------------------------------------------------------------------


@dataclass
class Books:
    """Every billing row of one vendor, read plainly (no relationship is loaded)."""

    vendor_id: int
    currency: str
    invoices: list[Invoice]
    lines: list[InvoiceLine]
    charges: list[Charge]
    notes: list[CreditNote]
    note_lines: list[CreditNoteLine]
    payments: list[Payment]
    refunds: list[Refund]
    entries: list[CreditEntry]
    order_lines: list[OrderLine]
    orders: dict[int, Order]
    engagements: dict[int, Engagement]
    change_orders: list[ChangeOrder]
    policies: dict[int, BillingPolicy]  # by servlet version

    @classmethod
    def read(cls, vendor_id: int) -> Books:
        def rows(model: Any) -> list[Any]:
            return list(
                db.session.scalars(
                    select(model).where(model.vendor_id == vendor_id).order_by(model.id)
                )
            )

        return cls(
            vendor_id,
            reports.vendor_currency(vendor_id),
            rows(Invoice),
            rows(InvoiceLine),
            rows(Charge),
            rows(CreditNote),
            rows(CreditNoteLine),
            rows(Payment),
            rows(Refund),
            rows(CreditEntry),
            rows(OrderLine),
            {o.id: o for o in rows(Order)},
            {e.id: e for e in rows(Engagement)},
            rows(ChangeOrder),
            {v.id: v.billing_policy for v in rows(ServletVersion)},
        )

    @property
    def issued(self) -> list[Invoice]:
        """Invoices that were issued: numbered, neither drafts nor discarded drafts."""
        return [i for i in self.invoices if i.issued_on is not None]


def by(rows: list[Any], key: str) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def assert_books_reconcile(vendor_id: int, ageing_days: tuple[int, ...] = AGEING_DAYS) -> Books:
    """Every invariant of the vendor's books (module docstring), each recounted from rows;
    AR ageing as seen ``ageing_days`` after today."""
    db.session.expire_all()
    books = Books.read(vendor_id)
    invoices_are_their_lines_and_charges(books)
    charges_bill_the_order_lines(books)
    paid_and_outstanding_are_invoiced_less_credited(books)
    customer_credit_is_its_ledger(books)
    revenue_report_equals_the_rows(books)
    ageing_report_equals_the_open_invoices(books, ageing_days)
    return books


def invoices_are_their_lines_and_charges(books: Books) -> None:
    """Each line is quantity x unit price and, unless typed by hand, exactly its charges; the
    issued invoices add up to the charges on them plus the hand-typed lines; numbers have no
    gap."""
    lines, charges = by(books.lines, "invoice_id"), by(books.charges, "invoice_line_id")
    for invoice in books.invoices:
        mine = lines[invoice.id]
        assert invoice.subtotal_minor == sum(line.net_minor for line in mine), invoice.reference
        assert invoice.tax_minor == sum(line.tax_minor for line in mine), invoice.reference
        assert invoice.total_minor == invoice.subtotal_minor + invoice.tax_minor
        assert (invoice.number is None) == (invoice.issued_on is None), invoice.reference
    discarded = {i.id for i in books.invoices if i.state is State.VOID and i.issued_on is None}
    for line in books.lines:
        assert line.net_minor == line.quantity * line.unit_price_minor, line.description
        on_line = charges[line.id]
        if line.invoice_id in discarded:  # a discarded draft gave its charges back
            assert not on_line, line.description
        elif on_line:
            assert sorted(c.amount_minor for c in on_line) == [line.unit_price_minor] * (
                line.quantity
            ), line.description
        else:
            assert line.servlet_id is None, f"{line.description}: billed, but no charge"
    issued_ids = {i.id for i in books.issued}
    on_issued = [line for line in books.lines if line.invoice_id in issued_ids]
    by_hand = sum(line.net_minor for line in on_issued if not charges[line.id])
    charged = sum(c.amount_minor for line in on_issued for c in charges[line.id])
    assert sum(i.subtotal_minor for i in books.issued) == charged + by_hand
    for year, numbers in by(books.issued, "sequence_year").items():
        assert sorted(i.sequence_number for i in numbers) == list(range(1, len(numbers) + 1)), year
    for year, numbers in by(books.notes, "sequence_year").items():
        assert sorted(n.sequence_number for n in numbers) == list(range(1, len(numbers) + 1)), year


def first_half(amount: int) -> int:
    return amount - amount // 2


def due_for(engagement: Engagement, policy: BillingPolicy, amount: int) -> int:
    """What the engagement's milestones so far make due of ``amount`` under ``policy``."""
    accepted = engagement.state is E.ACCEPTED
    if policy is BillingPolicy.ON_ACCEPTANCE:
        return amount if accepted else 0
    started = engagement.started_at is not None or accepted
    return (first_half(amount) if started else 0) + (amount // 2 if accepted else 0)


def charges_bill_the_order_lines(books: Books) -> None:
    """The charges of each order line are what its policy made due by now: never more than
    the line bills (quantity x unit price, a change order's price), all of it once the last
    milestone has passed."""
    charged: dict[int, int] = defaultdict(int)
    for charge in books.charges:
        charged[charge.order_line_id] += charge.amount_minor
    units = by(list(books.engagements.values()), "order_line_id")
    changes = {co.order_line_id: co for co in books.change_orders if co.order_line_id}
    for line in books.order_lines:
        order = books.orders[line.order_id]
        billed = line.quantity * line.unit_price_minor
        policy = books.policies[line.servlet_version_id]
        change = changes.get(line.id)
        if change is not None:
            assert change.state is ChangeOrderState.APPROVED
            assert billed == change.price_minor, change.reference
            engagement = books.engagements[change.engagement_id]
            due = billed if policy is BillingPolicy.PREPAID else due_for(engagement, policy, billed)
        elif order.payment_route is PaymentRoute.ENTITLEMENT or order.confirmed_at is None:
            due = 0
        elif policy is BillingPolicy.PREPAID:
            due = billed
        else:
            due = sum(due_for(e, policy, line.unit_price_minor) for e in units[line.id])
        assert charged[line.id] <= billed, f"order line {line.id} charged beyond its price"
        assert charged[line.id] == due, f"order line {line.id} of {order.reference} ({policy})"


def expected_state(invoice: Invoice, paid: int, credited: int) -> State:
    if credited >= invoice.total_minor and paid == 0:
        return State.VOID
    if paid >= invoice.total_minor - credited:
        return State.PAID
    return State.PARTIALLY_PAID if paid > 0 else State.ISSUED


def paid_and_outstanding_are_invoiced_less_credited(books: Books) -> None:
    """Per invoice and in all: paid (payments applied less refunds from the invoice) plus
    what is owed is its total less credit notes, and its state is what those figures say."""
    payments_of, refunds_of = by(books.payments, "invoice_id"), by(books.refunds, "invoice_id")
    notes_of = by(books.notes, "invoice_id")
    refunds_by_payment = by(books.refunds, "payment_id")
    for payment in books.payments:
        assert 0 <= payment.applied_minor <= payment.amount_minor
        assert payment.refunded_minor == sum(r.amount_minor for r in refunds_by_payment[payment.id])
        assert all(r.invoice_id == payment.invoice_id for r in refunds_by_payment[payment.id])
    paid_total = owed_total = invoiced_total = credited_total = 0
    for invoice in books.invoices:
        paid = sum(p.applied_minor for p in payments_of[invoice.id]) - sum(
            r.from_invoice_minor for r in refunds_of[invoice.id]
        )
        credited = sum(n.total_minor for n in notes_of[invoice.id])
        ref = invoice.reference
        if invoice.issued_on is None:
            assert (paid, credited, invoice.paid_minor) == (0, 0, 0), ref
            assert invoice.state in (State.DRAFT, State.VOID), ref
            continue
        assert invoice.paid_minor == paid, ref
        assert invoice.credited_minor == credited, ref
        assert invoice.balance.amount >= 0, ref
        assert paid + invoice.balance.amount == invoice.total_minor - credited, ref
        assert invoice.state is expected_state(invoice, paid, credited), ref
        assert invoice.state is payments.target_state(invoice), ref
        paid_total += paid
        owed_total += invoice.balance.amount
        invoiced_total += invoice.total_minor
        credited_total += credited
    assert paid_total + owed_total == invoiced_total - credited_total
    lines = {line.id: line for line in books.lines}
    for note in books.notes:
        mine = [n for n in books.note_lines if n.credit_note_id == note.id]
        assert note.subtotal_minor == sum(n.net_minor for n in mine), note.number
        assert note.total_minor == note.subtotal_minor + sum(n.tax_minor for n in mine)
    for line_id, credits in by(books.note_lines, "invoice_line_id").items():
        assert sum(c.net_minor for c in credits) <= lines[line_id].net_minor
        assert sum(c.tax_minor for c in credits) <= lines[line_id].tax_minor


def customer_credit_is_its_ledger(books: Books) -> None:
    """Credit = what payments did not apply, less credit spent, less refunds not taken from
    an invoice; it equals the ledger and the service's balance, and is never negative
    unless Stripe reported a refund beyond it (``billing.refunds``)."""
    expected: dict[tuple[int, str], int] = defaultdict(int)
    for payment in books.payments:
        expected[payment.customer_id, payment.currency] += (
            payment.amount_minor - payment.applied_minor
        )
        if payment.method is PaymentMethod.CREDIT:
            expected[payment.customer_id, payment.currency] -= payment.amount_minor
    customers = {p.id: p.customer_id for p in books.payments}
    stripe_refunded = set()
    for refund in books.refunds:
        customer = customers[refund.payment_id]
        expected[customer, refund.currency] -= refund.amount_minor - refund.from_invoice_minor
        if refund.stripe_refund_key:
            stripe_refunded.add(customer)
    ledger: dict[tuple[int, str], int] = defaultdict(int)
    for entry in books.entries:
        ledger[entry.customer_id, entry.currency] += entry.amount_minor
    assert {k: v for k, v in ledger.items() if v} == {k: v for k, v in expected.items() if v}
    for (customer_id, currency), balance in ledger.items():
        assert payments.credit_balance(customer_id, currency).amount == balance
        assert balance >= 0 or customer_id in stripe_refunded, customer_id


def month(day: date) -> date:
    return day.replace(day=1)


def brute_revenue(books: Books) -> dict[str, dict[date, int]]:
    """Invoiced, collected, deferred and recognised by month, as ``billing.revenue`` defines
    them, by walking the rows."""
    figures: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    charges = by(books.charges, "invoice_line_id")

    def book(amount: int, engagement_id: int | None, on: date) -> None:
        engagement = books.engagements.get(engagement_id)
        if engagement is None or engagement.state is E.ACCEPTED:
            when = on if engagement is None else max(on, engagement.accepted_at.date())
            figures["recognised"][month(when)] += amount
        else:
            figures["deferred"][month(on)] += amount

    issued = {i.id: i for i in books.issued if i.currency == books.currency}
    lines = {line.id: line for line in books.lines}
    for line in books.lines:
        invoice = issued.get(line.invoice_id)
        if invoice is None:
            continue
        figures["invoiced"][month(invoice.issued_on)] += line.net_minor
        for charge in charges[line.id]:
            book(charge.amount_minor, charge.engagement_id, invoice.issued_on)
        rest = line.net_minor - sum(c.amount_minor for c in charges[line.id])
        book(rest, None, invoice.issued_on)
    notes = {n.id: n for n in books.notes if n.currency == books.currency}
    for credit_line in books.note_lines:
        note = notes.get(credit_line.credit_note_id)
        if note is None:
            continue
        line = lines[credit_line.invoice_line_id]
        figures["invoiced"][month(note.issued_on)] -= credit_line.net_minor
        shares = 0
        for charge in charges[line.id] if line.net_minor > 0 else []:
            share = credit_line.net_minor * charge.amount_minor // line.net_minor
            shares += share
            book(-share, charge.engagement_id, note.issued_on)
        book(shares - credit_line.net_minor, None, note.issued_on)
    for payment in books.payments:
        if payment.currency == books.currency:
            figures["collected"][month(payment.received_on)] += payment.applied_minor
    for refund in books.refunds:
        if refund.currency == books.currency:
            figures["collected"][month(refund.refunded_on)] -= refund.from_invoice_minor
    return figures


def all_time(books: Books) -> Period:
    days = [
        *(i.issued_on for i in books.issued),
        *(n.issued_on for n in books.notes),
        *(p.received_on for p in books.payments),
        *(r.refunded_on for r in books.refunds),
    ]
    today = utcnow().date()
    return Period(min([*days, today]), today)


def revenue_report_equals_the_rows(books: Books) -> None:
    """Revenue by month over all time is the brute-force count, month by month; deferred +
    recognised = invoiced (net of credit notes) = the margin report's revenue."""
    period = all_time(books)
    with tenant_scope(books.vendor_id):
        report = revenue.by_month(books.vendor_id, period)
        margins = reports.margins(books.vendor_id, period)
    expected = brute_revenue(books)
    for name in ("invoiced", "collected", "deferred", "recognised"):
        got = {m.month: getattr(m, f"{name}_minor") for m in report.months}
        assert {k: v for k, v in got.items() if v} == {
            k: v for k, v in expected[name].items() if v
        }, name
    totals = report.totals
    assert totals.deferred_minor + totals.recognised_minor == totals.invoiced_minor
    mine = [i for i in books.issued if i.currency == books.currency]
    credited = sum(n.subtotal_minor for n in books.notes if n.currency == books.currency)
    assert totals.invoiced_minor == sum(i.subtotal_minor for i in mine) - credited
    assert totals.collected_minor == sum(i.paid_minor for i in mine)
    assert margins.totals.revenue_minor == totals.invoiced_minor


def bucket(days_late: int) -> int:
    return next(
        index
        for index, (_, _, fewest, most) in enumerate(reports.BUCKETS)
        if (fewest is None or days_late >= fewest) and (most is None or days_late <= most)
    )


def ageing_report_equals_the_open_invoices(books: Books, ageing_days: tuple[int, ...]) -> None:
    """AR ageing, asked on days that reach every bucket, is what the open invoices owe by
    days past due, per customer and in total; beside it the credit no invoice used yet."""
    today = utcnow().date()
    credit: dict[int, int] = defaultdict(int)
    for entry in books.entries:
        if entry.currency == books.currency:
            credit[entry.customer_id] += entry.amount_minor
    for later in ageing_days:
        as_of = today + timedelta(days=later)
        owed: dict[int, list[int]] = defaultdict(lambda: [0] * len(reports.BUCKETS))
        for invoice in books.issued:
            if invoice.state in OPEN_STATES and invoice.currency == books.currency:
                late = (as_of - (invoice.due_on or as_of)).days
                owed[invoice.customer_id][bucket(late)] += invoice.balance.amount
        with tenant_scope(books.vendor_id):
            report = reports.ageing(books.vendor_id, as_of)
        got = {row.customer_id: list(row.buckets) for row in report.rows if row.invoices}
        assert got == dict(owed), as_of
        assert report.totals.total.amount == sum(sum(row) for row in owed.values())
        assert report.totals.credit_minor == sum(c for c in credit.values() if c > 0)
