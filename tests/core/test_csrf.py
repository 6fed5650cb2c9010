import re

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.extensions import db
from tests.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])


def count(unscoped, model):
    with unscoped():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    client, tenant_a, unscoped
):
    sign_in(client, tenant_a.people["admin"])
    organizations, events = count(unscoped, Organization), count(unscoped, AuditEvent)
    response = client.post("/admin/organizations", data={"name": "Forged Inc", "kind": "customer"})
    assert response.status_code == 400
    assert b"Reload the page and try again" in response.data
    assert (count(unscoped, Organization), count(unscoped, AuditEvent)) == (organizations, events)


def test_sign_in_without_a_csrf_token_is_refused(client, tenant_a):
    response = client.post(
        "/sign-in", data={"email": tenant_a.people["admin"].email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_the_same_form_with_its_token_goes_through(client, tenant_a):
    sign_in(client, tenant_a.people["admin"])
    page = client.get("/admin/organizations").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/admin/organizations", data={"name": "Real Inc", "kind": "customer", "csrf_token": token}
    )
    assert response.status_code == 302
