"""One object of a tenant for every kind of id a route takes, for the tenancy matrix.

Each entry maps a URL argument name to a builder that returns the id of an object owned by
the given tenant (it runs inside an all-tenants scope). A new route with a new id argument
makes the matrix fail until its builder is added here, so no route escapes the check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from billing.models import Invoice, InvoiceLine
from core.extensions import db
from core.notifications import Notification
from core.permissions import Role
from delivery import change_orders
from delivery.models import Assignment, Engagement, EngagementState, Holiday, Task, TimeOff
from tests.billing import factories as billing_factories
from tests.catalog import factories as catalog_factories
from tests.delivery import factories as delivery_factories
from tests.factories import Tenant
from tests.ordering import factories as ordering_factories


def _catalog_item(tenant: Tenant) -> int:
    servlet_id, catalog_id = catalog_factories.shop(tenant)
    return catalog_factories.item_id(catalog_id, servlet_id)


def _recommendation(tenant: Tenant) -> int:
    servlet_id, _ = catalog_factories.shop(tenant)
    return catalog_factories.recommendation(tenant, servlet_id)


def _notification(tenant: Tenant) -> int:
    """The buyer's "order confirmed" notification."""
    ordering_factories.order(tenant)
    return db.session.scalar(
        select(Notification.id).where(Notification.user_id == tenant.people[Role.BUYER].user_id)
    )


def _engagement(tenant: Tenant) -> int:
    """The tenant's first engagement (one is ordered when it has none): a route that takes an
    engagement and an object of it gets both built on the same engagement."""
    first = db.session.scalar(
        select(Engagement.id)
        .where(Engagement.vendor_id == tenant.vendor_id)
        .order_by(Engagement.id)
    )
    return first if first is not None else delivery_factories.engagement(tenant)


def _task(tenant: Tenant) -> int:
    """The first task of the tenant's first engagement (a route taking both gets a pair)."""
    return db.session.scalar(
        select(Task.id).where(Task.engagement_id == _engagement(tenant)).order_by(Task.id)
    )


