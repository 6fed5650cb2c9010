"""The development outbox shows a signed-in person their own mail, and a vendor admin its own
tenant's mail: never another person's password-reset link."""

from __future__ import annotations

import pytest

from core.extensions import db
from core.mail import send_mail
from core.permissions import Role
from tests.conftest import sign_in


@pytest.fixture
def mail(unscoped, tenant_a, tenant_b):
    """A reset link for each tenant's buyer (no vendor: it is about a person) and a
    notification within each tenant."""
    with unscoped():
        for tenant, name in ((tenant_a, "a"), (tenant_b, "b")):
            buyer = tenant.people[Role.BUYER].email
            send_mail(buyer, f"Reset for buyer {name}", f"https://desk.test/reset/{name}-secret")
            send_mail(
                tenant.people[Role.CSM].email,
                f"Order news of tenant {name}",
                "An order was placed.",
                vendor_id=tenant.vendor_id,
            )
        db.session.commit()


def subjects(response) -> set[str]:
    page = response.get_data(as_text=True)
    candidates = ("Reset for buyer a", "Reset for buyer b")
    candidates += ("Order news of tenant a", "Order news of tenant b")
    return {subject for subject in candidates if subject in page}


def test_nobody_signed_in_reads_the_outbox(client, mail):
    response = client.get("/dev/outbox")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_a_person_sees_only_mail_addressed_to_them(client, tenant_a, mail):
    sign_in(client, tenant_a.people[Role.BUYER])
    response = client.get("/dev/outbox")
    assert response.status_code == 200
    assert subjects(response) == {"Reset for buyer a"}
    assert "b-secret" not in response.get_data(as_text=True)


def test_someone_with_no_mail_sees_an_empty_outbox(client, tenant_a, mail):
    sign_in(client, tenant_a.people[Role.FINANCE])
    response = client.get("/dev/outbox")
    assert subjects(response) == set()
    assert b'data-testid="empty-state"' in response.data


def test_an_admin_sees_its_tenants_mail_but_no_ones_reset_links(client, tenant_a, mail):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = client.get("/dev/outbox")
    assert subjects(response) == {"Order news of tenant a"}


@pytest.mark.parametrize("app_config", [{"OUTBOX_PAGE": False}])
def test_outside_development_the_page_does_not_exist_even_for_admins(client, tenant_a):
    assert client.get("/dev/outbox").status_code == 404
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.get("/dev/outbox").status_code == 404
