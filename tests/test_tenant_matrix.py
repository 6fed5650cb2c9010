"""Every route that takes an object id, for every role of another vendor: 404, nothing changed.

The routes come from the app's URL map, so a new route is covered the day it is added. The
API's routes answer a session with 401 (they take tokens): ``tests/api/test_api_tenancy.py``
walks them the same way with another vendor's tokens.
"""

from __future__ import annotations

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
        if rule.rule.startswith("/api/"):
            continue
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            routes.extend(
                (rule.endpoint, method) for method in sorted(rule.methods & {"GET", "POST"})
            )
    return routes


ROUTES = object_routes()


def test_the_matrix_covers_routes():
    assert len(ROUTES) >= 5


def test_every_id_a_route_takes_has_a_builder():
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    arguments = {
        name
        for rule in app.url_map.iter_rules()
        if rule.endpoint in dict(ROUTES)
        for name in rule.arguments
    }
    missing = arguments - set(ID_BUILDERS)
    assert not missing, f"add an id builder for {missing} to tests/tenant_objects.py"


def test_another_vendors_people_get_404_for_every_object_route(app, tenant_a, tenant_b, unscoped):
    """Each kind of id is built once for tenant A (building is the slow part); then every
    route, with every method, as every role of vendor B. Routes that take an engagement and
    an object of it get both on the tenant's first engagement (see tests/tenant_objects.py).
    Every route that answers anything but 404 is named in the one assertion, and nothing of
    tenant A may change."""
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    with unscoped():
        ids = {name: ID_BUILDERS[name](tenant_a) for name in _arguments(rules)}
        changes_before = _changes(tenant_a.vendor_id)
    client = app.test_client()
    answered: list[str] = []
    for role in Role:
        sign_in(client, tenant_b.people[role])
        for endpoint, method in ROUTES:
            rule = rules[endpoint]
            with app.test_request_context():
                url = rule.build({name: ids[name] for name in rule.arguments})[1]
            response = client.open(url, method=method, data={})
            if response.status_code != 404:
                answered.append(f"{role} {method} {url} answered {response.status_code}")
    assert not answered, "\n".join(answered)
    with unscoped():
        assert _changes(tenant_a.vendor_id) == changes_before


def _arguments(rules: dict) -> list[str]:
    """The id arguments of the routes, in the order the routes come (first use builds)."""
    names: dict[str, None] = {}
    for endpoint, _ in ROUTES:
        names.update(dict.fromkeys(rules[endpoint].arguments))
    return list(names)


def _changes(vendor_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(
            AuditEvent.vendor_id == vendor_id, AuditEvent.action != "access.denied"
        )
    )
