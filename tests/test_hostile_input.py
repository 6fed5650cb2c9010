"""Hostile input: a message, never a 500. Very long and unusual unicode in every field of
every form, then each kind of input a fuzzer found answering 500 (``test_fuzz_inputs`` is the
fuzzer itself).

Forms are found from the URL map (every route answering GET and POST) and their field names
from the rendered page, so new forms are covered without being listed here.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from werkzeug.routing import IntegerConverter

from accounts.models import Organization
from core.app import create_app
from core.extensions import db
from core.permissions import Role
from tests.catalog import factories as catalog_factories
from tests.conftest import TEST_CONFIG, sign_in
from tests.factories import PASSWORD
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


# --- query strings a fuzzer sent: each answered 500 before core.params parsed them -------

TOO_BIG = str(2**64)


@pytest.mark.parametrize(
    ("role", "url", "name"),
    [
        (Role.ADMIN, f"/admin/people?organization={TOO_BIG}", "organization"),
        (Role.CSM, f"/orders?customer={TOO_BIG}&servlet=-1", "customer"),
        (Role.CSM, f"/orders?servlet={2**31}", "servlet"),
        (Role.CSM, f"/entitlements?customer={TOO_BIG}", "customer"),
        (Role.BUYER, f"/catalog?catalog={TOO_BIG}", "catalog"),
        (Role.CSM, "/orders?to=9999-12-31", "to"),
        (Role.CSM, "/orders?from=0001-01-01", "from"),
        (Role.ADMIN, "/admin/audit?since=99999-01-01", "since"),
        (Role.CSM, "/orders?state=lost", "state"),
        (Role.ADMIN, "/admin/organizations?kind=vendor", "kind"),
        (Role.ADMIN, "/admin/audit?format=xml", "format"),
        (Role.ADMIN, f"/admin/servlets?page={TOO_BIG}", "page"),
    ],
)
def test_a_filter_that_does_not_fit_is_ignored_and_the_page_says_so(
    client, tenant_a, unscoped, role, url, name
):
    with unscoped():
        catalog_factories.shop(tenant_a)  # the catalog page reads its filters once it has one
    sign_in(client, tenant_a.people[role])
    response = client.get(url)
    assert response.status_code == 200
    assert f"Ignored “{name}” in the address" in response.get_data(as_text=True)


def test_a_price_filter_too_large_for_a_decimal_is_flagged(client, tenant_a, unscoped):
    with unscoped():
        catalog_factories.shop(tenant_a)
    sign_in(client, tenant_a.people[Role.BUYER])
    response = client.get("/catalog?min_price=1e999999&max_price=-1e999999")
    assert response.status_code == 200
    assert "Enter an amount like 500" in response.get_data(as_text=True)


@pytest.mark.parametrize("reserved", ["_scheme", "_anchor", "_external", "_method"])
def test_names_url_for_reserves_stay_text_in_links(app, tenant_a, unscoped, reserved):
    """Filters and page links copy the query string as text; passed to ``url_for`` as
    arguments, ``_scheme=javascript`` raised (or, with ``_external``, built a link)."""
    with unscoped():
        db.session.add_all(
            Organization(name=f"Customer {n:03}", kind="customer", vendor_id=tenant_a.vendor_id)
            for n in range(30)
        )
        db.session.commit()
    client = sign_in(app.test_client(), tenant_a.people[Role.ADMIN])
    query = f"{reserved}=javascript&_external=1&kind=customer"
    pages = client.get(f"/admin/organizations?{query}").get_data(as_text=True)
    assert f'href="/admin/organizations?{reserved}=javascript' in pages.replace("&amp;", "&")
    sign_in(client, tenant_a.people[Role.CSM])
    for path in ("/orders", "/engagements"):  # their export links keep the filters
        listed = client.get(f"{path}?{query}")
        assert listed.status_code == 200
        assert 'href="javascript' not in listed.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/\n/evil.example", "/orders\r\nSet-Cookie: planted=1"])
def test_a_line_break_in_next_redirects_home_not_elsewhere(client, tenant_a, target):
    person = tenant_a.people[Role.BUYER]
    response = client.post(
        f"/sign-in?{urlencode({'next': target})}",
        data={"email": person.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
