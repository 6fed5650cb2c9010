"""Demo delivery, through the services a person would use, so every page has something true
to show: per vendor a consultant and a partner's consultant as resources, the vendor's
holidays, a quarter of delivered and rated work (orders PO-0990 and PO-0991), and
the current orders' engagements in every other state: waiting for allocation and late to
start, allocated to the partner with no consultant named, in progress with time, tasks,
updates, a deliverable and a change order waiting for the customer, delivered and waiting
for the customer's answer (a health check, with its score and findings), and cancelled.

Services stamp the present; the history is then moved back in time (request, start,
delivery and acceptance dates, days worked), which only a seed may do. Skips a vendor that
has resources already.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage

from accounts.models import Membership, Organization
from accounts.seed import first_member, vendors
from catalog.models import ServletKind, ServletVersion
from core.audit import AuditEvent
from core.db import utcnow
from core.demo import Login, seeder
from core.extensions import db
from core.money import Money
from core.permissions import OrgKind, Role
from core.tenancy import tenant_scope
from delivery import (
    acceptance,
    allocation,
    change_orders,
    files,
    moves,
    resources,
    tasks,
    time_entries,
    updates,
)
from delivery.engagements import due_dates
from delivery.holidays import add_holiday
from delivery.models import Assignment, Engagement, Resource, Task, TimeEntry, UpdateVisibility
from ordering.models import Order, OrderLine, OrderState

# Orders the ordering seeder placed 100 and 90 days ago, for this history.
HISTORY_POS = ("PO-0990", "PO-0991")
# A one-page PDF: what a consultant would upload as the report.
REPORT_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# (days after the request it started, business days it took, hours, CSAT, NPS, comment)
HISTORY = (
    (2, 6, "14", 5, 10, "Clear plan, done in a week. The runbook alone was worth it."),
    (3, 9, "18", 4, 8, "Good work; the kickoff slipped a few days."),
    (1, 5, "11", 5, 9, ""),
    (4, 14, "22", 3, 6, "Delivered late: we waited a week for the second workshop."),
    (2, 7, "15", 4, 9, "Useful findings, well explained to our admins."),
    (2, 6, "12", 5, 10, "Exactly what was promised."),
)


# The audit events the engagement's timeline shows, and the stamp each happened at.
STAMPED_EVENTS = {
    "engagement.requested": "requested_at",
    "engagement.scheduled": "scheduled_at",
    "engagement.in_progress": "started_at",
    "engagement.delivered": "delivered_at",
    "engagement.accepted": "accepted_at",
}


@dataclass(frozen=True)
class People:
    manager: Membership
    consultant: Membership
    partner_manager: Membership
    partner_consultant: Membership
    buyer: Membership
    approver: Membership


def _first(vendor: Organization, kind: OrgKind) -> Organization | None:
    return db.session.scalar(
        select(Organization)
        .where(Organization.vendor_id == vendor.id, Organization.kind == kind)
        .order_by(Organization.id)
    )


def _people(vendor: Organization) -> People | None:
    customer, partner = _first(vendor, OrgKind.CUSTOMER), _first(vendor, OrgKind.PARTNER)
    if customer is None or partner is None:
        return None
    found = [
        first_member(vendor.id, Role.DELIVERY_MANAGER),
        first_member(vendor.id, Role.CONSULTANT),
        first_member(partner.id, Role.PARTNER_MANAGER),
        first_member(partner.id, Role.PARTNER_CONSULTANT),
        first_member(customer.id, Role.BUYER),
        first_member(customer.id, Role.APPROVER),
    ]
    return None if None in found else People(*found)  # type: ignore[arg-type]


def _engagements(vendor_id: int, po_number: str | None) -> list[Engagement]:
    """The engagements of the vendor's order ``po_number`` (``None``: the one without)."""
    po = Order.po_number == po_number if po_number else Order.po_number == ""
    return list(
        db.session.scalars(
            select(Engagement)
            .join(OrderLine, OrderLine.id == Engagement.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Engagement.vendor_id == vendor_id, po, Order.state != OrderState.CANCELLED)
            .order_by(Engagement.id)
        )
    )


@seeder
def seed_delivery(logins: list[Login]) -> None:
    for vendor in vendors():
        if db.session.scalar(select(Resource.id).where(Resource.vendor_id == vendor.id)):
            continue
        people = _people(vendor)
        if people is not None:
            with tenant_scope(vendor.id):  # as the vendor's people, who see only their own
                _seed_vendor(vendor, people)


def _seed_vendor(vendor: Organization, p: People) -> None:
    today = utcnow().date()
    for day, name in (
        (date(today.year, 12, 25), "Christmas Day"),
        (date(today.year, 12, 26), "Boxing Day"),
        (date(today.year + 1, 1, 1), "New Year's Day"),
    ):
        add_holiday(p.manager, day, name)
    skills = _skills(vendor.id)
    ours = resources.create_resource(
        p.manager,
        p.consultant.id,
        resources.ResourceValues(
            ", ".join(s for s in skills if s != "Expansion"),
            40,
            cost_rate=Money.parse("95", vendor.currency),
        ),
    )
    theirs = resources.create_resource(
        p.manager,
        p.partner_consultant.id,
        resources.ResourceValues(
            ", ".join(s for s in skills if s != "Deployment"),
            32,
            fee=Money.parse("1200", vendor.currency),
        ),
    )
    _history(vendor, p, ours, theirs, today)
    _current(vendor, p, ours, theirs, today)


