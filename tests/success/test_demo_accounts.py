"""The demo's account records tell a story a CSM recognises: every customer owned by the
vendor's CSM with a record, its key contacts, one admin contact changed, and notes."""

from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import Membership, Organization
from core.audit import AuditEvent
from core.demo import run_seeders
from core.extensions import db
from core.permissions import OrgKind, Role
from success.models import AccountNote, CustomerAccount, KeyContact


def test_the_demo_accounts_are_owned_filled_in_and_have_a_contact_change(app, unscoped):
    with unscoped():
        run_seeders()
        run_seeders()  # idempotent
        customers = db.session.scalars(
            select(Organization).where(Organization.kind == OrgKind.CUSTOMER)
        ).all()
        assert len(customers) == 6
        for customer in customers:
            owner = db.session.get(Membership, customer.csm_id)
            assert owner.role is Role.CSM
            assert owner.organization_id == customer.vendor_id
        records = db.session.scalars(select(CustomerAccount)).all()
        assert len(records) == 6
        assert all(r.arr_minor > 0 and r.renewal_date and r.segment for r in records)
        ended = db.session.scalars(select(KeyContact).where(KeyContact.ended_at.is_not(None)))
        assert [c.role.value for c in ended] == ["admin", "admin"]
        changes = select(func.count()).where(AuditEvent.action == "success.key_contact_changed")
        assert db.session.scalar(changes) == 2
        assert db.session.scalar(select(func.count()).select_from(AccountNote)) == 4
