"""Every route that takes an object id, for every role of another vendor: 404, nothing changed.

The routes come from the app's URL map, so a new route is covered the day it is added.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from core.app import create_app
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import Role
from tests.conftest import TEST_CONFIG, sign_in
from tests.tenant_objects import ID_BUILDERS


def object_routes() -> list[tuple[str, str]]:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            routes.extend(
                (rule.endpoint, method) for method in sorted(rule.methods & {"GET", "POST"})
            )
    return routes


ROUTES = object_routes()


def test_the_matrix_covers_routes():
    assert len(ROUTES) >= 5


@pytest.mark.parametrize(("endpoint", "method"), ROUTES)
def test_another_vendors_people_get_404_for_every_object_route(
    app, tenant_a, tenant_b, unscoped, endpoint, method
):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    missing = set(rule.arguments) - set(ID_BUILDERS)
    assert not missing, f"add an id builder for {missing} to tests/tenant_objects.py"
    with unscoped():
        values = {name: ID_BUILDERS[name](tenant_a) for name in rule.arguments}
        changes_before = _changes(tenant_a.vendor_id)
    with app.test_request_context():
        url = rule.build(values)[1]
    client = app.test_client()
    for role in Role:
        sign_in(client, tenant_b.people[role])
        response = client.open(url, method=method, data={})
        assert response.status_code == 404, f"{role} {method} {url} answered {response.status_code}"
    with unscoped():
        assert _changes(tenant_a.vendor_id) == changes_before


def _changes(vendor_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(
            AuditEvent.vendor_id == vendor_id, AuditEvent.action != "access.denied"
        )
    )
