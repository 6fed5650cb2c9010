"""Who may do what with engagements: one answer for services, pages and, later, the API."""

from __future__ import annotations

from accounts.models import Organization
from core.extensions import db
from core.permissions import CUSTOMER_ROLES, Actor, Role
from core.states import StateMachine
from delivery.models import (
    ENGAGEMENT_LIFE,
    ENGAGEMENT_VIEWERS,
    Assignment,
    ChangeOrder,
    ChangeOrderState,
    Engagement,
    EngagementState,
    TimeEntry,
    TimeEntryState,
)
from ordering.checkout import above_threshold
from ordering.models import ORDER_VIEWERS


def sees_vendor_side(actor: Actor) -> bool:
    """Delivery staff see every engagement of the tenant, with its customer."""
    return actor.role in ENGAGEMENT_VIEWERS


# --- resources and allocation ------------------------------------------------------------

RESOURCE_MANAGERS = (Role.DELIVERY_MANAGER, Role.ADMIN)
ALLOCATORS = (Role.DELIVERY_MANAGER,)
# An engagement takes assignments until it is delivered: the first one schedules it.
ALLOCATABLE = (
    EngagementState.REQUESTED,
    EngagementState.SCHEDULED,
    EngagementState.IN_PROGRESS,
    EngagementState.ON_HOLD,
)


def manages_resources(actor: Actor) -> bool:
    """Delivery managers and admins keep the resources, their time off and the holidays."""
    return actor.role in RESOURCE_MANAGERS


def allocates(actor: Actor) -> bool:
    return actor.role in ALLOCATORS


def may_allocate(actor: Actor, engagement: Engagement) -> bool:
    return allocates(actor) and engagement.state in ALLOCATABLE


def names_consultant_for(actor: Actor, assignment: Assignment) -> bool:
    """A partner manager names a consultant for the assignments of their own partner."""
    return actor.role is Role.PARTNER_MANAGER and assignment.partner_id == actor.organization_id


def may_name_consultant(actor: Actor, engagement: Engagement, assignment: Assignment) -> bool:
    return (
        names_consultant_for(actor, assignment)
        and assignment.resource_id is None
        and engagement.state in ALLOCATABLE
    )


def sees_partner_fees(actor: Actor) -> bool:
    """What a partner is paid is the vendor's business: its delivery staff see it."""
    return sees_vendor_side(actor)


def sees_planned_hours(actor: Actor) -> bool:
    """Those who plan or deliver the work see its hours; the customer sees who delivers."""
    return actor.role not in CUSTOMER_ROLES


# --- the engagement workspace: moves, tasks, updates, files, time -----------------------

_E = EngagementState
WORKERS = (Role.CONSULTANT, Role.PARTNER_CONSULTANT)
DELIVERERS = (*WORKERS, Role.DELIVERY_MANAGER)
STOPPERS = (Role.DELIVERY_MANAGER, Role.ADMIN)
# Work happens once an engagement is scheduled and until it is delivered (rework reopens it).
WORK_STATES = (_E.SCHEDULED, _E.IN_PROGRESS)
# Time may be logged while the work lasts, and also while it is on hold or waits for the
# customer's acceptance (yesterday's hours are often logged today); never before it is
# scheduled, nor once it is accepted or cancelled, when its cost is settled.
TIME_STATES = (_E.SCHEDULED, _E.IN_PROGRESS, _E.DELIVERED, _E.ON_HOLD)


def works_on(actor: Actor, engagement: Engagement) -> bool:
    """``actor`` is a consultant or partner consultant assigned to ``engagement`` (its
    assignments must be loaded with their resources)."""
    return actor.role in WORKERS and any(
        a.resource is not None and a.resource.membership_id == actor.id
        for a in engagement.assignments
    )


def runs_delivery(actor: Actor) -> bool:
    return actor.role is Role.DELIVERY_MANAGER


def may_work(actor: Actor, engagement: Engagement) -> bool:
    """Whoever works on it, or the delivery manager, ticks tasks, posts updates, uploads."""
    return runs_delivery(actor) or works_on(actor, engagement)


def may_move(actor: Actor, engagement: Engagement, to: EngagementState) -> bool:
    """The state table allows ``actor``'s role the move now, and a consultant works on it."""
    if actor.role in WORKERS and not works_on(actor, engagement):
        return False
    return ENGAGEMENT_LIFE.can(actor, engagement.state, to)


def resume_state(engagement: Engagement) -> EngagementState:
    """Where a held engagement resumes: in progress if work had started, else scheduled."""
    return _E.IN_PROGRESS if engagement.started_at is not None else _E.SCHEDULED


def may_start(actor: Actor, engagement: Engagement) -> bool:
    return engagement.state is _E.SCHEDULED and may_move(actor, engagement, _E.IN_PROGRESS)


def may_deliver(actor: Actor, engagement: Engagement) -> bool:
    return may_move(actor, engagement, _E.DELIVERED)


def may_hold(actor: Actor, engagement: Engagement) -> bool:
    return may_move(actor, engagement, _E.ON_HOLD)


def may_resume(actor: Actor, engagement: Engagement) -> bool:
    return engagement.state is _E.ON_HOLD and may_move(actor, engagement, resume_state(engagement))


def may_cancel(actor: Actor, engagement: Engagement) -> bool:
    return may_move(actor, engagement, _E.CANCELLED)


def may_tick(actor: Actor, engagement: Engagement) -> bool:
    return engagement.state in WORK_STATES and may_work(actor, engagement)


