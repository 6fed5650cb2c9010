"""Shared fixtures: the app on a real database, a client, people in every role, query counts.

The database lane is chosen with ``--database`` (sqlite by default, or postgresql, which
starts a throwaway server for the session). The schema is created once per session and every
table is emptied after each test, so tests commit for real (as the app does) and still start
clean.
"""

from __future__ import annotations

import os

os.environ["SERVLET_DESK_LAZY_RAISE"] = "1"  # before any model is imported

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from core import scheduler
from core.app import create_app
from core.extensions import db
from core.tenancy import all_tenants
from tests import factories, postgres

pytest_plugins = ["tests.stripe_fake"]  # the ``stripe_fake`` fixture


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="database lane: sqlite (default) or postgresql (throwaway server)",
    )


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.config.getoption("--database") == "postgresql":
        with postgres.throwaway_server() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


TEST_CONFIG = {
    "TESTING": True,
    "WTF_CSRF_ENABLED": False,
    "SECRET_KEY": "test-secret-key",
    "SESSION_COOKIE_SECURE": False,
    "MAIL_SERVER": "",
    "OUTBOX_PAGE": True,
    "SERVER_NAME": "desk.test",
}


@pytest.fixture(scope="session")
def schema(database_url: str) -> str:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        db.drop_all()
        db.create_all()
    return database_url


@pytest.fixture
def app_config() -> dict[str, object]:
    """Override in a test module (or parametrize) to change settings for its tests."""
    return {}


@pytest.fixture
def app(schema: str, app_config: dict[str, object]) -> Iterator[Flask]:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": schema, **app_config})
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


def _empty_tables() -> None:
    """Every row gone and ids from 1 again, as in a new database. On PostgreSQL by DELETE and
    a sequence restart in one round trip: TRUNCATE makes new files for each of the ~45 tables
    and their indexes, which cost more than the few rows a test leaves."""
    tables = db.metadata.sorted_tables
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            restart = [
                select(func.setval(func.pg_get_serial_sequence(f'"{table.name}"', "id"), 1, False))
                for table in tables
                if "id" in table.c
            ]
            statements = [
                str(
                    stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
                )
                for stmt in [*(table.delete() for table in reversed(tables)), *restart]
            ]
            connection.exec_driver_sql(";\n".join(statements))
        else:
            for table in reversed(tables):
                connection.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def unscoped(app: Flask):
    """``with unscoped(): ...`` reads or writes the database directly, across tenants."""

    @contextmanager
    def block() -> Iterator[None]:
        with app.app_context(), all_tenants():
            yield

    return block


@pytest.fixture
def tenants(app: Flask) -> tuple[factories.Tenant, factories.Tenant]:
    """Two vendors, built A then B, each with two customers: every test has another tenant
    and another customer that its data could leak to."""
    with app.app_context(), all_tenants():
        return factories.tenant("Acme Software"), factories.tenant("Globex Systems")


@pytest.fixture
def tenant_a(tenants: tuple[factories.Tenant, factories.Tenant]) -> factories.Tenant:
    return tenants[0]


@pytest.fixture
def tenant_b(tenants: tuple[factories.Tenant, factories.Tenant]) -> factories.Tenant:
    return tenants[1]


def sign_in(client: FlaskClient, person: factories.Person) -> FlaskClient:
    """Put ``person`` in the client's session as Flask-Login would after signing in."""
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = person.session_id
        session["_fresh"] = True
        session["membership_id"] = person.membership_id
    return client


@pytest.fixture
def count_queries(app: Flask):
    """``with count_queries() as counted: ...`` then ``len(counted)`` is the SQL statements
    (not counting the ``BEGIN`` that opens a transaction on SQLite, see ``core.db``)."""

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany) -> None:
            if not statement.startswith("BEGIN"):
                statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


@pytest.fixture
def run_jobs(app: Flask):
    """``run_jobs()`` does the background work queued so far, as the scheduler would."""
    return lambda: scheduler.drain(app)
