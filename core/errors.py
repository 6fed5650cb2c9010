"""Domain errors raised by services, and the one place the web layer maps them to responses."""

from __future__ import annotations

from flask import Flask, flash, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from core.audit import record_denied
from core.extensions import db


class ServiceError(Exception):
    """A refusal with a message the user can read and act on."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class InvalidTransition(ServiceError):
    status_code = 409


class Conflict(ServiceError):
    status_code = 409


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.path.startswith(
        ("/api/", "/webhooks/")
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError) -> Response | tuple[str, int]:
        db.session.rollback()
        if isinstance(error, NotAllowed):
            record_denied(request.endpoint or request.path, None)
        if _wants_json():
            return {"error": error.message}, error.status_code  # type: ignore[return-value]
        if request.method == "POST" and not isinstance(error, NotAllowed | NotFound):
            flash(error.message, "danger")
            return redirect(request.referrer or request.path)
        return render_template(
            "errors/error.html", code=error.status_code, message=error.message
        ), error.status_code

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        message = "Your form expired or was sent from elsewhere. Reload the page and try again."
        if _wants_json():
            return {"error": message}, 400  # type: ignore[return-value]
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
        if error.code is None or error.code < 400:
            return error
        if _wants_json():
            return {"error": error.description}, error.code  # type: ignore[return-value]
        custom = error.description if error.description != type(error).description else None
        return render_template("errors/error.html", code=error.code, message=custom), error.code

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        return render_template("errors/error.html", code=500, message=None), 500
