"""Every page without an object id (lists, searches, exports, feeds, dashboards), for everyone
who must not see tenant A's first customer: nothing of that customer shows, and nothing fails.

Tenant A's first customer gets objects with unmistakable names; then every role of vendor B,
every customer role of A's other customer and every partner role of A's partner (which has no
engagement) opens each page, with a few query strings where the page filters or searches.
The pages come from the app's URL map, so a new list or export is covered the day it is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import product

from flask import Flask
from sqlalchemy import select
from werkzeug.routing import AnyConverter, Rule

from accounts.models import Organization, User
from billing import invoices
from billing.models import Payout, PayoutLine, PayoutState
from core import audit
from core.app import create_app
from core.db import utcnow
from core.extensions import db
from core.mail import send_mail
from core.money import Money
from core.permissions import PARTNER_ROLES, OrgKind, Role
from delivery.models import Assignment, Engagement
from ordering import entitlements
from ordering.models import Order, OrderLine
from success import accounts as success_accounts
from success.health_models import AccountHealth, Band
from success.plan_models import SuccessPlan
from success.playbook_models import Playbook, PlaybookCondition, Suggestion
from success.signal_models import SignalImport, SignalSource
from success.survey_models import FollowUpKind, FollowUpTask, NpsInvite
from tests.billing import factories as billing_factories
from tests.catalog import factories as catalog_factories
from tests.conftest import TEST_CONFIG, sign_in
from tests.factories import Person, Tenant, organization
from tests.ordering import factories as ordering_factories

# Pages without an object that show nobody's data, or that a signed-in person has no use for.
# Static files and the password and invitation token pages take a path or a token, so the
# URL map below already leaves them out, as it does POST-only routes (signing out).
NOT_LISTS = {"core.ping", "core.healthz", "accounts.sign_in", "accounts.forgot_password"}


def list_urls() -> list[tuple[str, str]]:
    """(endpoint, path) of every GET page that takes no object: a rule without arguments, or
    whose only arguments are a fixed choice (``export.<any(csv, json):fmt>``), once per choice."""
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_LISTS:
            continue
        choices = _choices(rule)
        if choices is None:
            continue
        with app.test_request_context():
            for values in choices:
                urls.append((rule.endpoint, rule.build(values, append_unknown=False)[1]))
    return sorted(urls, key=lambda url: url[1])


def _choices(rule: Rule) -> list[dict[str, str]] | None:
    """Every set of values of the rule's arguments when each is a fixed choice, else None."""
    fixed = {}
    for name, converter in rule._converters.items():
        if not isinstance(converter, AnyConverter):
            return None
        fixed[name] = converter.items
    return [dict(zip(fixed, values, strict=True)) for values in product(*fixed.values())]


URLS = list_urls()

# Filters and searches worth trying on top of the bare page, per endpoint; ``{customer}``,
# ``{servlet}``, ``{catalog}`` and ``{order}`` are tenant A's ids (probes across the fence).
# A search word must not be a whole marker: pages echo what was searched for.
QUERIES: dict[str, list[str]] = {
    "accounts.people": ["organization={customer}"],
    "accounts.organizations": ["kind=customer"],
    "accounts.audit_log": ["format=csv", "actor=wombat", "action=order", "object_type=order"],
    "catalog.browse": ["q=numbat", "catalog={catalog}", "q=numbat&sort=relevance"],
    "catalog.servlets": ["q=numbat", "status=published"],
    "catalog.recommendations": ["who=all", "state=proposed"],
    "catalog.new_recommendation": ["servlet={servlet}&customer={customer}"],
    "ordering.orders": ["customer={customer}", "servlet={servlet}", "state=confirmed"],
    "ordering.export_orders": ["customer={customer}", "servlet={servlet}", "state=confirmed"],
    "ordering.entitlements_page": ["customer={customer}"],
    "delivery.engagements": ["state=requested"],
    "delivery.export_engagements": ["state=requested"],
    "core.outbox": ["page=1"],
    "billing.invoices": ["customer={customer}", "state=issued", "state=draft", "number=INV"],
    "billing.export_invoices": ["customer={customer}", "state=overdue", "number=INV"],
    "billing.credit_notes": ["customer={customer}"],
    "billing.export_credit_notes": ["customer={customer}"],
    "billing.payouts": ["partner={partner}", "state=approved", "from=2026-01-01&to=2026-01-31"],
    "billing.export_payouts": ["partner={partner}", "state=approved", "from=2026-01-01"],
    "billing.revenue_report": ["period=custom&start=2020-01-01&end=2022-12-31", "period=year"],
    "billing.export_revenue": ["period=last_year", "period=custom&start=2026-01-01&end=2026-12-31"],
    "billing.margin_report": ["period=year", "period=custom&start=2025-01-01&end=2027-12-31"],
    "billing.export_margins": ["period=year", "period=quarter"],
    "success.accounts": ["who=all", "who=mine", "segment=Wallaroo", "stage=adoption", "q=quokk"],
    "success.export_accounts": ["who=all", "segment=Wallaroo", "q=quokk", "renewing=90"],
    "success.early_warning": ["who=all", "who=all&show=all", "band=red&who=all"],
    "success.export_early_warning": ["who=all&show=all"],
    "success.follow_ups": ["who=all", "who=unassigned"],
    "success.renewals": ["who=all"],
    "success.export_renewals": ["who=all"],
}


