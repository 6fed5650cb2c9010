"""The shared kernel: app factory, database, money, audit, mail, background work, Stripe."""

from flask import Blueprint, Flask

from core import converters
from core.wiring import wire

bp = Blueprint("core", __name__, cli_group=None)

# The modules that declare something for the app; see core.wiring.
MODULES = ("views", "navigation", "templating", "stripe_webhooks", "notification_views")


def init_app(app: Flask) -> None:
    # First of all areas, before any route is added: rules pick their converters then.
    converters.init_app(app)
    wire(app, bp, __name__, MODULES)
