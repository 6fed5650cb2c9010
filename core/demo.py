"""``flask demo seed``: demo data from every area, through a registry so core imports none.

Each area registers a seeder; seeders run in registration order (bottom-up, as the areas are
registered), must be idempotent, and may add rows to the login table printed at the end.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import AppGroup

from core.extensions import db
from core.tenancy import all_tenants

Login = tuple[str, str, str, str]  # organisation, role, email, password
Seeder = Callable[[list[Login]], None]

_seeders: list[Seeder] = []

demo_cli = AppGroup("demo", help="Demo data.")


def seeder(func: Seeder) -> Seeder:
    _seeders.append(func)
    return func


def run_seeders() -> list[Login]:
    logins: list[Login] = []
    with all_tenants():
        for func in _seeders:
            func(logins)
            db.session.commit()
    return logins


def print_logins(logins: list[Login]) -> None:
    rows = [("Organisation", "Role", "Email", "Password"), *logins]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            click.echo("  ".join("-" * width for width in widths))


@demo_cli.command("seed")
def seed_command() -> None:
    """Create the demo vendors, customers, partners and users (safe to run again)."""
    logins = run_seeders()
    click.echo("Demo data ready. Sign in with any of these:\n")
    print_logins(logins)