@dataclass(frozen=True)
class Planted:
    """The ids of what tenant A's first customer holds, and the texts no outsider may read."""

    ids: dict[str, int]
    markers: list[str]


def plant(tenant: Tenant) -> Planted:
    """Objects of every kind the pages list, in tenant A's first customer, each named with a
    marker; runs inside ``unscoped()``."""
    customer = db.session.get(Organization, tenant.customer_id)
    customer.name = "Quokka Holdings Ltd"
    buyer = db.session.get(User, tenant.people[Role.BUYER].user_id)
    buyer.name = "Wombat Plantedperson"
    buyer.email = "wombat.plantedperson@quokka-holdings.example"
    db.session.commit()
    servlet_id = catalog_factories.servlet(
        tenant, title="Numbat Servlet Review", intake_questions=ordering_factories.ALL_QUESTIONS
    )
    catalog_id = catalog_factories.catalog(tenant, [servlet_id], name="Bilby Catalog Gold")
    catalog_factories.recommendation(tenant, servlet_id, reason="Dingo reason: renewal at risk")
    line_id = ordering_factories.cart_line(tenant, servlet_id)
    answers = {**ordering_factories.GOOD_ANSWERS, 0: "Echidna intake answer"}
    order_id = ordering_factories.place(
        tenant, answers={line_id: answers}, po_number="PO-PLATYPUS-4711"
    )
    engagement = db.session.scalar(
        select(Engagement).join(Engagement.order_line).where(OrderLine.order_id == order_id)
    )
    _grant(tenant, servlet_id, "Kookaburra entitlement note")
    audit.record(
        "planted.event",
        vendor_id=tenant.vendor_id,
        object_type="organization",
        object_id=tenant.customer_id,
        changes={"remark": "Wallaby audit remark"},
    )
    _invoice(tenant, "PO-QUOLL-INVOICE-77")
    billing_factories.credit_note(tenant, "Potoroo credit note reason")
    partner_id = _payout(tenant, engagement, "Bettong Partners Pty")
    _account(tenant, "Wallaroo Segment")
    _success_workspace(tenant, servlet_id)
    send_mail(buyer.email, "Cassowary mail subject", "Cassowary body", vendor_id=tenant.vendor_id)
    send_mail(buyer.email, "Emu reset link", "Emu body without a tenant")
    db.session.commit()
    return Planted(
        ids={
            "customer": tenant.customer_id,
            "servlet": servlet_id,
            "catalog": catalog_id,
            "order": order_id,
            "partner": partner_id,
        },
        markers=[
            "Quokka Holdings Ltd",
            "Wombat Plantedperson",
            "wombat.plantedperson@quokka-holdings.example",
            "Numbat Servlet Review",
            "Bilby Catalog Gold",
            "Dingo reason: renewal at risk",
            "PO-PLATYPUS-4711",
            "Echidna intake answer",
            # References count per vendor, but no outsider has an order or engagement of its own.
            db.session.get(Order, order_id).reference,
            engagement.reference,
            "Kookaburra entitlement note",
            "Wallaby audit remark",
            "Cassowary mail subject",
            "Emu reset link",
            "PO-QUOLL-INVOICE-77",
            "Potoroo credit note reason",
            "Bettong Partners Pty",
            "Wallaroo Segment",
            "Tasmanian suggestion reason",
            "Call Pademelon Contact",
            "Bandicoot promoter comment",
            "Cuscus plan summary",
            "quoll-signals.csv",
        ],
    )


