import pytest
from sqlalchemy import select

from accounts.models import Membership, Organization
from core.extensions import db
from core.tenancy import TenancyError, tenant_scope


def test_querying_tenant_data_without_a_scope_fails_loudly(app, tenant_a):
    with app.app_context(), pytest.raises(TenancyError):
        db.session.scalars(select(Membership)).all()


def test_a_tenant_scope_sees_only_its_own_rows(app, tenant_a, tenant_b):
    with app.app_context(), tenant_scope(tenant_a.vendor_id):
        memberships = db.session.scalars(select(Membership)).all()
        organizations = db.session.scalars(select(Organization)).all()
    assert memberships
    assert {m.vendor_id for m in memberships} == {tenant_a.vendor_id}
    assert {o.id for o in organizations} == {
        tenant_a.vendor_id,
        tenant_a.customer_id,
        tenant_a.partner_id,
        tenant_a.neighbour_id,
    }


def test_a_joined_query_is_scoped_on_every_tenant_table(app, tenant_a, tenant_b):
    with app.app_context(), tenant_scope(tenant_b.vendor_id):
        names = db.session.scalars(
            select(Organization.name).join(
                Membership, Membership.organization_id == Organization.id
            )
        ).all()
    assert names
    assert all(name.startswith("Globex") for name in names)
