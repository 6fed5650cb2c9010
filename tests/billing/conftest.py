"""Fixtures several billing test modules share."""

from __future__ import annotations

import pytest

from tests.billing import factories


@pytest.fixture
def invoice_id(tenant_a, unscoped) -> int:
    """An issued invoice of 1,000.00 (no tax) to the tenant's customer."""
    with unscoped():
        factories.set_tax(tenant_a, "0")
        return factories.issued(tenant_a)
