from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from accounts.models import Membership, User
from core.app import create_app
from core.config import SETTINGS
from core.db import managed_by_models
from core.extensions import db
from tests.conftest import TEST_CONFIG

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_build_exactly_the_schema_the_models_describe(tmp_path, schema):
    url = schema if schema.startswith("postgresql") else f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    if url.startswith("postgresql"):
        url = url.rsplit("/", 1)[0] + "/postgres"
        url = _fresh_postgres_database(url)
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": managed_by_models}
            )
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == []


def _fresh_postgres_database(admin_url: str) -> str:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS migrated"))
        connection.execute(text("CREATE DATABASE migrated"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/migrated"


def test_demo_seed_is_idempotent_and_prints_working_logins(app, unscoped):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    second = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert "admin@northwind.example" in first.output
    assert "buyer@blue.example" in first.output
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Membership)) == 20
    client = app.test_client()
    response = client.post(
        "/sign-in", data={"email": "finance@helios.example", "password": "servlet-demo-1"}
    )
    assert response.status_code == 302


def test_users_create_makes_a_vendor_admin_who_can_sign_in(app, unscoped):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--vendor",
            "Initech",
            "--email",
            "Boss@Initech.example",
            "--password",
            "long enough pw",
        ]
    )
    assert result.exit_code == 0, result.output
    again = runner.invoke(
        args=[
            "users",
            "create",
            "--vendor",
            "Initech 2",
            "--email",
            "boss@initech.example",
            "--password",
            "long enough pw",
        ]
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    with unscoped():
        user = db.session.scalar(select(User).where(User.email == "boss@initech.example"))
        assert user.check_password("long enough pw")
    response = app.test_client().post(
        "/sign-in", data={"email": "boss@initech.example", "password": "long enough pw"}
    )
    assert response.status_code == 302


def test_the_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in readme, setting.name