def _grant(tenant: Tenant, servlet_id: int, note: str) -> None:
    today = utcnow().date()
    entitlements.grant_entitlement(
        ordering_factories.actor(tenant, Role.CSM),
        entitlements.Grant(
            customer_id=tenant.customer_id,
            servlet_id=servlet_id,
            kind=None,
            quantity=2,
            valid_from=today,
            valid_until=today + timedelta(days=365),
            note=note,
        ),
    )


def _invoice(tenant: Tenant, po_number: str) -> None:
    """An issued invoice to the customer, and a draft: a customer never sees the draft."""
    finance = ordering_factories.actor(tenant, Role.FINANCE)
    for state in ("issued", "draft"):
        draft = invoices.draft_for(finance, tenant.customer_id)
        invoices.update_draft(finance, draft, po_number=po_number, notes="", terms_days=30)
        invoices.add_line(finance, draft, "Quokka invoice line", 1, Money(12_500, "USD"))
        if state == "issued":
            invoices.issue(finance, draft)


def _payout(tenant: Tenant, engagement: Engagement, partner_name: str) -> int:
    """An approved payout statement of another partner of the vendor for the customer's
    engagement (rows written directly): A's own partner must not see it either."""
    partner = organization(partner_name, OrgKind.PARTNER, tenant.vendor_id)
    assignment = Assignment(
        vendor_id=tenant.vendor_id,
        engagement_id=engagement.id,
        partner_id=partner.id,
        starts_on=date(2026, 1, 5),
        ends_on=date(2026, 1, 16),
        planned_hours=Decimal(8),
        partner_fee_minor=70_000,
        assigned_by_id=tenant.people[Role.DELIVERY_MANAGER].membership_id,
    )
    db.session.add(assignment)
    db.session.flush()
    payout = Payout(
        vendor_id=tenant.vendor_id,
        partner_id=partner.id,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 1, 31),
        state=PayoutState.APPROVED,
        currency="USD",
        total_minor=70_000,
        lines=[
            PayoutLine(
                vendor_id=tenant.vendor_id,
                assignment_id=assignment.id,
                engagement_id=engagement.id,
                description=f"{engagement.reference} · Numbat Servlet Review for Quokka",
                accepted_on=date(2026, 1, 20),
                fee_minor=70_000,
                currency="USD",
            )
        ],
    )
    db.session.add(payout)
    db.session.commit()
    return partner.id


def _account(tenant: Tenant, segment: str) -> None:
    """The customer's account record, owned by the vendor's CSM."""
    customer = db.session.get(Organization, tenant.customer_id)
    admin = ordering_factories.actor(tenant, Role.ADMIN)
    success_accounts.assign_csm(admin, customer, tenant.people[Role.CSM].membership_id)
    success_accounts.update_account(
        admin,
        customer,
        success_accounts.AccountRecord(
            segment=segment,
            touch_model="high_touch",
            stage="adoption",
            renewal_date=utcnow().date() + timedelta(days=30),
            arr="50000",
            licences_bought=40,
        ),
    )


