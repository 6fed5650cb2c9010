"""``/api/v1/webhook-endpoints``: the vendor admin's webhook endpoints, as on the settings
pages, through the same services (``api.webhooks``): register, read, change, switch off and
on, delete, rotate the signing secret.

Only vendor admins reach them: anyone else gets 403 for the list and a registration, 404 for
an endpoint. The secret is in the answers of a registration and a rotation only; every other
answer leaves it out. Delivery figures (failures, last success) are not part of an
endpoint's body: they change with every delivery, and so would its ``ETag``.
"""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from api import webhooks
from api.fields import ApiSchema, Timestamp
from api.pagination import ListArgs, keyset_page, page_of
from api.rest import ApiBlueprint
from api.webhook_events import EVENT_KEYS
from api.webhook_models import MAX_URL, WebhookEndpoint
from core.errors import NotAllowed
from core.extensions import db
from core.permissions import Role, current_actor, get_or_404, scoped

blp = ApiBlueprint(
    "webhook_endpoints",
    __name__,
    area="webhooks",
    url_prefix="/webhook-endpoints",
    description="Webhook endpoints: where the vendor's events are POSTed (vendor admins).",
)

EVENT_TYPE = fields.String(validate=validate.OneOf(EVENT_KEYS))


class EndpointSchema(ApiSchema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    event_types = fields.List(fields.String(metadata={"enum": list(EVENT_KEYS)}), required=True)
    enabled = fields.Boolean(required=True)
    disabled_at = Timestamp(required=True, allow_none=True)
    disabled_reason = fields.String(required=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True, allow_none=True)


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(
        required=True,
        metadata={"description": "The Standard Webhooks signing secret (whsec_...): shown once."},
    )
    previous_secret_until = Timestamp(
        required=True,
        allow_none=True,
        metadata={"description": "Until when the previous secret still signs, after a rotation."},
    )


class EndpointInSchema(ApiSchema):
    url = fields.String(required=True, validate=validate.Length(1, MAX_URL))
    description = fields.String(
        load_default="", validate=validate.Length(max=webhooks.MAX_DESCRIPTION)
    )
    event_types = fields.List(EVENT_TYPE, required=True, validate=validate.Length(1, 50))


class EndpointChangeSchema(ApiSchema):
    """The fields to change; those left out keep their value."""

    url = fields.String(validate=validate.Length(1, MAX_URL))
    description = fields.String(validate=validate.Length(max=webhooks.MAX_DESCRIPTION))
    event_types = fields.List(EVENT_TYPE, validate=validate.Length(1, 50))
    enabled = fields.Boolean(
        metadata={"description": "false holds its messages; true sends them and starts afresh."}
    )


def _refuse_unless_admin() -> None:
    actor = current_actor()
    if actor is None or actor.role is not Role.ADMIN:
        raise NotAllowed("Only the vendor's admins manage webhook endpoints.")


@blp.route("", endpoint="list")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_of(EndpointSchema))
def list_endpoints(args: dict[str, Any]) -> ResponseReturnValue:
    """The vendor's webhook endpoints, by id (vendor admins)."""
    _refuse_unless_admin()
    page = keyset_page(scoped(WebhookEndpoint), args, keys=(WebhookEndpoint.id,))
    return page.answer(args)


@blp.route("", methods=["POST"], endpoint="create")
@blp.arguments(EndpointInSchema)
@blp.response(201, EndpointWithSecretSchema)
def create_endpoint(values: dict[str, Any]) -> ResponseReturnValue:
    """Register an endpoint (vendor admins); the answer holds its signing secret, shown once.
    Loopback and private addresses are refused unless the server allows them."""
    return webhooks.create_endpoint(current_actor(), webhooks.EndpointValues(**values))


@blp.route("/<int:webhook_endpoint_id>", endpoint="show")
@blp.etag
@blp.response(200, EndpointSchema)
def show_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    """One endpoint, without its secret. Send its `ETag` as `If-Match` to change it."""
    return get_or_404(WebhookEndpoint, webhook_endpoint_id)


@blp.route("/<int:webhook_endpoint_id>", methods=["PATCH"], endpoint="update")
@blp.etag
@blp.arguments(EndpointChangeSchema)
@blp.response(200, EndpointSchema)
def update_endpoint(values: dict[str, Any], webhook_endpoint_id: int) -> ResponseReturnValue:
    """Change the address, description or events, or switch the endpoint off or on. Needs
    `If-Match` with the endpoint's `ETag`: 428 without, 412 when it changed since."""
    endpoint = get_or_404(WebhookEndpoint, webhook_endpoint_id)
    blp.check_etag(endpoint, EndpointSchema)
    actor = current_actor()
    if values.keys() - {"enabled"}:
        current = webhooks.EndpointValues(
            url=values.get("url", endpoint.url),
            description=values.get("description", endpoint.description),
            event_types=values.get("event_types", endpoint.event_types),
        )
        webhooks.update_endpoint(actor, endpoint, current)
    if "enabled" in values:
        webhooks.set_enabled(actor, endpoint, values["enabled"])
    return db.session.get(WebhookEndpoint, webhook_endpoint_id)


@blp.route("/<int:webhook_endpoint_id>", methods=["DELETE"], endpoint="delete")
@blp.response(204)
def delete_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    """Delete the endpoint with its waiting messages and delivery log."""
    webhooks.delete_endpoint(current_actor(), get_or_404(WebhookEndpoint, webhook_endpoint_id))
    return ""


@blp.route("/<int:webhook_endpoint_id>/rotate-secret", methods=["POST"], endpoint="rotate")
@blp.response(200, EndpointWithSecretSchema)
def rotate_secret(webhook_endpoint_id: int) -> ResponseReturnValue:
    """A new signing secret, in this answer only; the previous one signs beside it for 24
    hours (`previous_secret_until`), so receivers can switch without losing deliveries."""
    endpoint = get_or_404(WebhookEndpoint, webhook_endpoint_id)
    return webhooks.rotate_secret(current_actor(), endpoint)
