"""Servlets, their versions, catalogs (with their prices) and recommendations."""

from flask import Blueprint, Flask

from core.wiring import wire

bp = Blueprint("catalog", __name__, cli_group="catalog")

# The modules that declare something for the app; see core.wiring.
MODULES = (
    "views",
    "home",
    "authoring_views",
    "catalog_views",
    "recommendation_views",
    "jobs",
    "seed",
)


def init_app(app: Flask) -> None:
    wire(app, bp, __name__, MODULES)
