"""The demo database both benchmarks start from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask_migrate import upgrade
from sqlalchemy import select

from accounts.models import Membership, User
from catalog.models import Catalog
from catalog.queries import assigned_catalogs
from core.app import create_app
from core.demo import run_seeders
from core.extensions import db
from core.permissions import Role
from core.tenancy import all_tenants, tenant_scope


@dataclass(frozen=True)
class DemoShop:
    buyer: Membership
    admin: Membership  # the buyer's vendor's admin
    catalog: Catalog  # the buyer's first catalog


@contextmanager
def demo_shop(database_url: str, buyer_email: str) -> Iterator[DemoShop]:
    """Migrate a fresh database and seed the demo; inside, the buyer's vendor is the scope."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
        run_seeders()
        with all_tenants():
            buyer = db.session.scalar(
                select(Membership).join(User).where(User.email == buyer_email)
            )
        with tenant_scope(buyer.vendor_id):
            admin = db.session.scalar(select(Membership).where(Membership.role == Role.ADMIN))
            yield DemoShop(buyer, admin, assigned_catalogs(buyer)[0])
        db.engine.dispose()
