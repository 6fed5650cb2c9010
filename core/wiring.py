"""How an area joins the app: its ``init_app`` names the modules that declare things (routes,
signal receivers, jobs, queued work, webhook handlers, seeders, navigation) and registers its
blueprint, and ``create_app`` calls each area's ``init_app`` bottom-up.

Declarations are decorators that fill core's registries when their module is imported, so a
module must be imported to count: ``wire`` imports exactly the modules an area lists, and a
test checks that after ``create_app`` every module of every area is loaded, so a module
nobody imports cannot silently never run.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

from flask import Blueprint, Flask


def wire(app: Flask, blueprint: Blueprint, package: str, modules: Iterable[str]) -> None:
    """Import ``package``'s declaring ``modules``, then register its ``blueprint``."""
    for module in modules:
        import_module(f"{package}.{module}")
    app.register_blueprint(blueprint)
