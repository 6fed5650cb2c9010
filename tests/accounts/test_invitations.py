from sqlalchemy import select

from accounts.models import Membership
from core.extensions import db
from tests.accounts.helpers import audit_actions, emails_to, link_path
from tests.conftest import sign_in


def invite(client, organization_id, email="newcomer@acme.example", role="csm"):
    return client.post(
        "/admin/people",
        data={
            "email": email,
            "name": "New Comer",
            "organization_id": organization_id,
            "role": role,
        },
    )


def test_an_admin_invites_someone_who_joins_with_a_password(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people["admin"])
    assert invite(client, tenant_a.vendor_id).status_code == 302
    [email] = emails_to(unscoped, "newcomer@acme.example")
    assert "Acme Software" in email.subject
    path = link_path(email.body)
    client.post("/sign-out")
    joined = client.post(
        path, data={"name": "Nina", "password": "nina's password", "confirm": "nina's password"}
    )
    assert joined.status_code == 302
    assert (
        client.post(
            "/sign-in", data={"email": "newcomer@acme.example", "password": "nina's password"}
        ).status_code
        == 302
    )
    assert b'data-testid="home-csm"' in client.get("/").data
    assert {"membership.invited", "user.invitation_accepted"} <= set(audit_actions(unscoped))
    reused = client.get(path)
    assert reused.status_code == 400


def test_a_role_that_does_not_fit_the_organisation_is_refused(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people["admin"])
    response = invite(client, tenant_a.customer_id, role="finance")
    assert response.status_code == 200
    assert "has no role “Finance”".encode() in response.data
    assert emails_to(unscoped, "newcomer@acme.example") == []


def test_inviting_into_another_vendors_organisation_is_refused(
    client, tenant_a, tenant_b, unscoped
):
    sign_in(client, tenant_a.people["admin"])
    response = invite(client, tenant_b.customer_id, role="buyer")
    assert response.status_code == 200
    assert (
        b"That organisation does not exist" in response.data
        or b"Not a valid choice" in response.data
    )
    with unscoped():
        members = db.session.scalars(
            select(Membership.user_id).where(Membership.organization_id == tenant_b.customer_id)
        ).all()
    assert len(members) == 3


def test_only_admins_can_invite(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people["csm"])
    assert invite(client, tenant_a.vendor_id).status_code == 403
    assert emails_to(unscoped, "newcomer@acme.example") == []
    assert audit_actions(unscoped)[-1] == "access.denied"


def test_inviting_an_existing_member_twice_is_explained(client, tenant_a):
    sign_in(client, tenant_a.people["admin"])
    invite(client, tenant_a.vendor_id)
    again = invite(client, tenant_a.vendor_id)
    assert again.status_code == 200
    assert b"already a member" in again.data
