"""Account records: who sees and changes what, validation, key-contact changes with their
audit, the timeline across areas, the page's query count and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from billing.models import Invoice, InvoiceState
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Role
from delivery.models import Engagement
from ordering.models import Order
from success import accounts
from success.models import AccountNote, ContactRole, CustomerAccount, KeyContact
from success.timeline import PER_PAGE, timeline
from tests.billing import factories as billing_factories
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.delivery import factories as delivery_factories
from tests.ordering import factories as ordering_factories
from tests.success.factories import NOT_ACCOUNT_READERS

RECORD = {
    "segment": "Enterprise",
    "touch_model": "high_touch",
    "stage": "adoption",
    "renewal_date": "",
    "arr": "120000",
    "licences_bought": "250",
}


def record(**overrides) -> accounts.AccountRecord:
    values = {
        "segment": "Enterprise",
        "touch_model": "high_touch",
        "stage": "adoption",
        "renewal_date": utcnow().date() + timedelta(days=60),
        "arr": "120000",
        "licences_bought": 250,
        **overrides,
    }
    return accounts.AccountRecord(**values)


def own(tenant) -> None:
    """Tenant's CSM owns its first customer."""
    db.session.get(Organization, tenant.customer_id).csm_id = tenant.people[Role.CSM].membership_id
    db.session.commit()


def customer(tenant) -> Organization:
    return db.session.get(Organization, tenant.customer_id)


def events(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


# --- who sees and changes what -----------------------------------------------------------


def test_a_csm_sees_their_accounts_by_default_and_all_on_asking(client, tenant_a, unscoped):
    with unscoped():
        own(tenant_a)
    sign_in(client, tenant_a.people[Role.CSM])
    mine = client.get("/accounts").get_data(as_text=True)
    everyone = client.get("/accounts?who=all").get_data(as_text=True)
    with unscoped():
        first = customer(tenant_a).name
        neighbour = db.session.get(Organization, tenant_a.neighbour_id).name
    assert first in mine
    assert neighbour not in mine
    assert first in everyone
    assert neighbour in everyone


def test_any_csm_reads_an_account_but_only_its_owner_changes_it(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get(f"/accounts/{tenant_a.customer_id}")
    assert page.status_code == 200
    assert 'data-testid="record-form"' not in page.get_data(as_text=True)
    refused = client.post(f"/accounts/{tenant_a.customer_id}/record", data=RECORD)
    assert refused.status_code == 403
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(CustomerAccount)) == 0
        own(tenant_a)
    saved = client.post(f"/accounts/{tenant_a.customer_id}/record", data=RECORD)
    assert saved.status_code == 302
    page = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert "$120,000.00" in page
    assert "Enterprise" in page
    with unscoped():
        assert events("success.account_updated") == 1


def test_only_an_admin_assigns_the_owner(client, tenant_a, unscoped):
    csm = tenant_a.people[Role.CSM]
    sign_in(client, csm)
    url = f"/accounts/{tenant_a.customer_id}/owner"
    assert client.post(url, data={"csm_id": csm.membership_id}).status_code == 403
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert 'data-testid="owner-form"' in page
    assert 'data-testid="record-form"' in page
    assert client.post(url, data={"csm_id": csm.membership_id}).status_code == 302
    with unscoped():
        assert customer(tenant_a).csm_id == csm.membership_id
        assert events("success.owner_assigned") == 1
    # The finance person is no CSM: refused with a reason, nothing changed.
    finance = tenant_a.people[Role.FINANCE].membership_id
    assert client.post(url, data={"csm_id": finance}).status_code == 400
    with unscoped():
        assert customer(tenant_a).csm_id == csm.membership_id


@pytest.mark.parametrize("role", NOT_ACCOUNT_READERS)
def test_nobody_else_sees_accounts(client, tenant_a, role):
    sign_in(client, tenant_a.people[role])
    assert client.get("/accounts").status_code == 403
    assert client.get("/accounts/export.csv").status_code == 403
    assert client.get(f"/accounts/{tenant_a.customer_id}").status_code == 404
    assert (
        client.post(f"/accounts/{tenant_a.customer_id}/notes", data={"body": "x"}).status_code
        == 404
    )


def test_a_vendor_may_keep_each_csm_to_their_own_accounts(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.post("/accounts/access", data={"own_only": "y"}).status_code == 403
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.post("/accounts/access", data={"own_only": "y"}).status_code == 302
    with unscoped():
        own(tenant_a)
        assert events("success.csm_access_changed") == 1
        first = customer(tenant_a).name
        neighbour = db.session.get(Organization, tenant_a.neighbour_id).name
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.get(f"/accounts/{tenant_a.customer_id}").status_code == 200
    assert client.get(f"/accounts/{tenant_a.neighbour_id}").status_code == 404
    assert (
        client.post(f"/accounts/{tenant_a.neighbour_id}/notes", data={"body": "x"}).status_code
        == 404
    )
    everyone = client.get("/accounts?who=all").get_data(as_text=True)
    assert first in everyone
    assert neighbour not in everyone
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.get(f"/accounts/{tenant_a.neighbour_id}").status_code == 200
    assert neighbour in client.get("/accounts?who=all").get_data(as_text=True)
    assert client.post("/accounts/access", data={}).status_code == 302
    sign_in(client, tenant_a.people[Role.CSM])
    assert client.get(f"/accounts/{tenant_a.neighbour_id}").status_code == 200


def test_the_service_refuses_readers_who_may_not_change(tenant_a, unscoped):
    with unscoped():
        for role in (Role.CSM, Role.FINANCE, Role.BUYER):
            with pytest.raises(NotAllowed):
                accounts.update_account(actor(tenant_a, role), customer(tenant_a), record())
        with pytest.raises(NotAllowed):
            accounts.assign_csm(actor(tenant_a, Role.CSM), customer(tenant_a), None)


def test_the_vendor_itself_is_not_an_account(client, tenant_a):
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.get(f"/accounts/{tenant_a.vendor_id}").status_code == 404
    assert client.get(f"/accounts/{tenant_a.partner_id}").status_code == 404


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arr": "-1"}, "ARR: cannot be negative."),
        ({"arr": "1e9"}, "ARR: "),
        ({"renewal_date": date(2199, 1, 1)}, "Renewal date: between"),
        ({"renewal_date": date(1990, 1, 1)}, "Renewal date: between"),
        ({"touch_model": "white_glove"}, "Touch model: choose one of High touch"),
        ({"stage": "churned"}, "Life-cycle stage: choose one of Onboarding"),
        ({"licences_bought": -3}, "Licences bought: from 0"),
        ({"segment": "x" * 61}, "Segment: at most 60"),
    ],
)
def test_a_bad_record_is_refused_with_a_reason(tenant_a, unscoped, overrides, message):
    with unscoped():
        with pytest.raises(ServiceError) as refused:
            accounts.update_account(actor(tenant_a), customer(tenant_a), record(**overrides))
        assert refused.value.message.startswith(message)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(CustomerAccount)) == 0


