"""Form fields parse ids, decimals and dates through core.bounds: a message on the field for
what does not fit (sNaN, an exponent, an id no column holds), never a 500."""

from __future__ import annotations

import pytest

from accounts.models import Organization
from core.extensions import db
from core.permissions import Role
from tests.conftest import sign_in


@pytest.mark.parametrize("value", ["sNaN", "1e-1000020", "1e2", "100.001"])
def test_a_decimal_field_takes_plain_numbers_only(client, tenant_a, unscoped, value):
    sign_in(client, tenant_a.people[Role.ADMIN])
    settings = {
        "name": "Acme Software",
        "currency": "EUR",
        "payment_terms_days": "45",
        "tax_rate": value,
        "invoice_prefix": "ACME",
        "terms_text": "Our terms.",
        "terms_version": "2026-11",
    }
    response = client.post("/admin/settings", data=settings)
    assert response.status_code == 200
    assert "Enter a" in response.get_data(as_text=True)
    with unscoped():
        assert db.session.get(Organization, tenant_a.vendor_id).currency != "EUR"


def test_an_id_no_column_holds_in_a_form_is_refused(client, tenant_a):
    sign_in(client, tenant_a.people[Role.BUYER])
    response = client.post("/cart/add", data={"servlet_id": str(2**64), "catalog_id": str(2**64)})
    assert response.status_code == 302
    assert "Nothing added" in client.get("/cart").get_data(as_text=True)