def _skills(vendor_id: int) -> list[str]:
    """Every skill the vendor's servlets ask for."""
    asked = db.session.scalars(
        select(ServletVersion.required_skills).where(ServletVersion.vendor_id == vendor_id)
    )
    return sorted({skill for skills in asked for skill in skills or []})


def _allocate(p: People, engagement: Engagement, resource: Resource, named: bool = True) -> None:
    """To our consultant directly, or to the partner, whose manager names theirs (unless
    not ``named`` yet)."""
    window = allocation.default_window(engagement, utcnow().date())
    partner_id = resource.partner_id
    assignment = allocation.allocate(
        p.manager,
        engagement,
        allocation.Allocation(
            window.first,
            window.last,
            Decimal(_version(engagement).effort_hours),
            resource_id=None if partner_id else resource.id,
            partner_id=partner_id,
            over_capacity_confirmed=True,
        ),
    )
    if partner_id and named:
        allocation.name_consultant(p.partner_manager, engagement, assignment.id, resource.id)


def _worker(p: People, resource: Resource) -> Membership:
    return p.consultant if resource.partner_id is None else p.partner_consultant


def _history(
    vendor: Organization, p: People, ours: Resource, theirs: Resource, today: date
) -> None:
    """PO-0990's and PO-0991's engagements, delivered, accepted and rated over the last
    quarter (one of them late), but the last: started, then put on hold."""
    history = [e for po in HISTORY_POS for e in _engagements(vendor.id, po)]
    for index, engagement in enumerate(history):
        started_after, took, hours, csat, nps, comment = HISTORY[index % len(HISTORY)]
        resource = ours if index % 2 == 0 else theirs
        worker = _worker(p, resource)
        _allocate(p, engagement, resource)
        moves.start(worker, engagement)
        requested = utcnow() - timedelta(days=88 - 13 * index)
        started = requested + timedelta(days=started_after)
        _work(p, worker, engagement, started.date(), Decimal(hours), today)
        if index == len(history) - 1:
            moves.hold(p.manager, engagement, "The customer asked to wait for their new SSO.")
            _move_back(engagement, requested, started)
            continue
        moves.deliver(worker, engagement, moves.Delivery(**_delivery_of(engagement)))
        acceptance.accept(p.buyer, engagement)
        acceptance.rate(p.buyer, engagement, acceptance.Rating(csat, comment, nps))
        _move_back(engagement, requested, started, started + timedelta(days=took * 7 // 5))


def _version(engagement: Engagement) -> ServletVersion:
    return db.session.get(ServletVersion, engagement.servlet_version_id)


def _ordered_at(engagement: Engagement) -> datetime:
    return db.session.scalar(
        select(Order.created_at)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(OrderLine.id == engagement.order_line_id)
    )


def _task_ids(engagement: Engagement) -> list[int]:
    return list(
        db.session.scalars(
            select(Task.id).where(Task.engagement_id == engagement.id).order_by(Task.position)
        )
    )


def _work(
    p: People, worker: Membership, engagement: Engagement, first: date, hours: Decimal, today: date
) -> None:
    """Three days of approved time from ``first``, ``hours`` in all, and every task done."""
    entry_ids = [
        time_entries.log_time(
            worker,
            engagement,
            time_entries.Hours(
                first + timedelta(days=day),
                (hours / 3).quantize(Decimal("0.25")),
                ("Kickoff and discovery", "Configuration", "Handover and report")[day],
            ),
            today,
        ).id
        for day in range(3)
    ]
    time_entries.decide(p.manager, entry_ids, approve=True)
    for task_id in _task_ids(engagement):
        tasks.tick(worker, engagement, task_id, True)


def _delivery_of(engagement: Engagement) -> dict[str, object]:
    if _version(engagement).kind == ServletKind.HEALTH_CHECK:
        return {
            "note": "Health check done; report attached with the findings.",
            "health_score": 62,
            "findings": "SSO misconfigured for contractors; two unused integrations; "
            "licence use at 71% with a drop in the support team.",
        }
    return {"note": "Done as scoped. The handover notes are in the deliverables."}


def _move_back(
    engagement: Engagement,
    requested: datetime,
    started: datetime | None = None,
    delivered: datetime | None = None,
) -> None:
    """Put an engagement's dates where the story says they were (seed only); a stamp the
    services left empty stays empty."""
    engagement.requested_at = requested
    engagement.start_by, engagement.deliver_by = due_dates(_version(engagement), requested)
    if engagement.scheduled_at is not None:
        engagement.scheduled_at = requested + timedelta(days=1)
    if started is not None:
        engagement.started_at = started
    if delivered is not None:
        engagement.delivered_at = delivered
    if engagement.accepted_at is not None and delivered is not None:
        engagement.accepted_at = delivered + timedelta(days=1)
        engagement.rated_at = delivered + timedelta(days=2)
    for action, stamp in STAMPED_EVENTS.items():  # the timeline reads these
        if (when := getattr(engagement, stamp)) is not None:
            db.session.execute(
                update(AuditEvent)
                .where(
                    AuditEvent.object_type == Engagement.__tablename__,
                    AuditEvent.object_id == engagement.id,
                    AuditEvent.action == action,
                )
                .values(occurred_at=when)
            )
    for assignment in db.session.scalars(
        select(Assignment).where(Assignment.engagement_id == engagement.id)
    ):
        assignment.starts_on = engagement.start_by
        assignment.ends_on = max(engagement.start_by, engagement.deliver_by)
    for entry in db.session.scalars(
        select(TimeEntry).where(TimeEntry.engagement_id == engagement.id)
    ):
        entry.created_at = datetime.combine(entry.day, time(17), tzinfo=UTC)
    db.session.commit()


def _current(
    vendor: Organization, p: People, ours: Resource, theirs: Resource, today: date
) -> None:
    """The open work of the current orders, one engagement per state worth seeing."""
    delivered_po, running_po, approved_po = (
        _engagements(vendor.id, "PO-1001"),
        _engagements(vendor.id, "PO-1002"),
        _engagements(vendor.id, "PO-1003"),
    )
    health_checks = _engagements(vendor.id, None)
    for engagement in delivered_po:  # accepted and rated, the order completed
        _allocate(p, engagement, ours)
        moves.start(p.consultant, engagement)
        ordered = _ordered_at(engagement)
        _work(p, p.consultant, engagement, (ordered + timedelta(days=3)).date(), Decimal(9), today)
        moves.deliver(p.consultant, engagement, moves.Delivery(**_delivery_of(engagement)))
        acceptance.accept(p.buyer, engagement)
        acceptance.rate(p.buyer, engagement, acceptance.Rating(5, "Fast and friendly.", 9))
        _move_back(engagement, ordered, ordered + timedelta(days=3), ordered + timedelta(days=8))
    if running_po:
        _in_progress(p, running_po[0], ours, today)
        ordered = _ordered_at(running_po[0])
        _move_back(running_po[0], ordered, utcnow() - timedelta(days=3))
    if len(running_po) > 1:  # the partner has it; its manager still has to name someone
        _allocate(p, running_po[1], theirs, named=False)
        _move_back(running_po[1], _ordered_at(running_po[1]))
    for engagement in health_checks:  # delivered, waiting for the customer's answer
        _allocate(p, engagement, theirs)
        moves.start(p.partner_consultant, engagement)
        files.upload(
            p.partner_consultant,
            engagement,
            FileStorage(
                io.BytesIO(REPORT_PDF), "health-check-report.pdf", content_type="application/pdf"
            ),
        )
        moves.deliver(p.partner_consultant, engagement, moves.Delivery(**_delivery_of(engagement)))
        ordered = _ordered_at(engagement)
        _move_back(engagement, ordered, ordered + timedelta(days=1))
    for engagement in approved_po[:1]:  # waiting for allocation, and late to start
        _move_back(engagement, utcnow() - timedelta(days=30))


def _in_progress(p: People, engagement: Engagement, ours: Resource, today: date) -> None:
    """Under way: half its tasks done, time logged (some approved), updates, a report, and a
    change order for the customer to decide."""
    _allocate(p, engagement, ours)
    moves.start(p.consultant, engagement)
    yesterday = today - timedelta(days=1)
    approved = [
        time_entries.log_time(
            p.consultant,
            engagement,
            time_entries.Hours(today - timedelta(days=3), Decimal("4"), "Kickoff with the admins"),
            today,
        ).id,
        time_entries.log_time(
            p.consultant,
            engagement,
            time_entries.Hours(today - timedelta(days=2), Decimal("6.5"), "Configuration"),
            today,
        ).id,
    ]
    time_entries.decide(p.manager, approved, approve=True)
    time_entries.log_time(
        p.consultant, engagement, time_entries.Hours(yesterday, Decimal("3"), "Data checks"), today
    )
    task_ids = _task_ids(engagement)
    for task_id in task_ids[: len(task_ids) // 2 or 1]:
        tasks.tick(p.consultant, engagement, task_id, True)
    updates.post_update(
        p.consultant,
        engagement,
        "Kickoff done; configuration is half way. Next: data checks with your admins on Thursday.",
        UpdateVisibility.CUSTOMER,
    )
    updates.post_update(
        p.consultant,
        engagement,
        "Their sandbox is a version behind production; budget an extra hour for the data checks.",
        UpdateVisibility.INTERNAL,
    )
    files.upload(
        p.consultant,
        engagement,
        FileStorage(io.BytesIO(REPORT_PDF), "kickoff-notes.pdf", content_type="application/pdf"),
    )
    change_orders.propose(
        p.manager,
        engagement,
        change_orders.Proposal(
            description="Add the second SSO provider the customer brought in last week.",
            tasks="Configure the second SSO provider\nTest sign-in for contractors",
            extra_days=3,
            extra_hours="6",
            price="1500",
        ),
    )
