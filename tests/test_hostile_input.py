"""Very long and unusual unicode in every field of every form: a message, never a 500.

Forms are found from the URL map (every route answering GET and POST) and their field names
from the rendered page, so new forms are covered without being listed here.
"""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import IntegerConverter

from core.app import create_app
from core.permissions import Role
from tests.conftest import TEST_CONFIG, sign_in
from tests.tenant_objects import ID_BUILDERS

HOSTILE_VALUES = [
    "ü" * 20_000,
    "‮evil‭ 𝕌𝕟𝕚𝕔𝕠𝕕𝕖 😀 \u0000 <script>alert(1)</script>",
    "-99999999999999999999999999",
    "1e309",
]
FIELD = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"')


def form_routes() -> list[str]:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if {"GET", "POST"} <= rule.methods
        and all(isinstance(c, IntegerConverter) for c in rule._converters.values())
    )


@pytest.mark.parametrize("endpoint", form_routes())
def test_hostile_input_in_every_field_never_causes_a_server_error(
    app, tenant_a, unscoped, endpoint
):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with unscoped():
        values = {name: ID_BUILDERS[name](tenant_a) for name in rule.arguments}
    with app.test_request_context():
        url = rule.build(values)[1]
    client = app.test_client()
    tried = 0
    for role in [None, *Role]:
        if role is not None:
            sign_in(client, tenant_a.people[role])
        page = client.get(url)
        if page.status_code != 200:
            continue
        names = set(FIELD.findall(page.data.decode())) - {"csrf_token"}
        for value in HOSTILE_VALUES:
            response = client.post(url, data=dict.fromkeys(names, value))
            assert response.status_code < 500, f"{role} {url} {value[:20]!r}"
            tried += 1
    assert tried, f"no role could open {url}"
