"""The policy functions, asked directly for every role, of the object's own organisation and
of another: the same answers every service, page and (later) the API rely on."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from catalog import policies as catalog_policies
from core import mail
from core.permissions import Role
from delivery import policies as delivery_policies
from ordering import policies
from ordering.models import OrderState, PaymentRoute

OWN, OTHER = 10, 20
VENDOR_STAFF = {Role.ADMIN, Role.CSM, Role.DELIVERY_MANAGER, Role.FINANCE}


@dataclass(frozen=True)
class Someone:
    role: Role
    organization_id: int
    user_id: int = 1
    vendor_id: int = 1


def people() -> list[Someone]:
    return [Someone(role, org) for role in Role for org in (OWN, OTHER)]


def order(state: OrderState = OrderState.AWAITING_APPROVAL, route=PaymentRoute.INVOICE):
    return SimpleNamespace(customer_id=OWN, state=state, payment_route=route)


def test_only_an_approver_of_the_orders_customer_decides_it_while_it_waits():
    for person in people():
        expected = person.role == Role.APPROVER and person.organization_id == OWN
        assert policies.may_decide(person, order()) is expected
        assert policies.may_decide(person, order(OrderState.CONFIRMED)) is False


@pytest.mark.parametrize("state", list(OrderState))
def test_the_customers_buyers_and_approvers_and_the_vendors_admin_and_finance_cancel(state):
    open_ = state not in (OrderState.COMPLETED, OrderState.CANCELLED)
    for person in people():
        customer_side = person.role in (Role.BUYER, Role.APPROVER) and person.organization_id == OWN
        vendor_side = person.role in (Role.ADMIN, Role.FINANCE)
        assert policies.may_cancel(person, order(state)) is (
            open_ and (customer_side or vendor_side)
        )


def test_only_the_customers_buyers_and_approvers_pay_a_card_order_that_waits(app):
    waiting = order(OrderState.AWAITING_PAYMENT, PaymentRoute.CARD)
    with app.app_context():
        app.config.update(STRIPE_SECRET_KEY="sk_test", STRIPE_WEBHOOK_SECRET="whsec_test")
        for person in people():
            expected = person.role in (Role.BUYER, Role.APPROVER) and person.organization_id == OWN
            assert policies.may_pay_by_card(person, waiting) is expected
            assert policies.may_pay_by_card(person, order(OrderState.CONFIRMED)) is False
        app.config.update(STRIPE_SECRET_KEY="")
        assert not policies.may_pay_by_card(Someone(Role.BUYER, OWN), waiting)


def test_admin_and_finance_refund_a_payment_not_refunded_yet():
    paid = SimpleNamespace(refundable=True)
    done = SimpleNamespace(refundable=False)
    for person in people():
        assert policies.may_refund(person, [done, paid]) is (
            person.role in (Role.ADMIN, Role.FINANCE)
        )
        assert policies.may_refund(person, [done]) is False


def test_vendor_staff_see_the_vendor_side_of_orders_and_engagements():
    for person in people():
        assert policies.sees_vendor_side(person) is (person.role in VENDOR_STAFF)
        assert delivery_policies.sees_vendor_side(person) is (person.role in VENDOR_STAFF)


def test_buyers_and_approvers_order_and_answer_their_own_recommendations():
    recommendation = SimpleNamespace(customer_id=OWN)
    for person in people():
        buyer = person.role in (Role.BUYER, Role.APPROVER)
        assert catalog_policies.buys(person) is buyer
        assert catalog_policies.answers(person, recommendation) is (
            buyer and person.organization_id == OWN
        )
        assert catalog_policies.recommends(person) is (person.role in (Role.ADMIN, Role.CSM))
    assert catalog_policies.buys(None) is False


def test_a_csm_lists_their_own_recommendations_first_and_an_admin_reads_tenant_mail():
    for person in people():
        assert catalog_policies.lists_own_recommendations_first(person) is (person.role == Role.CSM)
        assert mail.reads_tenant_mail(person) is (person.role == Role.ADMIN)
