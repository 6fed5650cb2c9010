"""One object of a tenant for every kind of id a route takes, for the tenancy matrix.

Each entry maps a URL argument name to a builder that returns the id of an object owned by
the given tenant (it runs inside an all-tenants scope). A new route with a new id argument
makes the matrix fail until its builder is added here, so no route escapes the check.
"""

from __future__ import annotations

from collections.abc import Callable

from core.permissions import Role
from tests.factories import Tenant

ID_BUILDERS: dict[str, Callable[[Tenant], int]] = {
    "membership_id": lambda tenant: tenant.people[Role.CSM].membership_id,
    "organization_id": lambda tenant: tenant.customer_id,
}
