"""The REST API under ``/api/v1``, its tokens, and outbound webhooks.

Built with flask-smorest: it plugs into this Flask app and its blueprints as they are,
generates the OpenAPI 3.1 document (``/api/v1/openapi.json``) from the marshmallow schemas the
views declare, and validates requests with the same schemas. The reference page
(``/api/v1/docs``) is Swagger UI served from ``static/api/`` with no inline script.

Adding a resource (see ``api/servlets.py`` for a small, complete one)
----------------------------------------------------------------------
1. In a module listed in ``MODULES``, declare ``blp = ApiBlueprint("orders", __name__,
   area="orders", url_prefix="/orders")``. Every route of it then needs the scope
   ``read:orders`` (GET) or ``write:orders`` (any other method; write includes read). A view
   that needs another area's scope says so with ``@needs_scope("write:billing")``; ``area=None``
   means any valid token (``/me``).
2. Views act as ``current_actor()`` exactly as web views do: the bearer token's membership is
   the request's actor and sets its tenant scope (``api.auth``), so load objects with
   ``core.permissions.get_or_404`` / ``scoped`` and call the same services and policies. An
   object outside the caller's reach (another vendor's, another customer's) is a 404.
3. Declare what comes in and goes out: ``@blp.arguments(Schema)`` for the JSON body (unknown
   fields are refused) or ``@blp.arguments(Schema, location="query")``, and
   ``@blp.response(200, Schema)``. Schemas derive from ``api.fields.ApiSchema``; money is
   ``api.fields.MoneyField`` (``{"amount": 129900, "currency": "EUR"}``: integer minor units,
   as webhook payloads), timestamps ``api.fields.Timestamp`` (RFC 3339 UTC with ``Z``), ids
   ``api.fields.Id``. Id arguments of new routes need a builder in ``tests/tenant_objects.py``:
   ``tests/api/test_api_tenancy.py`` then checks another vendor's tokens get 404 there.

Conventions every endpoint gets without writing anything
--------------------------------------------------------
- Auth (``api.auth``): ``Authorization: Bearer sd_live_...``; missing, malformed, unknown,
  expired or revoked → 401, a scope the token lacks → 403. Cookies are ignored under
  ``/api/v1`` (no session is opened), so the API is exempt from CSRF. Tokens
  (``api.token_models``): personal ones act as their maker's membership with its current
  role; service ones (vendor admins make them) act with the maker's vendor and a vendor role
  chosen for the token. Scopes only narrow what that role may do.
- Errors (``api.problems``): every error under ``/api/v1`` is ``application/problem+json``
  (RFC 9457) with ``type``, ``title``, ``status``, ``detail`` and, for refused input,
  ``errors``: ``[{"pointer": "#/name", "detail": "..."}]`` for the body and
  ``[{"parameter": "limit", "detail": "..."}]`` for the query string. A ``ServiceError``
  becomes a problem with its message: ``NotFound`` 404, ``NotAllowed`` 403, ``Conflict`` and
  ``InvalidTransition`` 409, any other 422 (one with a ``field`` attribute gets a pointer).
- Bodies (``api.requests``): JSON only (415 otherwise), at most ``MAX_BODY_BYTES`` (1 MB;
  413; a view raises its own with ``@body_limit(bytes)``), nested at most
  ``core.uploads.MAX_JSON_DEPTH`` deep and free of NUL (400), malformed → 400.
- Rate limits (``api.ratelimits``): per token, ``RateLimit-Limit``/``-Remaining``/``-Reset`` on
  every answer, 429 past the limit.
- Idempotency (``api.idempotency``): any POST may carry ``Idempotency-Key``; the first answer
  (status and body, when not a 5xx) is stored per token and key and returned again for a
  repeat; the same key with another method, path or body is a 422; a repeat while the first
  still runs is a 409. The key's row is inserted (and committed) before the view runs, so two
  concurrent duplicates never both run.
- Writes are audited as usual by the services; each audit event of an API request carries
  ``"api_token_id"`` in its ``changes`` (``api.auth``).

Conventions an endpoint opts into
---------------------------------
- Lists (``api.pagination``): ``@blp.arguments(ListArgs, location="query")`` and
  ``return keyset_page(stmt, args, keys=(Model.id,))``; the body is
  ``{"data": [...], "next_cursor": "..." | null}`` with a ``Link: <...>; rel="next"`` header.
  Cursors are opaque; order is by the ``keys`` (unique, ascending), so a walk is stable
  under inserts. ``updated_since`` (RFC 3339) filters where the resource has a change time.
- ETags (flask-smorest's own): ``@blp.etag`` on single-resource GETs (the tag is a hash of
  the dumped body; ``If-None-Match`` → 304); on PATCH/PUT ``@blp.etag`` plus
  ``blp.check_etag(obj, Schema)`` before changing anything: no ``If-Match`` → 428, a stale
  one → 412 (``tests/api/probe.py`` has a PATCH that does it).
- View docstrings become the operation's summary in the OpenAPI document: write Markdown
  there (single backticks), not reStructuredText.
"""

from importlib import import_module

from flask import Blueprint, Flask

from core.wiring import wire

bp = Blueprint("api", __name__, cli_group="api")

# The modules that declare something for the app; see core.wiring. Modules that declare an
# ``ApiBlueprint`` get it registered with the REST API by ``init_app``.
MODULES = (
    "auth",
    "idempotency",
    "token_views",
    "docs_views",
    "me",
    "servlets",
    "catalogs",
    "accounts",
    "signals",
    "webhook_endpoints",
    "orders",
    "recommendations",
    "engagements",
    "engagement_work",
    "invoices",
    "webhook_models",
    "webhook_events",
    "webhook_delivery",
    "webhook_views",
)


def init_app(app: Flask) -> None:
    from api import rest  # not at the top: its modules import ``bp`` from here

    rest.init_app(app)
    wire(app, bp, __name__, MODULES)
    for name in MODULES:
        resource = getattr(import_module(f"{__name__}.{name}"), "blp", None)
        if resource is not None:
            rest.register(app, resource)