def _success_workspace(tenant: Tenant, servlet_id: int) -> None:
    """A red score, an open suggestion, a follow-up, a promoter's answer, a success plan and a
    signal import of the customer, written directly (their services are tested elsewhere)."""
    now, customer_id, vendor_id = utcnow(), tenant.customer_id, tenant.vendor_id
    db.session.add(
        AccountHealth(
            vendor_id=vendor_id,
            customer_id=customer_id,
            score=21,
            band=Band.RED,
            components={},
            computed_at=now,
            changed_at=now,
        )
    )
    playbook = Playbook(
        vendor_id=vendor_id,
        name="Planted playbook",
        condition=PlaybookCondition.LOW_CSAT,
        threshold=2,
        servlet_id=servlet_id,
        reason_template="{account}",
    )
    db.session.add(playbook)
    db.session.flush()
    db.session.add_all(
        [
            Suggestion(
                vendor_id=vendor_id,
                playbook_id=playbook.id,
                customer_id=customer_id,
                servlet_id=servlet_id,
                reason="Tasmanian suggestion reason",
            ),
            FollowUpTask(
                vendor_id=vendor_id,
                customer_id=customer_id,
                kind=FollowUpKind.DETRACTOR,
                source="planted:1",
                title="Call Pademelon Contact",
                due_on=now.date(),
            ),
            NpsInvite(
                vendor_id=vendor_id,
                customer_id=customer_id,
                name="Planted Promoter",
                email="promoter@quokka-holdings.example",
                period="2026-H2",
                token="planted-token-hash",
                answered_at=now,
                score=10,
                comment="Bandicoot promoter comment",
            ),
            SuccessPlan(
                vendor_id=vendor_id,
                customer_id=customer_id,
                quarter_start=date(now.year, 3 * ((now.month - 1) // 3) + 1, 1),
                summary="Cuscus plan summary",
            ),
            SignalImport(
                vendor_id=vendor_id, source=SignalSource.CSV, filename="quoll-signals.csv", rows=1
            ),
        ]
    )


def outsiders(tenant_a: Tenant, tenant_b: Tenant) -> list[Person]:
    """Everyone who must not see tenant A's first customer: every role of vendor B, every
    customer role of A's other customer, and A's partner (assigned no engagement)."""
    partner = [tenant_a.people[role] for role in PARTNER_ROLES]
    return [*tenant_b.people.values(), *tenant_a.neighbours.values(), *partner]


def test_the_lists_cover_the_pages_without_an_object():
    endpoints = {endpoint for endpoint, _ in URLS}
    assert len(URLS) >= 15
    assert {"ordering.orders", "ordering.export_orders", "catalog.browse"} <= endpoints
    assert set(QUERIES) <= endpoints, "a query string names a page that is gone"


def test_nobody_outside_the_customer_finds_its_data_on_any_list(
    app: Flask, tenant_a: Tenant, tenant_b: Tenant, unscoped
):
    """Planted once, then every page for every outsider (planting is the slow part); every
    page that shows a marker or fails is named in the one assertion."""
    with unscoped():
        planted = plant(tenant_a)
    client = app.test_client()
    found: list[str] = []
    for person in outsiders(tenant_a, tenant_b):
        sign_in(client, person)
        who = f"{person.role} of organisation {person.organization_id}"
        for endpoint, path in URLS:
            queries = QUERIES.get(endpoint, [])
            for url in [path] + [f"{path}?{query.format(**planted.ids)}" for query in queries]:
                response = client.get(url)
                if response.status_code >= 500:
                    found.append(f"{who} GET {url} answered {response.status_code}")
                    continue
                body = response.get_data(as_text=True).lower()
                leaked = [marker for marker in planted.markers if marker.lower() in body]
                if leaked:
                    found.append(f"{who} GET {url} shows {leaked}")
    assert not found, "\n".join(found)


def test_the_markers_show_to_the_customers_own_tenant(
    app: Flask, tenant_a: Tenant, tenant_b: Tenant, unscoped
):
    """Each marker shows to tenant A's admin or the customer's buyer on a list or on the order
    page: the markers are real, so their absence above is the fence holding."""
    with unscoped():
        planted = plant(tenant_a)
    urls = [path for _, path in URLS] + [f"/orders/{planted.ids['order']}"]
    client = app.test_client()
    unseen = set(planted.markers)
    for role, url in product((Role.ADMIN, Role.BUYER), urls):
        sign_in(client, tenant_a.people[role])
        body = client.get(url).get_data(as_text=True).lower()
        unseen -= {marker for marker in unseen if marker.lower() in body}
    assert not unseen
