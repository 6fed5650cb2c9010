"""Demo data of success plans and value reports, for the lead's seed: this quarter's plan of
the first customer with three goals (one served by a servlet), and last quarter's value
report asked for (its PDF is rendered when the seed drains the queued jobs). Written
through the services, as a CSM would, so audit and queue are the product's own."""

from __future__ import annotations

from datetime import date

from accounts.models import Membership, Organization
from core.extensions import db
from core.tenancy import tenant_scope
from success import plans, report_documents, value_report

SUMMARY = (
    "Get every regional team onto the platform before the summer peak, with single sign-on "
    "and fewer tickets reaching the support desk."
)
GOALS = (
    ("Roll out single sign-on", "Teams signed in through SSO", "teams", 2, 12, 7),
    ("Grow weekly active users", "Weekly active users", "users", 180, 400, 265),
    ("Cut support tickets", "Tickets opened a month", "tickets", 60, 25, 41),
)


def demo(
    vendor_id: int, user_id: int, customer_ids: list[int], servlet_ids: list[int], today: date
) -> None:
    """``user_id`` acts: the vendor's admin or the first customer's owning CSM."""
    if not customer_ids:
        return
    with tenant_scope(vendor_id):
        actor = db.session.scalar(
            db.select(Membership).where(
                Membership.user_id == user_id, Membership.organization_id == vendor_id
            )
        )
        customer = db.session.get(Organization, customer_ids[0])
        quarter = plans.quarter_start(today)
        plans.start_plan(actor, customer, quarter, SUMMARY)
        plan = plans.plan_of(customer.id, quarter)
        if not plan.goals:
            for index, (title, measure, unit, baseline, target, current) in enumerate(GOALS):
                plans.add_goal(
                    actor,
                    plan,
                    plans.GoalValues(
                        title=title,
                        measure=measure,
                        unit=unit,
                        baseline=baseline,
                        target=target,
                        current=current,
                        servlet_ids=servlet_ids[:1] if index == 0 else (),
                    ),
                )
        customer = db.session.get(Organization, customer_ids[0])
        report_documents.request_report(actor, customer, value_report.last_full_quarter(today))