def test_the_page_keeps_what_was_typed_when_refused(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = client.post(
        f"/accounts/{tenant_a.customer_id}/record", data={**RECORD, "arr": "-500"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "ARR: cannot be negative." in body
    assert 'value="-500"' in body
    bad_enum = client.post(
        f"/accounts/{tenant_a.customer_id}/record", data={**RECORD, "stage": "churned"}
    )
    assert bad_enum.status_code == 400
    far = client.post(
        f"/accounts/{tenant_a.customer_id}/record", data={**RECORD, "renewal_date": "9999-01-01"}
    )
    assert far.status_code == 400
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(CustomerAccount)) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (accounts.ContactChange("admin", "Ann Lee", "not-an-email"), "Email: "),
        (accounts.ContactChange("admin", "   ", "ann@x.example"), "Name: who holds the role?"),
        (accounts.ContactChange("ceo", "Ann Lee", "ann@x.example"), "Contact role: choose"),
        (
            accounts.ContactChange("admin", "Ann Lee", "", utcnow().date() + timedelta(days=9)),
            "Since: ",
        ),
    ],
)
def test_a_bad_key_contact_is_refused(tenant_a, unscoped, change, message):
    with unscoped():
        with pytest.raises(ServiceError) as refused:
            accounts.change_key_contact(actor(tenant_a), customer(tenant_a), change)
        assert refused.value.message.startswith(message)


