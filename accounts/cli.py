"""``flask users create``: the first admin of a vendor on a real deployment."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from accounts import bp, services
from core.errors import ServiceError

users_cli = AppGroup("users", help="User administration.")
bp.cli.add_command(users_cli)


@users_cli.command("create")
@click.option("--vendor", "vendor_name", required=True, help="Name of the new vendor.")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.password_option(help="Asked for when not given.")
def create_user(vendor_name: str, email: str, name: str, password: str) -> None:
    """Create a vendor and its first admin."""
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    try:
        membership = services.create_vendor_admin(vendor_name, email, password, name)
    except ServiceError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Created admin {email} of vendor {vendor_name} (membership {membership.id}).")
