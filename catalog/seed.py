"""Demo servlets, catalogs and recommendations for each demo vendor, made through the services
(so the audit trail and the search index are real). Skips a vendor that has servlets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from accounts.models import Membership, Organization
from accounts.seed import first_member
from catalog import catalogs, recommendations, servlets
from catalog.content import ServletContent
from catalog.models import (
    BillingPolicy,
    DeliveryMode,
    LifecycleStage,
    Servlet,
    ServletKind,
)
from core.db import utcnow
from core.demo import Login, seeder
from core.extensions import db
from core.money import Money
from core.permissions import OrgKind, Role

K, S, M, B = ServletKind, LifecycleStage, DeliveryMode, BillingPolicy

# title, kind, stage, mode, days, hours, price, billing, outcome, deliverables
SERVLETS = [
    ("{p} Health Check", K.HEALTH_CHECK, S.ADOPTION, M.REMOTE, 5, 24, 5000, B.PREPAID,
     "A scored review of how well {p} serves your teams, with the root causes of friction "
     "and a prioritised fix list.",
     ["Configuration review", "Usage analysis", "Health score and findings report",
      "Read-out session with your sponsor"]),
    ("Executive Health Check and Roadmap", K.HEALTH_CHECK, S.RENEWAL, M.ON_SITE, 8, 48, 12000,
     B.MILESTONES,
     "A board-ready view of the value {p} delivers and a 12-month roadmap to raise it.",
     ["Stakeholder interviews", "Value assessment", "12-month roadmap", "Executive read-out"]),
    ("Security and Permissions Review", K.HEALTH_CHECK, S.RENEWAL, M.REMOTE, 4, 20, 4500,
     B.PREPAID,
     "Roles and permissions that follow least privilege, with every exception documented.",
     ["Permission matrix", "Risk findings", "Remediation plan"]),
    ("SSO Deployment", K.DEPLOYMENT, S.ONBOARDING, M.REMOTE, 5, 20, 6500, B.ON_ACCEPTANCE,
     "Your people sign in to {p} with your identity provider, and leavers lose access "
     "the day they leave.",
     ["SAML/OIDC configuration", "Group-to-role mapping", "Tested sign-in for pilot users",
      "Runbook for your IT team"]),
    ("{p} Quick-Start Deployment", K.DEPLOYMENT, S.ONBOARDING, M.REMOTE, 10, 60, 15000,
     B.MILESTONES,
     "A production {p} tenant configured for your first team, live in two weeks.",
     ["Tenant configuration", "Data import of one source", "Pilot team go-live",
      "Handover session"]),
    ("Data Migration Sprint", K.DEPLOYMENT, S.ONBOARDING, M.REMOTE, 15, 90, 22000, B.MILESTONES,
     "Your historical records moved into {p}, reconciled and signed off.",
     ["Migration mapping", "Trial load and reconciliation", "Production load",
      "Reconciliation report"]),
    ("Integration Starter: Two Connectors", K.DEPLOYMENT, S.EXPANSION, M.REMOTE, 10, 50, 14000,
     B.ON_ACCEPTANCE,
     "Two of your systems exchange data with {p} automatically, with monitoring.",
     ["Connector design", "Two configured connectors", "Error alerting", "Operations guide"]),
    ("Admin Onboarding Bootcamp", K.ONBOARDING, S.ONBOARDING, M.CLASSROOM, 2, 16, 3500,
     B.PREPAID,
     "Your administrators run {p} day to day without opening a support ticket.",
     ["Two-day bootcamp", "Admin playbook", "Certification quiz"]),
    ("End-User Onboarding (Web)", K.ONBOARDING, S.ONBOARDING, M.WEB, 10, 12, 2500, B.PREPAID,
     "Every new user completes a guided, self-paced path and is productive in week one.",
     ["Tailored learning path", "Completion dashboard", "Week-one survey"]),
    ("Team Lead Onboarding Workshop", K.ONBOARDING, S.ADOPTION, M.ON_SITE, 1, 10, 3000,
     B.ON_ACCEPTANCE,
     "Team leads coach their teams with {p}'s reports instead of spreadsheets.",
     ["Half-day workshop", "Team dashboard templates", "Coaching checklist"]),
    ("Adoption Accelerator", K.ADOPTION, S.ADOPTION, M.REMOTE, 20, 60, 18000, B.MILESTONES,
     "Weekly active use up by a measured target within one quarter.",
     ["Adoption baseline", "Four targeted campaigns", "Champion network kick-off",
      "Adoption results report"]),
    ("Workflow Optimisation Sprint", K.ADOPTION, S.ADOPTION, M.REMOTE, 10, 40, 9500,
     B.ON_ACCEPTANCE,
     "Your three slowest workflows in {p} redesigned and measurably faster.",
     ["Workflow timing baseline", "Three redesigned workflows", "Before/after report"]),
    ("Dashboard and Reporting Tune-Up", K.ADOPTION, S.RENEWAL, M.REMOTE, 5, 24, 4800,
     B.PREPAID,
     "Leaders trust one set of {p} dashboards, and unused reports are retired.",
     ["Report inventory", "Five rebuilt dashboards", "Retirement list"]),
    ("Automation Rules Clinic", K.ADOPTION, S.EXPANSION, M.WEB, 3, 12, 2900, B.PREPAID,
     "Repetitive manual steps replaced by automation rules your admins own.",
     ["Automation candidates list", "Five live rules", "Rule maintenance guide"]),
    ("Power User Training", K.TRAINING, S.ADOPTION, M.CLASSROOM, 2, 14, 4200, B.PREPAID,
     "A cohort of power users who build their own reports and help their colleagues.",
     ["Two-day course", "Exercises and solutions", "Certificates"]),
    ("Train-the-Trainer Programme", K.TRAINING, S.EXPANSION, M.ON_SITE, 3, 24, 7500,
     B.ON_ACCEPTANCE,
     "Your internal trainers deliver {p} training themselves, with our material.",
     ["Trainer course", "Licensed training material", "Co-delivered first session"]),
    ("API Developer Workshop", K.TRAINING, S.EXPANSION, M.REMOTE, 2, 12, 3900, B.PREPAID,
     "Your developers ship their first integration against the {p} API.",
     ["Workshop", "Sample integration repository", "Office-hours follow-up"]),
    ("New Module Rollout", K.EXPANSION, S.EXPANSION, M.REMOTE, 15, 80, 19500, B.MILESTONES,
     "A second {p} module live for one business unit, with its success measures agreed.",
     ["Module configuration", "Business-unit training", "Go-live support week",
      "Success measures sign-off"]),
    ("Additional Region Deployment", K.EXPANSION, S.EXPANSION, M.ON_SITE, 12, 70, 17000,
     B.MILESTONES,
     "{p} live in another region, with local settings and data residency in place.",
     ["Regional configuration", "Local admin training", "Cut-over plan", "Go-live"]),
    ("Renewal Value Review", K.HEALTH_CHECK, S.RENEWAL, M.REMOTE, 3, 10, 1900, B.PREPAID,
     "The value your organisation gets from {p}, measured and ready for your renewal decision.",
     ["Usage and outcome analysis", "Value summary for your executives"]),
]  # fmt: skip

PRODUCT = {"Northwind Analytics": "Analytics", "Helios CRM": "CRM"}


def _content(spec: tuple, product: str, currency: str) -> ServletContent:
    title, kind, stage, mode, days, hours, price, billing, outcome, deliverables = spec
    return ServletContent(
        title=title.format(p=product),
        kind=kind,
        stage=stage,
        outcome=outcome.format(p=product),
        delivery_mode=mode,
        duration_days=days,
        effort_hours=hours,
        price=Money(price * 100, currency),
        delivery_cost=Money(hours * 9500, currency),
        billing_policy=billing,
        start_within_days=5 if days < 10 else 10,
        deliver_within_days=days,
        csat_target=Decimal("4.5"),
        summary=f"A fixed-price, fixed-scope {kind.label.lower()} servlet for {product} "
        f"customers, delivered {mode.label.lower()} in {days} business days.",
        description=(
            f"## How it works\n\n1. **Kick-off** with your project lead.\n"
            f"2. **Delivery** by a certified {product} consultant.\n"
            f"3. **Acceptance**: you review the deliverables and sign off.\n\n"
            f"Questions? See [our services page](https://example.com/services)."
        ),
        prerequisites=[
            f"An administrator account in {product}",
            "A named project lead who can attend the kick-off",
        ],
        in_scope=[f"Work on one {product} production tenant", "Up to two review rounds"],
        out_of_scope=["Custom code development", "Changes to third-party systems"],
        deliverables=[{"title": item, "description": ""} for item in deliverables],
        constraints=["Delivered in business hours (09:00 to 17:00 your time)"],
        required_skills=[f"{product} administration", kind.label],
        intake_questions=[
            {"label": "Preferred start date", "type": "date", "required": True, "choices": []},
            {
                "label": "Number of users in scope",
                "type": "number",
                "required": False,
                "choices": [],
            },
        ],
    )


@seeder
def seed_catalog(logins: list[Login]) -> None:
    for vendor_name, product in PRODUCT.items():
        vendor = db.session.scalar(select(Organization).where(Organization.name == vendor_name))
        if vendor is None:
            continue
        if db.session.scalar(select(Servlet.id).where(Servlet.vendor_id == vendor.id)):
            continue
        admin = first_member(vendor.id, Role.ADMIN)
        if admin is not None:
            _seed_vendor(admin, vendor, product)


def _seed_vendor(admin: Membership, vendor: Organization, product: str) -> None:
    contents = [_content(spec, product, vendor.currency) for spec in SERVLETS]
    made = [servlets.create_servlet(admin, content) for content in contents]
    list_prices = {
        servlet.id: content.price for servlet, content in zip(made, contents, strict=True)
    }
    drafts = {len(made) - 1, len(made) - 2}  # two never published
    for index, servlet in enumerate(made):
        if index not in drafts:
            servlets.publish_servlet(admin, servlet)
    # History: the health check is on version 2, and has version 3 in draft.
    first, content = made[0], contents[0]
    servlets.save_draft(admin, first, content.copy(price=Money(5500 * 100, vendor.currency)))
    servlets.publish_servlet(admin, first)
    servlets.save_draft(admin, first, content.copy(duration_days=4))
    servlets.retire_servlet(admin, made[2])

    customers = list(
        db.session.scalars(
            select(Organization)
            .where(Organization.vendor_id == vendor.id, Organization.kind == OrgKind.CUSTOMER)
            .order_by(Organization.id)
        )
    )
    live = [s for i, s in enumerate(made) if i not in drafts and i != 2]
    enterprise = catalogs.create_catalog(admin, "Enterprise", "Every servlet, list prices.")
    smb = catalogs.create_catalog(admin, "SMB", "Remote and web servlets at SMB prices.")
    partner_led = catalogs.create_catalog(admin, "Partner-led", "Delivered by our partners.")
    for servlet in live:
        catalogs.add_item(admin, enterprise, servlet.id)
    for servlet in live[::2]:
        item = catalogs.add_item(admin, smb, servlet.id)
        price = list_prices[servlet.id]
        discounted = Money(price.amount * 8 // 10, price.currency)
        catalogs.set_price_override(admin, smb, item.id, discounted)
    for servlet in live[3:7]:
        catalogs.add_item(admin, partner_led, servlet.id)
    catalogs.assign_customers(admin, enterprise, {c.id for c in customers[:2]})
    catalogs.assign_customers(admin, smb, {c.id for c in customers[2:]})
    catalogs.publish_catalog(admin, enterprise)
    catalogs.publish_catalog(admin, smb)
    if customers:
        _seed_recommendations(vendor, customers[0], live)


def _seed_recommendations(vendor: Organization, customer: Organization, live: list) -> None:
    csm = first_member(vendor.id, Role.CSM)
    buyer = first_member(customer.id, Role.BUYER)
    if csm is None or buyer is None:
        return
    reasons = [
        "Licence use sits at 62% of what you bought: this lifts adoption in a quarter.",
        "Three new admins joined last month; this gets them productive fast.",
        "Your renewal is in four months; let's measure the value you get first.",
        "Support tickets about reports doubled this quarter.",
        "Usage dropped 20% since the re-organisation.",
        "You asked about automating approvals in the last QBR.",
    ]
    made = [
        recommendations.recommend(csm, servlet.id, customer.id, reason)
        for servlet, reason in zip(live[:6], reasons, strict=False)
    ]
    if len(made) < 6:
        return
    recommendations.mark_viewed(buyer, made[1])
    recommendations.mark_ordered(buyer, made[2])
    recommendations.decline(buyer, made[3], "We have no budget left this quarter.")
    made[4].created_at = utcnow() - timedelta(days=40)  # sent, then left unanswered
    made[4].expires_at = utcnow() - timedelta(days=10)
    db.session.commit()
    recommendations.expire_due()
