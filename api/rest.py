"""The REST API's frame: the flask-smorest ``Api``, ``ApiBlueprint`` for resources, and the
three things that make ``/api/v1`` unlike the pages: no cookies, no CSRF, problem errors.

- No cookies: under the prefix no session is opened or saved (``ApiAwareSessions``), so
  Flask-Login falls through to the bearer-token loader (``api.auth``) and a browser's session
  cookie authorises nothing; that is also why the API is exempt from CSRF.
- Errors: the app's own error handlers (``core.errors``) answer pages; for API paths each is
  fronted by ``api.problems.problem_for``, which covers routed views, unknown paths (404),
  wrong methods (405) and errors raised before any view (413, 429) alike.
- Every ``ApiBlueprint`` route runs, in order: authorisation and scope (``api.auth``), body
  checks (``api.requests``), then the idempotency claim (``api.idempotency``).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Flask, Request
from flask import request as current_request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.utils import prepare_response
from werkzeug.wrappers import Response

from api import auth, fields, idempotency, problems, ratelimits, requests
from api.problems import PREFIX, is_api_request
from core.extensions import csrf

API_VERSION = "v1"
DESCRIPTION = """The Servlet Desk REST API. Authenticate with `Authorization: Bearer sd_live_...`
(make a token under Settings → API tokens). Errors are `application/problem+json`
(RFC 9457); lists are cursor pages; money is integer minor units with a currency; times are
RFC 3339 in UTC. See the README's API section for the conventions."""

SPEC_OPTIONS: dict[str, Any] = {
    "info": {"description": DESCRIPTION},
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal or service token, sd_live_...",
            }
        }
    },
    "security": [{"bearerToken": []}],
}


class RestApi(Api):
    """flask-smorest's ``Api`` without its app-wide JSON error handler (the pages keep
    theirs, API paths get problems: ``take_over_api_errors``) and with errors documented as
    problems; its page-number pagination is not used."""

    ERROR_SCHEMA = problems.ProblemSchema

    def _register_error_handlers(self) -> None:
        pass

    def _register_responses(self) -> None:
        """Error responses as ``application/problem+json`` (smorest's are JSON)."""
        for status in (*HTTPStatus, "DEFAULT_ERROR"):
            name = status if isinstance(status, str) else status.name
            response: dict[str, Any] = {
                "description": "An error" if isinstance(status, str) else status.phrase
            }
            if isinstance(status, str) or status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, problems.MEDIA_TYPE)
            self.spec.components.response(name, response, lazy=True)

    def _register_pagination_header(self) -> None:
        pass


class ApiBlueprint(SmorestBlueprint):
    """A resource of the API, mounted under ``/api/v1``; see the ``api`` package docstring.

    ``area`` names the scope area its routes need (``read:<area>`` for GET, ``write:<area>``
    otherwise); ``None`` lets any valid token in.
    """

    ARGUMENTS_PARSER = requests.JsonBodyParser()

    def __init__(
        self,
        name: str,
        import_name: str,
        *,
        area: str | None,
        url_prefix: str = "",
        description: str = "",
    ) -> None:
        super().__init__(name, import_name, url_prefix=PREFIX + url_prefix, description=description)
        self.area = area
        self.before_request(auth.authorize)
        self.before_request(requests.check_body)
        self.before_request(idempotency.claim_or_replay)
        self.after_request(idempotency.store_answer)


class ApiAwareSessions(SecureCookieSessionInterface):
    """No session under the API's prefix: cookies neither authenticate nor get set there."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if _is_api_path(request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if _is_api_path(current_request.path):
            return
        super().save_session(app, session, response)


def _is_api_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def init_app(app: Flask) -> None:
    for name, value in {
        "API_TITLE": "Servlet Desk API",
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": SPEC_OPTIONS,
    }.items():
        app.config.setdefault(name, value)
    rest = app.extensions["servlet_desk_api"] = RestApi(app)
    rest.register_field(fields.Hours, ["string", "number"], None)
    app.session_interface = ApiAwareSessions()
    ratelimits.init_app(app)
    take_over_api_errors(app)


def register(app: Flask, blueprint: ApiBlueprint) -> None:
    """Mount ``blueprint`` and describe it in the OpenAPI document."""
    app.extensions["servlet_desk_api"].register_blueprint(blueprint)
    csrf.exempt(blueprint)


def take_over_api_errors(app: Flask) -> None:
    """Front each of the app's error handlers with the problem answer for API paths.

    Flask picks a handler by the error's code, then class; fronting every registered one
    (the app's ``HTTPException``, 500, ``ServiceError`` and CSRF handlers) means whichever
    Flask picks, an API request gets a problem and a page gets its page.
    """
    for handlers in app.error_handler_spec[None].values():
        for error_class, handler in list(handlers.items()):
            handlers[error_class] = _api_first(handler)


def _api_first(page_handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def handle(error: Any) -> Any:
        if is_api_request():
            return problems.problem_for(error)
        return page_handler(error)

    handle.__name__ = getattr(page_handler, "__name__", "handle")
    return handle
