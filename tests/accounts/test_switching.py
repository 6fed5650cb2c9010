from accounts.models import Membership
from core.extensions import db
from tests.conftest import sign_in


def test_a_person_in_two_organisations_switches_between_them(client, tenant_a, tenant_b, unscoped):
    consultant = tenant_a.people["partner_consultant"]
    with unscoped():
        second = Membership(
            user_id=consultant.user_id,
            organization_id=tenant_b.partner_id,
            role="partner_consultant",
            vendor_id=tenant_b.vendor_id,
        )
        db.session.add(second)
        db.session.commit()
        second_id = second.id
    sign_in(client, consultant)
    home = client.get("/")
    assert b"Acme Software Partner" in home.data
    assert b"Globex Systems Partner" in home.data  # offered in the switcher
    client.post(f"/switch/{second_id}")
    assert (
        b'<h1 class="h3" data-testid="home-partner_consultant">Globex Systems Partner'
        in client.get("/").data
    )
