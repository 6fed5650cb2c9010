"""Generated hostile input wherever a person can type, as every role: an answer, never a 5xx.

Routes come from the app's URL map; query-parameter names from the pages themselves (the
fields of their filter forms, the query strings of their links) plus the names ``url_for``
reserves; forms, their fields and starting values from what the pages render. A new route,
filter or form is fuzzed the day it is added. Hypothesis draws the values: numbers too large
for a Decimal or an id column, dates out of range, unicode, NUL, line breaks.

One app and one set of objects serve the whole module (building them per example would take
minutes); examples may change that data, as a person clicking around would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter, Rule

from core.app import create_app
from core.extensions import db
from core.permissions import Role
from core.tenancy import all_tenants
from tests import factories
from tests.conftest import TEST_CONFIG, _empty_tables, sign_in
from tests.ordering import factories as ordering_factories
from tests.page_forms import PageForm, read_page
from tests.tenant_objects import ID_BUILDERS

ROLES: list[Role | None] = [None, *Role]  # None: not signed in
RESERVED_NAMES = ["_scheme", "_anchor", "_external", "_method", "next", "format", "page"]
ODD_VALUES = [
    "1e999999",
    "-1e999999",
    "1e-1000020",
    "9" * 40,
    str(2**31),
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    "-1",
    "0",
    "-0",
    "NaN",
    "-Infinity",
    "sNaN",
    "1_000",
    "0x1F",
    "١٢٣",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "2024-02-30",
    "2024-1-5",
    "",
    " ",
    "\x00",
    "a\x00b",
    "\n",
    "/\n/evil.example",
    "x\r\nSet-Cookie: planted=1",
    "//evil.example",
    "_scheme",
    "_anchor",
    "csv",
    "json",
    "xml",
    "ü" * 3000,
    "\u202eevil\u202d",
    "😀",
    "%00",
]
VALUES = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.decimals().map(str),
    st.dates().map(str),
    st.text(max_size=30),
)
# What broke a field of its kind before, the kind judged by the value the form shows.
KILLERS = {
    "number": ["1e999999", "1e-1000020", "sNaN", str(2**64), "-1"],
    "date": ["9999-12-31", "0001-01-01", "2024-02-30"],
    "text": ["ü" * 3000, "1e-1000020"],
}
FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class World:
    """Objects of every kind, a client per role, and what the pages showed them."""

    app: Flask
    tenant: factories.Tenant
    ids: dict[str, int]
    clients: dict[Role | None, FlaskClient]
    open_pages: list[tuple[Role | None, Rule]] = field(default_factory=list)
    query_names: set[str] = field(default_factory=set)
    field_names: set[str] = field(default_factory=set)
    forms: list[tuple[Role | None, PageForm]] = field(default_factory=list)

    def client(self, role: Role | None) -> FlaskClient:
        """The role's client, signed in afresh (an example may have signed it out)."""
        client = self.clients[role]
        if role is None:
            with client.session_transaction() as session:
                session.clear()
        else:
            sign_in(client, self.tenant.people[role])
        return client