def test_a_note_is_plain_text(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    body = "<script>alert(1)</script>\x07 Renewal call went well"
    assert (
        client.post(f"/accounts/{tenant_a.customer_id}/notes", data={"body": body}).status_code
        == 302
    )
    page = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    with unscoped():
        assert db.session.scalar(select(AccountNote.body)) == (
            "<script>alert(1)</script> Renewal call went well"
        )
    assert (
        client.post(f"/accounts/{tenant_a.customer_id}/notes", data={"body": "  "}).status_code
        == 400
    )


# --- key contacts --------------------------------------------------------------------------


def test_a_key_contact_change_is_recorded_once_with_its_audit(client, tenant_a, unscoped):
    with unscoped():
        admin = actor(tenant_a)
        first = accounts.ContactChange("admin", "Paul Novak", "paul@blue.example")
        assert accounts.change_key_contact(admin, customer(tenant_a), first) is not None
        second = accounts.ContactChange("admin", "Mei Tanaka", "mei@blue.example")
        made = accounts.change_key_contact(admin, customer(tenant_a), second)
        assert made is not None
        # The same person again changes nothing.
        assert accounts.change_key_contact(admin, customer(tenant_a), second) is None
        rows = db.session.scalars(select(KeyContact).order_by(KeyContact.id)).all()
        assert [(r.name, r.ended_at is None) for r in rows] == [
            ("Paul Novak", False),
            ("Mei Tanaka", True),
        ]
        assert events("success.key_contact_added") == 1
        assert events("success.key_contact_changed") == 1
        changed = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "success.key_contact_changed")
        )
        assert changed.object_id == tenant_a.customer_id
        assert changed.changes == {
            "role": "admin",
            "contact": ["Paul Novak <paul@blue.example>", "Mei Tanaka <mei@blue.example>"],
        }
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    assert "Admin contact changed to Mei Tanaka" in page
    assert "replaces Paul Novak" in page
    assert page.count('data-testid="key-contact"') == 1


def test_a_key_contact_changes_through_the_page(client, tenant_a, unscoped):
    with unscoped():
        own(tenant_a)
    sign_in(client, tenant_a.people[Role.CSM])
    url = f"/accounts/{tenant_a.customer_id}/contacts"
    data = {"role": "champion", "name": "Aisha Rahman", "email": "aisha@blue.example"}
    assert client.post(url, data=data).status_code == 302
    assert client.post(url, data=data).status_code == 302  # unchanged, said so
    assert client.post(url, data={**data, "email": "nope"}).status_code == 400
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(KeyContact)) == 1


# --- the timeline --------------------------------------------------------------------------


def _plant_every_kind(tenant) -> list[str]:
    """One event of each kind, stamped in the future one hour apart (newer than anything the
    factories stamped now); returns the kinds newest first."""
    engagement_id = delivery_factories.engagement(tenant)
    cancelled_id = ordering_factories.order(tenant)
    invoice_id = billing_factories.issued(tenant)
    overdue_id = billing_factories.issued(tenant)
    admin = actor(tenant)
    accounts.change_key_contact(admin, customer(tenant), accounts.ContactChange("admin", "A", ""))
    accounts.change_key_contact(admin, customer(tenant), accounts.ContactChange("admin", "B", ""))
    accounts.add_note(admin, customer(tenant), "Planted note")
    base = utcnow() + timedelta(days=1)

    def at(hours: int):
        return base + timedelta(hours=hours)

    engagement = db.session.get(Engagement, engagement_id)
    order = db.session.scalar(select(Order).order_by(Order.id))
    order.created_at, order.confirmed_at = at(1), at(2)
    engagement.started_at, engagement.delivered_at, engagement.accepted_at = at(3), at(4), at(5)
    engagement.csat, engagement.nps, engagement.rated_at = 4, 9, at(6)
    invoice = db.session.get(Invoice, invoice_id)
    invoice.issued_at, invoice.paid_at = at(7), at(8)
    contacts = db.session.scalars(select(KeyContact).order_by(KeyContact.id)).all()
    contacts[0].created_at, contacts[1].created_at = at(9), at(10)
    db.session.scalar(select(AccountNote)).created_at = at(11)
    db.session.get(Order, cancelled_id).cancelled_at = at(12)
    late = db.session.get(Invoice, overdue_id)
    late.state, late.due_on = InvoiceState.ISSUED, utcnow().date() - timedelta(days=3)
    db.session.commit()
    return [
        "order_cancelled",
        "note",
        "contact_changed",
        "contact_added",
        "invoice_paid",
        "invoice_issued",
        "rating",
        "engagement_accepted",
        "engagement_delivered",
        "engagement_started",
        "order_confirmed",
        "order_placed",
    ]


