"""The application factory: the one place that knows every area."""

from __future__ import annotations

import threading
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core import config as settings
from core import scheduler, security_headers
from core.extensions import bootstrap, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent

# Bottom-up, as imports flow; each area's ``init_app`` wires it (see ``core.wiring``).
AREAS = ("core", "accounts", "catalog", "ordering", "delivery", "billing", "success", "api")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: environment settings, then ``config`` overrides (tests use these)."""
    app = Flask(
        "servlet_desk",
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(settings.FIXED)
    app.config.update(settings.from_environment(Path(app.instance_path), app.debug))
    app.config.update(config or {})
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A server connection can drop between requests; a local SQLite file cannot.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    security_headers.init_app(app)

    for area in AREAS:
        import_module(area).init_app(app)
    if app.config["TRUSTED_PROXIES"]:
        # Behind a load balancer the client's address (sign-in limits, audit) and the scheme
        # (Secure cookies, HSTS) come from its X-Forwarded-* headers, and only from its own.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if app.config["SCHEDULER_IN_PROCESS"]:
        _start_scheduler_with_first_request(app)
    return app


def _start_scheduler_with_first_request(app: Flask) -> None:
    """The development server's scheduler starts when it serves, not when a CLI command
    (``db upgrade``, ``demo seed``) or the reloader's watching process builds the app."""
    started: list[object] = []
    lock = threading.Lock()

    @app.before_request
    def start_scheduler() -> None:
        if not started:
            with lock:
                if not started:
                    started.append(scheduler.start_in_process(app))
