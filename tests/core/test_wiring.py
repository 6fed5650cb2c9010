"""Each area is wired by its ``init_app``: nothing it declares depends on an import elsewhere.

Checked in a fresh interpreter, since modules imported by earlier tests would hide a module
that ``create_app`` itself never loads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import pkgutil, sys
from importlib import import_module
from core import scheduler, queue, stripe_webhooks, demo, navigation, home
from core.app import AREAS, create_app

def declared():
    return (
        sorted(job.id for job in scheduler.jobs()),
        sorted(queue.kinds()),
        sorted(stripe_webhooks._handlers),
        sorted(f.__module__ + "." + f.__qualname__ for f in demo._seeders),
        sorted(item.endpoint for item in navigation._items),
        sorted(home.registered()),
    )

create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "probe"})
wired = declared()
unloaded = []
for area in AREAS:
    for module in pkgutil.walk_packages(import_module(area).__path__, area + "."):
        if module.name not in sys.modules:
            unloaded.append(module.name)
            import_module(module.name)
print(unloaded)
print(wired == declared())
"""


def test_create_app_loads_every_module_of_every_area_and_so_every_declaration():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    unloaded, same = result.stdout.strip().splitlines()[-2:]
    assert unloaded == "[]", f"modules no area's init_app loads: {unloaded}"
    assert same == "True"


def test_each_area_registers_its_blueprint(app):
    assert {"core", "accounts", "catalog", "ordering", "delivery"} <= set(app.blueprints)