def test_the_timeline_holds_each_kind_of_event_newest_first(client, tenant_a, unscoped):
    with unscoped():
        expected = _plant_every_kind(tenant_a)
        account = accounts.account_of(customer(tenant_a))
        page = timeline(customer(tenant_a), account, 1, utcnow().date())
    kinds = [entry.kind for entry in page.entries]
    assert kinds[: len(expected)] == expected
    assert "invoice_overdue" in kinds
    stamps = [entry.at for entry in page.entries]
    assert stamps == sorted(stamps, reverse=True)
    sign_in(client, tenant_a.people[Role.CSM])
    body = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    for kind in [*expected, "invoice_overdue"]:
        assert f'data-kind="{kind}"' in body
    assert "CSAT 4/5 · NPS 9/10" in body
    # A CSM opens orders and engagements from the timeline, not invoices (finance's).
    assert "/orders/" in body
    assert "/engagements/" in body
    assert "/invoices/" not in body


def test_the_timeline_pages(tenant_a, unscoped):
    with unscoped():
        admin = actor(tenant_a)
        for number in range(PER_PAGE + 3):
            accounts.add_note(admin, customer(tenant_a), f"Note {number}")
        account = accounts.account_of(customer(tenant_a))
        first = timeline(customer(tenant_a), account, 1, utcnow().date())
        second = timeline(customer(tenant_a), account, 2, utcnow().date())
    assert len(first.entries) == PER_PAGE
    assert first.has_next
    assert not first.has_prev
    assert len(second.entries) == 3
    assert not second.has_next
    assert second.has_prev
    assert first.entries[0].detail == f"Note {PER_PAGE + 2}"


def _history(tenant, notes: int) -> None:
    """``notes`` notes and as many past admin contacts on the first customer's account."""
    account_id = accounts.add_note(actor(tenant), customer(tenant), "First").account_id
    for number in range(notes):
        db.session.add(
            AccountNote(vendor_id=tenant.vendor_id, account_id=account_id, body=f"Note {number}")
        )
        db.session.add(
            KeyContact(
                vendor_id=tenant.vendor_id,
                account_id=account_id,
                role=ContactRole.ADMIN,
                name=f"Admin {number}",
                since=utcnow().date(),
                ended_at=utcnow(),
            )
        )
    db.session.commit()


def test_the_account_page_costs_the_same_queries_with_few_and_many_events(
    client, tenant_a, tenant_b, unscoped, count_queries
):
    with unscoped():
        _history(tenant_a, 2)
        delivery_factories.engagement(tenant_a)
        _history(tenant_b, 300)
        for _ in range(3):
            delivery_factories.engagement(tenant_b)
    costs = []
    for tenant in (tenant_a, tenant_b):
        sign_in(client, tenant.people[Role.ADMIN])
        client.get(f"/accounts/{tenant.customer_id}")  # warm
        with count_queries() as counted:
            assert client.get(f"/accounts/{tenant.customer_id}").status_code == 200
        costs.append(len(counted))
    assert costs[0] == costs[1]
    assert costs[0] <= 30


# --- the list and its CSV ------------------------------------------------------------------


def test_the_list_filters_and_exports_exactly_its_rows(client, tenant_a, unscoped):
    with unscoped():
        admin = actor(tenant_a)
        accounts.update_account(admin, customer(tenant_a), record(arr="1234.5"))
        neighbour = db.session.get(Organization, tenant_a.neighbour_id)
        accounts.update_account(
            admin, neighbour, record(segment="SMB", stage="renewal", renewal_date=None)
        )
        names = customer(tenant_a).name, neighbour.name
    sign_in(client, tenant_a.people[Role.ADMIN])
    listed = client.get("/accounts?segment=Enterprise").get_data(as_text=True)
    assert names[0] in listed
    assert names[1] not in listed
    by_stage = client.get("/accounts?stage=renewal").get_data(as_text=True)
    assert names[1] in by_stage
    assert names[0] not in by_stage
    by_name = client.get(f"/accounts?q={names[1][:5]}").get_data(as_text=True)
    assert names[1] in by_name
    renewing = client.get("/accounts?renewing=90").get_data(as_text=True)
    assert names[0] in renewing
    assert names[1] not in renewing
    assert client.get("/accounts?stage=nonsense&who=everyone&page=-3").status_code == 200
    response = client.get("/accounts/export.csv?segment=Enterprise")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["account"], r["segment"], r["arr"], r["currency"]) for r in rows] == [
        (names[0], "Enterprise", "1234.50", "USD")
    ]


def test_the_csm_home_counts_their_accounts_and_renewals(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.CSM])
    assert "No customer accounts are assigned to you yet" in client.get("/").get_data(as_text=True)
    with unscoped():
        own(tenant_a)
        accounts.update_account(actor(tenant_a), customer(tenant_a), record())
        name = customer(tenant_a).name
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="panel-accounts"' in home
    assert name in home
    assert "Renewing in 90 days" in home
