"""Demo orders for the first demo customer of each vendor, in every state an order reaches
without card payments (awaiting payment needs Stripe keys): made through the services, so the
audit trail, emails, engagements and order forms are real. Skips a vendor that has orders;
runs after the catalog's seeder, whose servlets and catalogs it orders from."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from accounts.models import Membership, Organization
from accounts.seed import first_member, vendors
from catalog.models import QuestionType, Servlet, ServletKind, visible_servlet_ids
from catalog.queries import Offer, offers_for
from core.db import utcnow
from core.demo import Login, seeder
from core.extensions import db
from core.permissions import OrgKind, Role
from ordering import carts, checkout, entitlements, orders
from ordering.intake import questions_of
from ordering.models import Order, PaymentRoute


def _sample_answer(kind: QuestionType, choices: tuple[str, ...]) -> str:
    return {
        QuestionType.TEXT: "See the notes from our kick-off call.",
        QuestionType.NUMBER: "120",
        QuestionType.DATE: (utcnow().date() + timedelta(days=14)).isoformat(),
        QuestionType.CHOICE: choices[0] if choices else "",
        QuestionType.YES_NO: "yes",
    }[kind]


def _order(
    actor: Membership,
    offer: Offer,
    quantity: int = 1,
    route: PaymentRoute = PaymentRoute.INVOICE,
    po_number: str = "",
    days_ago: int = 0,
) -> Order:
    """Put one servlet in the actor's cart and check it out, as the pages would."""
    line = carts.add_to_cart(actor, offer.servlet.id, quantity)
    questions = questions_of(offer.version.intake_questions)
    vendor = db.session.get(Organization, actor.vendor_id)
    order = checkout.place_order(
        actor,
        checkout.Checkout(
            token=carts.cart_of(actor).checkout_token,
            payment_route=route,
            accepted_terms_version=vendor.terms_version,
            po_number=po_number,
            answers={line.id: {q.index: _sample_answer(q.type, q.choices) for q in questions}},
        ),
    )
    if days_ago:
        order.created_at = order.terms_accepted_at = utcnow() - timedelta(days=days_ago)
        db.session.commit()
    return order


@seeder
def seed_orders(logins: list[Login]) -> None:
    for vendor in vendors():
        if db.session.scalar(select(Order.id).where(Order.vendor_id == vendor.id).limit(1)):
            continue
        customer = db.session.scalar(
            select(Organization)
            .where(Organization.vendor_id == vendor.id, Organization.kind == OrgKind.CUSTOMER)
            .order_by(Organization.id)
            .limit(1)
        )
        if customer is not None:
            _seed_customer(vendor, customer)


def _seed_customer(vendor: Organization, customer: Organization) -> None:
    buyer = first_member(customer.id, Role.BUYER)
    approver = first_member(customer.id, Role.APPROVER)
    csm = first_member(vendor.id, Role.CSM)
    servlet_ids = list(
        db.session.scalars(
            select(Servlet.id)
            .where(Servlet.id.in_(visible_servlet_ids(customer.id)))
            .order_by(Servlet.id)
        )
    )
    offers = offers_for(customer.id, servlet_ids)
    priced = sorted(offers.values(), key=lambda offer: offer.price.amount)
    if buyer is None or approver is None or csm is None or len(priced) < 4:
        return
    health_check = next((o for o in priced if o.version.kind == ServletKind.HEALTH_CHECK), None)
    cheap, mid, dear = priced[0], priced[len(priced) // 2], priced[-1]

    # Orders above the threshold wait for the approver: a few of the dearest servlet do.
    threshold = max(cheap.price.amount * 2, mid.price.amount)
    above = min(20, threshold // max(dear.price.amount, 1) + 1)
    customer.approval_threshold_minor = threshold
    db.session.commit()
    today = utcnow().date()
    entitlements.grant_entitlement(
        csm,
        entitlements.Grant(
            customer_id=customer.id,
            servlet_id=None,
            kind=ServletKind.HEALTH_CHECK,
            quantity=2,
            valid_from=today - timedelta(days=30),
            valid_until=today + timedelta(days=335),
            note="Premier plan: 2 health checks a year",
        ),
    )

    # The last quarter's work, delivered and rated by the delivery seeder; an approver's own
    # orders need no approval.
    _order(approver, cheap, quantity=3, po_number="PO-0990", days_ago=100)
    _order(approver, mid, quantity=3, po_number="PO-0991", days_ago=90)
    _order(buyer, cheap, po_number="PO-1001", days_ago=60)  # delivered and completed by delivery
    _order(buyer, cheap, quantity=2, po_number="PO-1002", days_ago=20)  # confirmed
    approved = _order(buyer, dear, quantity=above, po_number="PO-1003", days_ago=12)
    orders.approve_order(approver, approved, "Within the quarter's budget.")
    rejected = _order(buyer, dear, quantity=above, days_ago=9)
    orders.reject_order(approver, rejected, "Let's do one first and see the results.")
    cancelled = _order(buyer, mid, po_number="PO-1005", days_ago=5)
    orders.cancel_order(buyer, cancelled, "Ordered the wrong servlet.")
    if health_check is not None:  # an approver's own order needs no approval
        _order(approver, health_check, route=PaymentRoute.ENTITLEMENT, days_ago=3)
    _order(buyer, dear, quantity=above, po_number="PO-1007", days_ago=1)  # awaiting approval
    carts.add_to_cart(buyer, mid.servlet.id)  # something in the cart to check out