def fuzzed_rules(app: Flask, method: str) -> list[Rule]:
    """Routes a person can reach by typing, static files aside."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if method in rule.methods
            and not any(isinstance(c, PathConverter) for c in rule._converters.values())
        ),
        key=lambda rule: rule.rule,
    )


def url_of(rule: Rule, values: dict[str, object]) -> str:
    return rule.build(values, append_unknown=False)[1]


def real_values(world: World, rule: Rule) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, IntegerConverter):
            values[name] = world.ids[name]
        else:
            values[name] = "not-a-token"
    return values


@pytest.fixture(scope="module")
def world(schema: str) -> Iterator[World]:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": schema})
    try:
        with app.app_context(), all_tenants():
            tenant = factories.tenant("Acme Software")
            ids = {name: build(tenant) for name, build in ID_BUILDERS.items()}
            servlet_id = ordering_factories.offered_servlet(
                tenant, intake_questions=ordering_factories.ALL_QUESTIONS
            )
            ordering_factories.cart_line(tenant, servlet_id)  # checkout asks every question
        world = World(app, tenant, ids, {role: app.test_client() for role in ROLES})
        seen: set[tuple[str | None, frozenset[str]]] = set()
        for role in ROLES:
            for rule in fuzzed_rules(app, "GET"):
                _harvest(world, role, rule, seen)
        yield world
    finally:
        with app.app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()


def _harvest(world: World, role: Role | None, rule: Rule, seen: set) -> None:
    """Names and forms of one page; a form posting where an earlier one did, with the same
    fields, is kept once (every page has the sign-out form, every row of a list a form)."""
    url = url_of(rule, real_values(world, rule))
    response = world.client(role).get(url)
    if response.status_code != 200 or response.mimetype != "text/html":
        return
    world.open_pages.append((role, rule))
    page = read_page(response.get_data(as_text=True))
    for href in page.links:
        world.query_names.update(name for name, _ in parse_qsl(urlsplit(href).query))
    for form in page.forms:
        if form.method == "get":
            world.query_names.update(form.names)
            continue
        world.field_names.update(form.names)
        action = form.action or url
        key = (_endpoint(world.app, action), frozenset(form.names))
        if key not in seen:
            seen.add(key)
            world.forms.append((role, replace(form, action=action)))


def _endpoint(app: Flask, url: str) -> str | None:
    try:
        return app.url_map.bind("desk.test").match(urlsplit(url).path, method="POST")[0]
    except HTTPException:
        return None


def _path_values(draw, world: World, rule: Rule) -> dict[str, object]:
    values = real_values(world, rule)
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter) and draw(st.booleans()):
            values[name] = draw(
                st.one_of(
                    st.sampled_from([0, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]),
                    st.integers(min_value=0, max_value=2**70),
                )
            )
        elif not isinstance(converter, IntegerConverter | AnyConverter):
            values[name] = draw(st.text(min_size=1, max_size=40).filter(lambda t: "/" not in t))
    return values


def _names(known: set[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(sorted(known | set(RESERVED_NAMES))), st.text(min_size=1, max_size=12)
    )


def _kind(value: str) -> str:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return "date"
    if re.fullmatch(r"-?[0-9][0-9,]*(\.[0-9]+)?", value):
        return "number"
    return "text"


def _assert_answered(response, what: str) -> None:
    assert response.status_code < 500, f"{response.status_code} for {what}"


def test_no_query_string_or_path_id_causes_a_server_error(world):
    assert {"state", "customer", "min_price", "from", "since"} <= world.query_names
    rules = fuzzed_rules(world.app, "GET")
    names = sorted(world.query_names | set(RESERVED_NAMES))
    # Every page each role can open (and every route for a visitor), every known name
    # holding an odd value...
    for index, (role, rule) in enumerate([*((None, rule) for rule in rules), *world.open_pages]):
        pairs = [(n, ODD_VALUES[(index + i) % len(ODD_VALUES)]) for i, n in enumerate(names)]
        url = f"{url_of(rule, real_values(world, rule))}?{urlencode(pairs)}"
        _assert_answered(world.client(role).get(url), f"{role} GET {url[:300]}")

    # ...then Hypothesis mixes roles, routes, ids, names and values.
    @FUZZ
    @given(data=st.data())
    def probe(data) -> None:
        role = data.draw(st.sampled_from(ROLES), label="role")
        rule = data.draw(st.sampled_from(rules), label="rule")
        path = url_of(rule, _path_values(data.draw, world, rule))
        pairs = data.draw(st.lists(st.tuples(_names(world.query_names), VALUES), max_size=5))
        url = f"{path}?{urlencode(pairs)}"
        _assert_answered(world.client(role).get(url), f"{role} GET {url[:300]}")

    probe()


def test_no_form_submission_causes_a_server_error(world):
    """Each form a page renders, as the role that saw it, starting from the values it shows;
    POST routes no page links to are posted with hostile fields of every known name."""
    assert {"price", "quantity", "approval_threshold", "tax_rate"} <= world.field_names
    assert len(world.forms) >= 20
    # Every field of every form (the first of repeated rows), alone, with what broke such
    # fields before...
    for role, form in world.forms:
        shown = dict(form.fields)
        for name in sorted(n for n in form.names if not re.search(r"-[1-9][0-9]*-", n)):
            for value in KILLERS[_kind(shown.get(name, ""))]:
                body = [(n, v) for n, v in form.fields if n != name] + [(name, value)]
                response = world.client(role).post(form.action, data=MultiDict(body))
                _assert_answered(response, f"{role} POST {form.action} {name}={value[:40]!r}")

    targets = [(role, form.action, form.fields, form.names) for role, form in world.forms]
    reached = {_endpoint(world.app, action) for _, action, _, _ in targets}
    for rule in fuzzed_rules(world.app, "POST"):
        if rule.endpoint not in reached:
            url = url_of(rule, real_values(world, rule))
            targets.extend((role, url, [], set()) for role in ROLES)

    # ...then Hypothesis changes a few fields at a time: any name, any value.
    @FUZZ
    @given(data=st.data())
    def probe(data) -> None:
        role, action, fields, names = data.draw(st.sampled_from(targets), label="target")
        changes = data.draw(
            st.lists(st.tuples(_names(names or world.field_names), VALUES), max_size=4)
        )
        changed = {name for name, _ in changes}
        body = [(n, v) for n, v in fields if n not in changed] + changes
        response = world.client(role).post(action, data=MultiDict(body))
        _assert_answered(response, f"{role} POST {action} {changes!r:.300}")

    probe()