def may_upload(actor: Actor, engagement: Engagement) -> bool:
    return engagement.state in WORK_STATES and may_work(actor, engagement)


def may_post_update(actor: Actor, engagement: Engagement) -> bool:
    return engagement.state is not _E.CANCELLED and may_work(actor, engagement)


def sees_internal(actor: Actor) -> bool:
    """Internal updates are the vendor's and its partners'; never the customer's."""
    return actor.role not in CUSTOMER_ROLES


def sees_time(actor: Actor, engagement: Engagement) -> bool:
    """Time against the estimate: delivery staff and those who work on it."""
    return actor.role in ENGAGEMENT_VIEWERS or works_on(actor, engagement)


def sees_costs(actor: Actor) -> bool:
    """Internal cost of approved time: the vendor's delivery staff only."""
    return actor.role in ENGAGEMENT_VIEWERS


def may_log_time(actor: Actor, engagement: Engagement) -> bool:
    return engagement.state in TIME_STATES and works_on(actor, engagement)


def owns_entry(actor: Actor, entry: TimeEntry) -> bool:
    """Its author may still change a submitted entry (its resource must be loaded)."""
    return entry.state is TimeEntryState.SUBMITTED and entry.resource.membership_id == actor.id


def approves_time(actor: Actor) -> bool:
    return actor.role is Role.DELIVERY_MANAGER


# --- the customer's decision on a delivery, its rating, change orders --------------------

CUSTOMER_DECIDERS = (Role.BUYER, Role.APPROVER)
CHANGE_PROPOSERS = (Role.DELIVERY_MANAGER,)
# Scope changes while the work is planned or under way: not before it is scheduled (the
# order itself still describes it), nor once delivered (ask for rework first) or closed.
CHANGEABLE = (EngagementState.SCHEDULED, EngagementState.IN_PROGRESS, EngagementState.ON_HOLD)

_CO = ChangeOrderState
# The customer's buyer or approver decides a proposed change (above the customer's approval
# threshold, an approver: see ``may_approve_change_order``); the delivery manager withdraws it.
CHANGE_ORDER_LIFE = StateMachine(
    "change_order",
    ChangeOrderState,
    initial=frozenset({_CO.PROPOSED}),
    moves={
        (_CO.PROPOSED, _CO.APPROVED): frozenset(CUSTOMER_DECIDERS),
        (_CO.PROPOSED, _CO.DECLINED): frozenset(CUSTOMER_DECIDERS),
        (_CO.PROPOSED, _CO.WITHDRAWN): frozenset(CHANGE_PROPOSERS),
    },
    stamps={_CO.APPROVED: "decided_at", _CO.DECLINED: "decided_at", _CO.WITHDRAWN: "decided_at"},
)


def decides_delivery_for(actor: Actor, engagement: Engagement) -> bool:
    """A buyer or approver of the engagement's own customer; a viewer only reads."""
    return actor.role in CUSTOMER_DECIDERS and engagement.customer_id == actor.organization_id


def may_decide_delivery(actor: Actor, engagement: Engagement) -> bool:
    """Accept, or ask for rework: the customer's answer to a delivery."""
    return decides_delivery_for(actor, engagement) and engagement.state is EngagementState.DELIVERED


def may_rate(actor: Actor, engagement: Engagement) -> bool:
    """One rating per engagement, after acceptance, by a buyer or approver of the customer."""
    return (
        decides_delivery_for(actor, engagement)
        and engagement.state is EngagementState.ACCEPTED
        and engagement.rated_at is None
    )


def sees_change_orders(actor: Actor) -> bool:
    """Delivery staff and the customer's people (their own engagements' only)."""
    return actor.role in ENGAGEMENT_VIEWERS or actor.role in CUSTOMER_ROLES


def proposes_change_orders(actor: Actor) -> bool:
    return actor.role in CHANGE_PROPOSERS


def may_propose_change_order(actor: Actor, engagement: Engagement) -> bool:
    return proposes_change_orders(actor) and engagement.state in CHANGEABLE


def may_withdraw_change_order(actor: Actor, change_order: ChangeOrder) -> bool:
    return proposes_change_orders(actor) and change_order.state is ChangeOrderState.PROPOSED


def approver_decides(engagement: Engagement, change_order: ChangeOrder) -> bool:
    """The price difference is above the customer's approval threshold: only an approver may
    approve it (a buyer may still decline)."""
    customer = db.session.get(Organization, engagement.customer_id)
    vendor = db.session.get(Organization, engagement.vendor_id)
    return above_threshold(customer, change_order.price, vendor.currency)


def may_decide_change_order(
    actor: Actor, engagement: Engagement, change_order: ChangeOrder
) -> bool:
    """Decline (and, within the threshold, approve) a proposed change of one's own customer."""
    return (
        decides_delivery_for(actor, engagement) and change_order.state is ChangeOrderState.PROPOSED
    )


def may_approve_change_order(
    actor: Actor, engagement: Engagement, change_order: ChangeOrder
) -> bool:
    return may_decide_change_order(actor, engagement, change_order) and (
        actor.role is Role.APPROVER or not approver_decides(engagement, change_order)
    )


def sees_orders(actor: Actor) -> bool:
    """Whether the engagement's order may be opened (consultants and partners deliver the
    work, not the deal: for them the order reference is text, not a link that would 404)."""
    return actor.role in (*ORDER_VIEWERS, *CUSTOMER_ROLES)
