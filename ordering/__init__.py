"""Cart, checkout, orders and approvals, entitlements and card payments."""

from flask import Blueprint, Flask

from core.wiring import wire

bp = Blueprint("ordering", __name__)

# The modules that declare something for the app; see core.wiring.
MODULES = (
    "views",
    "home",
    "order_views",
    "payment_views",
    "entitlement_views",
    "payments",
    "order_form",
    "seed",
)


def init_app(app: Flask) -> None:
    wire(app, bp, __name__, MODULES)
