"""Users, organisations, memberships, sign-in, sessions and invitations."""

from flask import Blueprint, Flask

from core.wiring import wire

bp = Blueprint("accounts", __name__, cli_group=None)

# The modules that declare something for the app; see core.wiring.
MODULES = ("views", "admin_views", "cli", "jobs", "seed")


def init_app(app: Flask) -> None:
    wire(app, bp, __name__, MODULES)
