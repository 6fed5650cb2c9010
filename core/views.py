"""Core routes: health check for load balancers and the development outbox page."""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from core import bp
from core.bounds import has_nul
from core.demo import demo_cli
from core.errors import register_error_handlers
from core.extensions import db, limiter
from core.mail import OutboxEmail, readable_mail, reads_tenant_mail
from core.pagination import paginate
from core.permissions import requires
from core.scheduler import scheduler_cli

bp.cli.add_command(demo_cli)
bp.cli.add_command(scheduler_cli)
bp.record_once(lambda state: register_error_handlers(state.app))


@bp.before_app_request
def refuse_nul_characters() -> None:
    """Refuse NUL at the door with a clear 400 instead of failing deep in a query."""
    values = [*request.args.values(), *request.form.values(), request.path]
    if any(has_nul(value) for value in values):
        abort(400, "The request contains a NUL character, which is not allowed.")


@bp.get("/ping")
@limiter.exempt
def ping() -> ResponseReturnValue:
    """Liveness: the process answers, without touching the database (``/healthz`` does)."""
    return "pong", 200, {"Content-Type": "text/plain"}


@bp.get("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}


def outbox_enabled() -> bool:
    """The outbox page shows queued emails, reset links included: development only."""
    return bool(current_app.debug or current_app.config.get("OUTBOX_PAGE"))


@bp.get("/dev/outbox")
def outbox() -> ResponseReturnValue:
    if not outbox_enabled():
        abort(404)  # before asking anyone to sign in: outside development it does not exist
    return _outbox_of_current_user()


@requires()
def _outbox_of_current_user() -> ResponseReturnValue:
    """The signed-in user's own mail; a vendor admin also sees its tenant's mail. Never anyone
    else's: a password-reset link in it opens their account."""
    membership = current_user.membership
    stmt = select(OutboxEmail).where(readable_mail(current_user.email, membership))
    page = paginate(stmt.order_by(OutboxEmail.id.desc()), 20)
    return render_template("core/outbox.html", page=page, tenant_mail=reads_tenant_mail(membership))
