"""Engagements: the delivery of what was ordered."""

from flask import Blueprint, Flask

from core.wiring import wire

bp = Blueprint("delivery", __name__)

# The modules that declare something for the app; see core.wiring.
MODULES = (
    "views",
    "home",
    "dashboard_views",
    "engagements",
    "seed",
    "resource_views",
    "allocation_views",
    "moves",
    "engagement_views",
    "work_views",
    "customer_views",
    "change_order_views",
    "jobs",
)


def init_app(app: Flask) -> None:
    wire(app, bp, __name__, MODULES)
