"""Every state table, tested whole: the product of its states and of every mover.

Each table is compared with the one this file writes out, so a move added or widened by
mistake (``cancelled → confirmed``, a viewer cancelling) fails here; then every pair of states
is tried by every role and by the system through the one ``transition`` function: a pair
outside the table is refused for everyone, a pair in it is made only by the movers it names,
and a terminal state stays terminal.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from itertools import product
from typing import Any

import pytest
from sqlalchemy import select

from billing.models import INVOICE_LIFE
from billing.models import InvoiceState as I
from billing.models import PayoutState as PO
from billing.payouts import PAYOUT_LIFE
from catalog.models import RecommendationState as R
from catalog.recommendations import RECOMMENDATION_LIFE
from core.app import AREAS
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed
from core.extensions import db
from core.permissions import Role
from core.states import SYSTEM, StateMachine, begin, transition
from delivery.models import ENGAGEMENT_LIFE
from delivery.models import ChangeOrderState as C
from delivery.models import EngagementState as E
from delivery.policies import CHANGE_ORDER_LIFE
from ordering.models import OrderState as O
from ordering.payment_models import CARD_PAYMENT_LIFE
from ordering.payment_models import CardPaymentState as P
from ordering.policies import ORDER_LIFE

BOOKS = {Role.FINANCE, Role.ADMIN, SYSTEM}
CANCELLERS = {Role.BUYER, Role.APPROVER, Role.ADMIN, Role.FINANCE, SYSTEM}
DECIDERS = {Role.BUYER, Role.APPROVER}
WORKERS = {Role.DELIVERY_MANAGER, Role.CONSULTANT, Role.PARTNER_CONSULTANT}

EXPECTED: dict[str, tuple[StateMachine, dict[tuple[Any, Any], set[Any]], set[Any]]] = {
    "order": (
        ORDER_LIFE,
        {
            (O.AWAITING_APPROVAL, O.AWAITING_PAYMENT): {Role.APPROVER},
            (O.AWAITING_APPROVAL, O.CONFIRMED): {Role.APPROVER},
            (O.AWAITING_APPROVAL, O.CANCELLED): CANCELLERS,
            (O.AWAITING_PAYMENT, O.CONFIRMED): {SYSTEM},
            (O.AWAITING_PAYMENT, O.CANCELLED): CANCELLERS,
            (O.CONFIRMED, O.COMPLETED): {SYSTEM},
            (O.CONFIRMED, O.CANCELLED): CANCELLERS,
        },
        {O.COMPLETED, O.CANCELLED},
    ),
    "recommendation": (
        RECOMMENDATION_LIFE,
        {
            (R.PROPOSED, R.VIEWED): DECIDERS,
            (R.PROPOSED, R.ORDERED): DECIDERS | {SYSTEM},
            (R.PROPOSED, R.DECLINED): DECIDERS,
            (R.PROPOSED, R.EXPIRED): DECIDERS | {SYSTEM},
            (R.VIEWED, R.ORDERED): DECIDERS | {SYSTEM},
            (R.VIEWED, R.DECLINED): DECIDERS,
            (R.VIEWED, R.EXPIRED): DECIDERS | {SYSTEM},
        },
        {R.ORDERED, R.DECLINED, R.EXPIRED},
    ),
    "card_payment": (
        CARD_PAYMENT_LIFE,
        {
            (P.OPEN, P.PROCESSING): {SYSTEM},
            (P.OPEN, P.PAID): {SYSTEM},
            (P.OPEN, P.FAILED): {SYSTEM},
            (P.OPEN, P.EXPIRED): {SYSTEM},
            (P.PROCESSING, P.PAID): {SYSTEM},
            (P.PROCESSING, P.FAILED): {SYSTEM},
            (P.FAILED, P.PAID): {SYSTEM},
            (P.EXPIRED, P.PAID): {SYSTEM},
        },
        {P.PAID},
    ),
    "engagement": (
        ENGAGEMENT_LIFE,
        {
            (E.REQUESTED, E.SCHEDULED): {Role.DELIVERY_MANAGER},
            (E.SCHEDULED, E.IN_PROGRESS): WORKERS,
            (E.IN_PROGRESS, E.DELIVERED): WORKERS,
            (E.DELIVERED, E.ACCEPTED): DECIDERS | {SYSTEM},
            (E.DELIVERED, E.IN_PROGRESS): DECIDERS,
            (E.ON_HOLD, E.SCHEDULED): {Role.DELIVERY_MANAGER},
            (E.ON_HOLD, E.IN_PROGRESS): {Role.DELIVERY_MANAGER},
            **{
                (state, E.ON_HOLD): {Role.DELIVERY_MANAGER, Role.ADMIN}
                for state in (E.REQUESTED, E.SCHEDULED, E.IN_PROGRESS, E.DELIVERED)
            },
            **{
                (state, E.CANCELLED): {Role.DELIVERY_MANAGER, Role.ADMIN, SYSTEM}
                for state in (E.REQUESTED, E.SCHEDULED, E.IN_PROGRESS, E.DELIVERED, E.ON_HOLD)
            },
        },
        {E.ACCEPTED, E.CANCELLED},
    ),
    "change_order": (
        CHANGE_ORDER_LIFE,
        {
            (C.PROPOSED, C.APPROVED): DECIDERS,
            (C.PROPOSED, C.DECLINED): DECIDERS,
            (C.PROPOSED, C.WITHDRAWN): {Role.DELIVERY_MANAGER},
        },
        {C.APPROVED, C.DECLINED, C.WITHDRAWN},
    ),
    "invoice": (
        INVOICE_LIFE,
        {
            **dict.fromkeys(
                [
                    (I.DRAFT, I.ISSUED),
                    (I.DRAFT, I.VOID),
                    (I.ISSUED, I.PARTIALLY_PAID),
                    (I.ISSUED, I.PAID),
                    (I.ISSUED, I.VOID),
                    (I.PARTIALLY_PAID, I.PAID),
                    (I.PARTIALLY_PAID, I.ISSUED),
                    (I.PARTIALLY_PAID, I.VOID),
                    (I.PAID, I.PARTIALLY_PAID),
                    (I.PAID, I.ISSUED),
                    (I.PAID, I.VOID),
                ],
                BOOKS,
            )
        },
        {I.VOID},
    ),
    "payout": (
        PAYOUT_LIFE,
        {
            (PO.DRAFT, PO.APPROVED): {Role.FINANCE, Role.ADMIN},
            (PO.APPROVED, PO.PAID): {Role.FINANCE, Role.ADMIN},
        },
        {PO.PAID},
    ),
}
MOVERS = [*Role, SYSTEM]


def test_every_state_machine_of_the_product_is_listed_here(app):
    """A new table is tested whole the day it is written: every ``StateMachine`` that a
    module of an area holds is one of ``EXPECTED``."""
    found = {
        value.name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in AREAS
        for value in vars(module).values()
        if isinstance(value, StateMachine)
    }
    assert found == set(EXPECTED)


@dataclass
class Thing:
    """Stands for any object with a state: what ``transition`` reads and writes."""

    state: Any
    id: int = 1
    vendor_id: int | None = None
    __tablename__ = "thing"


@dataclass(frozen=True)
class Someone:
    role: Role
    user_id: int = 1
    organization_id: int = 1
    vendor_id: int = 1


def actor_for(mover: Any) -> Someone | None:
    return None if mover is SYSTEM else Someone(mover)


@pytest.mark.parametrize("name", EXPECTED)
def test_the_table_is_exactly_the_one_the_product_promises(name):
    machine, moves, terminal = EXPECTED[name]
    assert {pair: set(movers) for pair, movers in machine.moves.items()} == moves
    assert machine.terminal() == terminal


@pytest.mark.parametrize("name", EXPECTED)
def test_every_pair_of_states_is_refused_or_allowed_per_mover(app, unscoped, name):
    machine, moves, _ = EXPECTED[name]
    with unscoped(), machine.changed.muted():  # the table, not what its receivers do next
        for before, to, mover in product(machine.states, machine.states, MOVERS):
            thing = Thing(before)
            if (before, to) not in moves:
                with pytest.raises(InvalidTransition):
                    transition(machine, thing, to, actor_for(mover))
            elif mover not in moves[(before, to)]:
                with pytest.raises(NotAllowed):
                    transition(machine, thing, to, actor_for(mover))
            else:
                transition(machine, thing, to, actor_for(mover))
                assert thing.state == to
            assert thing.state in (before, to)
        db.session.rollback()


@pytest.mark.parametrize("name", EXPECTED)
def test_a_terminal_state_stays_terminal(app, unscoped, name):
    machine, _, terminal = EXPECTED[name]
    with unscoped():
        for state, to, mover in product(terminal, machine.states, MOVERS):
            with pytest.raises(InvalidTransition):
                transition(machine, Thing(state), to, actor_for(mover))
        db.session.rollback()


def test_a_move_is_audited_with_its_states_and_reason(app, unscoped):
    with unscoped():
        thing = Thing(O.CONFIRMED, id=7)
        transition(ORDER_LIFE, thing, O.CANCELLED, None, "Customer asked")
        event = db.session.scalar(select(AuditEvent))
        assert (event.action, event.object_type, event.object_id) == ("order.cancelled", "thing", 7)
        assert event.changes == {"state": ["confirmed", "cancelled"], "reason": "Customer asked"}
        db.session.rollback()


@dataclass
class Referenced(Thing):
    reference: str = "ORD-0042"


def test_a_refused_move_names_the_object_and_both_states(app, unscoped):
    with unscoped():
        with pytest.raises(InvalidTransition) as named:
            transition(CARD_PAYMENT_LIFE, Referenced(P.PAID), P.OPEN, None)
        with pytest.raises(InvalidTransition) as unnamed:
            transition(CARD_PAYMENT_LIFE, Thing(P.PAID), P.OPEN, None)
    assert named.value.message == "Card payment ORD-0042 is paid; it cannot become open."
    assert unnamed.value.message == "This card payment is paid; it cannot become open."


@pytest.mark.parametrize("name", EXPECTED)
def test_a_page_asking_who_may_make_a_move_gets_the_tables_answer(name):
    machine, moves, _ = EXPECTED[name]
    for before, to, mover in product(machine.states, machine.states, MOVERS):
        expected = mover in moves.get((before, to), set())
        assert machine.can(actor_for(mover), before, to) is expected, (before, to, mover)


# A machine of the tests' own: its signal has no receivers but the tests'.
DEMO_LIFE = StateMachine(
    "order",
    O,
    initial=frozenset({O.AWAITING_APPROVAL, O.CONFIRMED}),
    moves={
        (O.AWAITING_APPROVAL, O.CONFIRMED): frozenset({Role.APPROVER}),
        (O.CONFIRMED, O.CANCELLED): frozenset({Role.ADMIN, SYSTEM}),
    },
    stamps={O.CONFIRMED: "confirmed_at", O.CANCELLED: "cancelled_at"},
)


@dataclass
class Stamped(Thing):
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None


def test_a_new_object_starts_only_in_an_initial_state_stamped_when_the_state_says_so():
    waiting, confirmed = Stamped(None), Stamped(None)
    before = utcnow()
    begin(DEMO_LIFE, waiting, O.AWAITING_APPROVAL)
    begin(DEMO_LIFE, confirmed, O.CONFIRMED)
    assert (waiting.state, waiting.confirmed_at) == (O.AWAITING_APPROVAL, None)
    assert confirmed.state == O.CONFIRMED
    assert before <= confirmed.confirmed_at <= utcnow()
    with pytest.raises(InvalidTransition) as refused:
        begin(DEMO_LIFE, Stamped(None), O.CANCELLED)
    assert refused.value.message == "A new order cannot start cancelled."


def test_a_move_stamps_its_time_tells_the_receivers_and_refuses_others_politely(app, unscoped):
    heard = []

    def receiver(obj, **kwargs):
        heard.append((obj, kwargs))

    thing, approver = Stamped(O.AWAITING_APPROVAL), Someone(Role.APPROVER)
    with unscoped(), DEMO_LIFE.changed.connected_to(receiver):
        with pytest.raises(NotAllowed) as refused:
            transition(DEMO_LIFE, thing, O.CONFIRMED, Someone(Role.BUYER))
        before = utcnow()
        transition(DEMO_LIFE, thing, O.CONFIRMED, approver, "Within budget")
        db.session.rollback()
    assert refused.value.message == "You do not have permission to do that."
    assert before <= thing.confirmed_at <= utcnow()
    assert thing.cancelled_at is None
    assert heard == [
        (
            thing,
            {
                "before": O.AWAITING_APPROVAL,
                "to": O.CONFIRMED,
                "actor": approver,
                "reason": "Within budget",
            },
        )
    ]
