"""Schemathesis against the app's own OpenAPI document, as each role.

The document is read from ``/api/v1/openapi.json`` when the test runs, so every operation the
API has that day is exercised, with a personal token of every role (all scopes) of one
vendor: requests that fit the document, with the path's ids pointing at real objects of that
vendor (``tests/tenant_objects.py``), and requests that do not fit it (wrong types, values out
of range, missing or extra fields). Every answer must be no 5xx, have a documented status and
content type, and match its documented schema and headers.

Bounded so ``make test`` stays fast: a few cases per operation and mode, each sent with every
role's token, generated from a fixed seed (``derandomize``) so a failure in CI is the same on
a laptop, with no shrinking: every distinct failure is listed as found, with the operation,
the mode, the roles that met it and a ``curl`` line to reproduce it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.problems import PREFIX
from api.token_models import SCOPES
from core.permissions import Role
from tests.api import factories
from tests.tenant_objects import ID_BUILDERS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Cases per operation and mode, each sent with every role's token (about 2,000 requests for
# 40 operations: some 15 s on SQLite).
EXAMPLES = {GenerationMode.POSITIVE: 3, GenerationMode.NEGATIVE: 2}
SHOWN = 20  # failures listed in full; a broken convention fails every operation


@pytest.fixture
def app_config() -> dict[str, object]:
    return {"API_RATE_LIMIT": "100000 per minute"}  # the limit has its own test


def test_every_operation_answers_every_role_as_its_document_says(app, tenant_a, unscoped):
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", app)
    # Deletions last, so the other operations still find the objects they point at.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: operation.method.upper() == "DELETE",
    )
    assert len(operations) >= 6
    with unscoped():
        ids = _real_ids(schema.raw_schema, tenant_a)
        tokens = {
            role: factories.personal(person, SCOPES) for role, person in tenant_a.people.items()
        }
    headers = {role: token.headers for role, token in tokens.items()}
    failures: list[str] = []
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            strategy = operation.as_strategy(mode)
            if mode is GenerationMode.POSITIVE:
                strategy = strategy.map(lambda case: _pointed_at(case, ids))
            found = _failures(strategy, examples, headers)
            failures += [
                f"{operation.label} ({mode}) as {', '.join(roles)}: {failure}"
                for failure, roles in found.items()
            ]
    assert not failures, "\n\n".join(failures[:SHOWN]) + (
        f"\n\n...and {len(failures) - SHOWN} more" if len(failures) > SHOWN else ""
    )


def _real_ids(document: dict[str, Any], tenant: Any) -> dict[str, int]:
    """An object of ``tenant`` for each id name the document uses (in paths and bodies) that
    a builder knows: ``tests/api/test_api_tenancy.py`` insists every path id has one."""
    names = set(re.findall(r"\{(\w+)\}", " ".join(document.get("paths", {}))))
    names |= {name for name in _property_names(document) if name.endswith("_id")}
    ids = {name: ID_BUILDERS[name](tenant) for name in sorted(names) if name in ID_BUILDERS}
    ids.setdefault("customer_id", tenant.customer_id)
    return ids


def _property_names(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*map(_property_names, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    own = set(node["properties"]) if isinstance(node.get("properties"), dict) else set()
    return own.union(*map(_property_names, node.values()))


def _pointed_at(case: Any, ids: dict[str, int]) -> Any:
    """``case`` with its path's ids, and the ids its JSON body names, set to real objects of
    the tenant, so valid requests reach objects rather than stopping at 404 or 422."""
    for name in case.path_parameters or {}:
        if name in ids:
            case.path_parameters[name] = ids[name]
    _point_body(case.body, ids)
    return case


def _point_body(node: Any, ids: dict[str, int]) -> None:
    if isinstance(node, list):
        for item in node:
            _point_body(item, ids)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ids and isinstance(value, int) and not isinstance(value, bool):
                node[key] = ids[key]
            else:
                _point_body(value, ids)


def _failures(
    strategy: st.SearchStrategy, examples: int, headers: dict[Role, dict[str, str]]
) -> dict[str, list[Role]]:
    """What the checks found wrong in ``examples`` cases drawn from ``strategy``, each sent
    with every role's token: each distinct failure with the roles that met it."""
    found: dict[str, list[Role]] = {}

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        for role, role_headers in headers.items():
            try:
                case.call_and_validate(headers=role_headers, checks=CHECKS)
            except (Exception, FailureGroup) as error:
                roles = found.setdefault(f"{type(error).__name__}: {error}", [])
                roles += [] if role in roles else [role]

    run()
    return found
