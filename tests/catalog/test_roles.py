"""Who may open which catalog page: every role of the vendor, its customer and its partner,
over every GET route of the catalog area (taken from the URL map, so new routes are covered).
Allowed roles are the view's ``requires``; others get 403 on lists and 404 on objects."""

from __future__ import annotations

import pytest

from core.app import create_app
from core.permissions import Role
from tests.catalog import factories
from tests.conftest import TEST_CONFIG, sign_in


def catalog_get_routes() -> list[str]:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("catalog.") and "GET" in rule.methods
    )


ROUTES = catalog_get_routes()


def test_the_matrix_covers_the_catalog_area():
    assert {"catalog.browse", "catalog.servlet_page", "catalog.servlets"} <= set(ROUTES)


@pytest.mark.parametrize("endpoint", ROUTES)
def test_each_role_gets_what_the_route_allows(app, client, tenant_a, unscoped, endpoint):
    with unscoped():
        servlet_id, catalog_id = factories.shop(tenant_a)
    values = {"servlet_id": servlet_id, "catalog_id": catalog_id, "fmt": "csv"}
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        url = rule.build({name: values[name] for name in rule.arguments})[1]
    allowed = set(app.view_functions[endpoint].required_roles)
    assert client.get(url).status_code == 302  # anonymous: to the sign-in page
    for role in Role:
        sign_in(client, tenant_a.people[role])
        status = client.get(url).status_code
        if role in allowed:
            assert status == 200, f"{role} {url} answered {status}"
        else:
            # A route about an object hides whether it exists: 404, not 403.
            expected = 404 if rule.arguments else 403
            assert status == expected, f"{role} {url} answered {status}"


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        (Role.ADMIN, {"Servlets", "Catalogs", "Recommendations"}),
        (Role.CSM, {"Recommendations"}),
        (Role.BUYER, {"Catalog"}),
        (Role.APPROVER, {"Catalog"}),
        (Role.VIEWER, {"Catalog"}),
        (Role.FINANCE, set()),
        (Role.PARTNER_MANAGER, set()),
    ],
)
def test_navigation_shows_each_role_its_catalog_pages(client, tenant_a, role, visible):
    sign_in(client, tenant_a.people[role])
    html = client.get("/").data.decode()
    for label in ("Servlets", "Catalogs", "Recommendations", "Catalog"):
        link = f"</i>{label}</a></li>"  # a sidebar link: its icon, then its label
        assert (link in html) == (label in visible), label
