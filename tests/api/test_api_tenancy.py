"""Every API route that takes an object id, with a token of every role of another vendor
holding every scope: 404, nothing changed. The session matrix (``tests/test_tenant_matrix.py``)
cannot cover these routes: without a token they answer 401 to everyone.

The routes come from the app's URL map, so a new resource is covered the day it is added.
A write may answer 422 instead (its body is checked before the object is looked up, and a
422 says nothing about the object); no audited change may happen either way.
"""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from api.problems import PREFIX
from api.token_models import SCOPES
from core.audit import AuditEvent
from core.extensions import db
from core.permissions import Role
from tests.api import factories
from tests.tenant_objects import ID_BUILDERS

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def test_another_vendors_tokens_get_404_for_every_api_object_route(
    app, tenant_a, tenant_b, unscoped
):
    routes = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/")
        and any(isinstance(c, IntegerConverter) for c in rule._converters.values())
    ]
    assert len(routes) >= 3
    with unscoped():
        ids = {name: ID_BUILDERS[name](tenant_a) for rule in routes for name in rule.arguments}
        changes_before = _changes(tenant_a.vendor_id)
        tokens = [factories.personal(person, SCOPES) for person in tenant_b.people.values()]
        tokens.append(factories.service(tenant_b.people[Role.ADMIN], Role.ADMIN, SCOPES))
    client = app.test_client()
    answered: list[str] = []
    for token in tokens:
        headers = {**token.headers, "If-Match": '"any"'}
        for rule in routes:
            with app.test_request_context():
                url = rule.build({name: ids[name] for name in rule.arguments})[1]
            for method in sorted(rule.methods & ({"GET"} | WRITES)):
                answer = client.open(url, method=method, json={}, headers=headers)
                allowed = {404, 422} if method in WRITES else {404}
                if answer.status_code not in allowed:
                    answered.append(f"{method} {url} answered {answer.status_code}")
    assert not answered, "\n".join(answered)
    with unscoped():
        assert _changes(tenant_a.vendor_id) == changes_before


def _changes(vendor_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(
            AuditEvent.vendor_id == vendor_id, AuditEvent.action != "access.denied"
        )
    )