def _time_off(tenant: Tenant) -> int:
    made = TimeOff(
        vendor_id=tenant.vendor_id,
        resource_id=delivery_factories.resource(tenant),
        starts_on=date(2030, 1, 7),
        ends_on=date(2030, 1, 11),
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _holiday(tenant: Tenant) -> int:
    made = Holiday(vendor_id=tenant.vendor_id, day=date(2030, 12, 25), name="Christmas Day")
    db.session.add(made)
    db.session.commit()
    return made.id


def _partner_assignment(tenant: Tenant) -> int:
    """An assignment of the tenant's first engagement to its partner, no consultant named."""
    made = Assignment(
        vendor_id=tenant.vendor_id,
        engagement_id=_engagement(tenant),
        partner_id=tenant.partner_id,
        starts_on=date(2030, 1, 7),
        ends_on=date(2030, 1, 18),
        planned_hours=Decimal(16),
        assigned_by_id=tenant.people[Role.DELIVERY_MANAGER].membership_id,
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _change_order(tenant: Tenant) -> int:
    """A change order proposed on a running engagement of the tenant's customer."""
    engagement_id = _engagement(tenant)
    engagement = db.session.get(Engagement, engagement_id)
    engagement.state = EngagementState.IN_PROGRESS
    db.session.commit()
    return change_orders.propose(
        catalog_factories.actor(tenant, Role.DELIVERY_MANAGER),
        engagement,
        change_orders.Proposal(description="Add a second SSO provider.", price="100"),
    ).id


def _invoice(tenant: Tenant) -> int:
    """The tenant's first invoice (one is issued to its customer when it has none): a route
    that takes an invoice and a line of it gets both of the same invoice."""
    first = db.session.scalar(
        select(Invoice.id).where(Invoice.vendor_id == tenant.vendor_id).order_by(Invoice.id)
    )
    return first if first is not None else billing_factories.issued(tenant)


def _invoice_line(tenant: Tenant) -> int:
    return db.session.scalar(
        select(InvoiceLine.id)
        .where(InvoiceLine.invoice_id == _invoice(tenant))
        .order_by(InvoiceLine.id)
    )


def _signal_type(tenant: Tenant) -> int:
    """A signal type of the vendor's own, unused (so it may be deleted)."""
    from success.signal_models import SignalType

    made = SignalType(vendor_id=tenant.vendor_id, key="api_calls", name="API calls")
    db.session.add(made)
    db.session.commit()
    return made.id


def _signal_import(tenant: Tenant) -> int:
    from core.tenancy import tenant_scope
    from success import signals
    from success.signal_models import SignalSource

    with tenant_scope(tenant.vendor_id):
        row = signals.SignalRow(tenant.customer_id, "active_users", date(2025, 1, 6), 12)
        made = signals.store_signals(tenant.vendor_id, [row], SignalSource.CSV, None, "a.csv")
        db.session.commit()
        return made.id


def _follow_up_task(tenant: Tenant) -> int:
    """An open follow-up (a detractor's) on the tenant's first customer."""
    from success.survey_models import FollowUpKind, FollowUpTask

    made = FollowUpTask(
        vendor_id=tenant.vendor_id,
        customer_id=tenant.customer_id,
        kind=FollowUpKind.DETRACTOR,
        source=f"test:{tenant.vendor_id}",
        title="Call the sponsor",
        due_on=date(2030, 1, 7),
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _playbook(tenant: Tenant) -> int:
    """A playbook of the vendor (no health check in 180 days → a health check)."""
    from success.playbook_models import Playbook, PlaybookCondition

    made = Playbook(
        vendor_id=tenant.vendor_id,
        name="No health check",
        condition=PlaybookCondition.NO_SERVLET_KIND,
        servlet_kind="health_check",
        window_days=180,
        servlet_id=catalog_factories.shop(tenant)[0],
        reason_template="{account} had no health check.",
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _suggestion(tenant: Tenant) -> int:
    """An open suggestion of a playbook of the vendor for its first customer."""
    from success.playbook_models import Playbook, Suggestion

    playbook = db.session.get(Playbook, _playbook(tenant))
    made = Suggestion(
        vendor_id=tenant.vendor_id,
        playbook_id=playbook.id,
        customer_id=tenant.customer_id,
        servlet_id=playbook.servlet_id,
        reason="No health check.",
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _success_plan(tenant: Tenant) -> int:
    """The first customer's plan of a quarter, made once, with one goal."""
    from success.plan_models import SuccessGoal, SuccessPlan

    found = db.session.scalar(
        select(SuccessPlan.id).where(SuccessPlan.customer_id == tenant.customer_id)
    )
    if found is not None:
        return found
    plan = SuccessPlan(
        vendor_id=tenant.vendor_id, customer_id=tenant.customer_id, quarter_start=date(2030, 1, 1)
    )
    db.session.add(plan)
    db.session.flush()
    db.session.add(
        SuccessGoal(
            vendor_id=tenant.vendor_id,
            plan_id=plan.id,
            title="Adoption",
            measure="Users",
            baseline=0,
            target=10,
            current=5,
        )
    )
    db.session.commit()
    return plan.id


def _success_goal(tenant: Tenant) -> int:
    from success.plan_models import SuccessGoal

    return db.session.scalar(
        select(SuccessGoal.id).where(SuccessGoal.plan_id == _success_plan(tenant))
    )


def _value_report(tenant: Tenant) -> int:
    """A rendered value report of the first customer (its bytes stand in for a PDF)."""
    from core.db import utcnow
    from success.report_models import ValueReport

    made = ValueReport(
        vendor_id=tenant.vendor_id,
        customer_id=tenant.customer_id,
        period_start=date(2030, 1, 1),
        period_end=date(2030, 3, 31),
        filename="value-report.pdf",
        pdf=b"%PDF-1.7 test",
        rendered_at=utcnow(),
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _webhook_endpoint(tenant: Tenant) -> int:
    """The vendor's first webhook endpoint (one is registered when it has none)."""
    from api.webhook_models import WebhookEndpoint

    first = db.session.scalar(
        select(WebhookEndpoint.id)
        .where(WebhookEndpoint.vendor_id == tenant.vendor_id)
        .order_by(WebhookEndpoint.id)
    )
    if first is not None:
        return first
    made = WebhookEndpoint(
        vendor_id=tenant.vendor_id,
        url="https://hooks.example.com/desk",
        event_types=["order.placed"],
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _webhook_message(tenant: Tenant) -> int:
    """A given-up message of the vendor's first endpoint (so a replay would change it)."""
    from api.webhook_models import MessageStatus, WebhookMessage
    from core.db import utcnow

    made = WebhookMessage(
        vendor_id=tenant.vendor_id,
        endpoint_id=_webhook_endpoint(tenant),
        event_type="order.placed",
        object_key="order:1",
        payload={"type": "order.placed", "timestamp": "2030-01-07T09:00:00Z", "data": {}},
        status=MessageStatus.GIVEN_UP,
        done_at=utcnow(),
    )
    db.session.add(made)
    db.session.commit()
    return made.id


def _api_token(tenant: Tenant) -> int:
    """A personal API token of the tenant's CSM."""
    from tests.api import factories as api_factories

    return api_factories.personal(tenant.people[Role.CSM]).id


ID_BUILDERS: dict[str, Callable[[Tenant], int]] = {
    "membership_id": lambda tenant: tenant.people[Role.CSM].membership_id,
    "organization_id": lambda tenant: tenant.customer_id,
    "servlet_id": lambda tenant: catalog_factories.shop(tenant)[0],
    "catalog_id": lambda tenant: catalog_factories.shop(tenant)[1],
    "item_id": _catalog_item,
    "recommendation_id": _recommendation,
    "cart_line_id": ordering_factories.cart_line,
    "order_id": ordering_factories.order,
    "notification_id": _notification,
    "engagement_id": _engagement,
    "task_id": _task,
    "resource_id": delivery_factories.resource,
    "time_off_id": _time_off,
    "holiday_id": _holiday,
    "assignment_id": _partner_assignment,
    "deliverable_file_id": delivery_factories.deliverable_file,
    "time_entry_id": delivery_factories.time_entry,
    "change_order_id": _change_order,
    "invoice_id": _invoice,
    "invoice_line_id": _invoice_line,
    "payout_id": billing_factories.payout,
    "payment_id": billing_factories.bank_payment,
    "credit_note_id": billing_factories.credit_note,
    # An account is its customer organisation (success.views).
    "account_id": lambda tenant: tenant.customer_id,
    "signal_type_id": _signal_type,
    "signal_import_id": _signal_import,
    "follow_up_task_id": _follow_up_task,
    "playbook_id": _playbook,
    "suggestion_id": _suggestion,
    "success_plan_id": _success_plan,
    "success_goal_id": _success_goal,
    "value_report_id": _value_report,
    "api_token_id": _api_token,
    "webhook_endpoint_id": _webhook_endpoint,
    "webhook_message_id": _webhook_message,
}
