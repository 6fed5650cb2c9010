"""``GET /api/v1/me``: whom the token acts as, what it may do and until when."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import fields

from api.auth import TokenUser
from api.fields import ApiSchema, Timestamp
from api.rest import ApiBlueprint

blp = ApiBlueprint(
    "me", __name__, area=None, url_prefix="/me", description="The token and whom it acts as."
)


class OrganizationRefSchema(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["vendor", "customer", "partner"]})


class ActorSchema(ApiSchema):
    user_id = fields.Integer(required=True, metadata={"description": "The user acting."})
    name = fields.String(required=True)
    email = fields.String(required=True)
    membership_id = fields.Integer(required=True)
    role = fields.String(required=True)
    organization = fields.Nested(OrganizationRefSchema, required=True)
    vendor = fields.Nested(OrganizationRefSchema, required=True)


class TokenSchema(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["personal", "service"]})
    prefix = fields.String(required=True, metadata={"example": "sd_live_AbC1"})
    scopes = fields.List(fields.String(), required=True)
    expires_at = Timestamp(required=True)


class MeSchema(ApiSchema):
    token = fields.Nested(TokenSchema, required=True)
    acting_as = fields.Nested(ActorSchema, required=True)


@blp.route("", endpoint="show")
@blp.response(200, MeSchema)
def show_me() -> ResponseReturnValue:
    """Who this token acts as: its member (or, for a service token, the vendor with the
    token's role), its scopes and its expiry."""
    user: TokenUser = current_user._get_current_object()
    membership = user.membership
    return {
        "token": {
            "id": user.token.id,
            "name": user.token.name,
            "kind": user.token.kind.value,
            "prefix": user.token.prefix,
            "scopes": sorted(user.token.scopes),
            "expires_at": user.token.expires_at,
        },
        "acting_as": {
            "user_id": user.id,
            "name": user.name,
            "email": user.email,
            "membership_id": membership.id,
            "role": membership.role.value,
            "organization": _organization(membership.organization),
            "vendor": _organization(membership.vendor),
        },
    }


def _organization(snapshot: Any) -> dict[str, Any]:
    return {"id": snapshot.id, "name": snapshot.name, "kind": snapshot.kind.value}
