"""Every ``<int:...>`` of every route is an id: what no id column holds is a 404, not a 500."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from core.converters import IdConverter
from core.permissions import Role
from tests.conftest import sign_in


def test_every_int_route_takes_bounded_ids(app):
    converters = [c for rule in app.url_map.iter_rules() for c in rule._converters.values()]
    ints = [c for c in converters if isinstance(c, IntegerConverter)]
    assert ints
    assert all(isinstance(c, IdConverter) for c in ints)


@pytest.mark.parametrize("path_id", [str(2**64), str(2**31), "9" * 5000, "0"])
def test_a_path_id_no_row_can_have_is_a_404(client, tenant_a, path_id):
    sign_in(client, tenant_a.people[Role.ADMIN])
    assert client.get(f"/admin/servlets/{path_id}").status_code == 404
    assert client.post(f"/admin/catalogs/{path_id}/publish").status_code == 404
