"""``/api/v1/recommendations``: CSM recommendations, read and made as in the web app.

Reach is ``Recommendation.reach``: vendor staff read every recommendation of their vendor, a
customer's people those made to their organisation, partners none (404). The vendor's admin
and CSMs recommend (``catalog.recommendations.recommend``, the web form's service). Reading
one through the API does not mark it viewed: only a person opening it in the web app does.

A recommendation's ``updated_at`` is the latest of its creation, viewing and closing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate
from sqlalchemy.orm import joinedload

from accounts.models import Organization
from api.fields import ApiSchema, Id, Timestamp
from api.pagination import ChangedListArgs, keyset_page, page_of
from api.problems import Problem
from api.rest import ApiBlueprint
from catalog import policies, recommendations
from catalog.models import Recommendation, RecommendationState, Servlet
from core.db import UTCDateTime
from core.errors import NotAllowed, NotFound
from core.extensions import db
from core.permissions import OrgKind, current_actor, get_or_404, scoped

MAX_REASON = 2000

blp = ApiBlueprint(
    "recommendations",
    __name__,
    area="catalog",
    url_prefix="/recommendations",
    description="Recommendations: a CSM proposes a servlet to a customer, with a reason.",
)


class RecommendationSchema(ApiSchema):
    id = fields.Integer(required=True)
    servlet_id = fields.Integer(required=True)
    title = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The servlet's published title (null once unpublished)."},
    )
    customer_id = fields.Integer(required=True)
    recommended_by_id = fields.Integer(required=True, metadata={"description": "A user id."})
    reason = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": [s.value for s in RecommendationState]})
    decline_reason = fields.String(required=True)
    expires_at = Timestamp(required=True, allow_none=True)
    viewed_at = Timestamp(required=True, allow_none=True)
    closed_at = Timestamp(required=True, allow_none=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


class RecommendationListArgs(ChangedListArgs):
    state = fields.String(
        load_default=None,
        validate=validate.OneOf([s.value for s in RecommendationState]),
        metadata={"description": "Only recommendations in this state."},
    )


class RecommendationInSchema(ApiSchema):
    customer_id = Id(required=True, metadata={"description": "A customer of the vendor."})
    servlet_id = Id(
        required=True,
        metadata={"description": "A published servlet the customer's catalogs offer."},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(1, MAX_REASON),
        metadata={"description": "Why it helps them; the customer's buyers read it."},
    )
    expires_at = Timestamp(load_default=None, metadata={"description": "In the future."})


def changed_at() -> sa.ColumnElement[datetime]:
    created = Recommendation.created_at
    parts = (
        created,
        sa.func.coalesce(Recommendation.viewed_at, created),
        sa.func.coalesce(Recommendation.closed_at, created),
    )
    dialect = db.session.get_bind().dialect.name
    latest = sa.func.greatest if dialect == "postgresql" else sa.func.max
    return sa.type_coerce(latest(*parts), UTCDateTime())


def _loaded() -> list[Any]:
    return [joinedload(Recommendation.servlet).selectinload(Servlet.published)]


@blp.route("", methods=["GET"], endpoint="list")
@blp.arguments(RecommendationListArgs, location="query")
@blp.response(200, page_of(RecommendationSchema))
def list_recommendations(args: dict[str, Any]) -> ResponseReturnValue:
    """Recommendations the token's member reaches (the vendor's, or those made to the
    caller's organisation), by id, a cursor page at a time."""
    stmt = scoped(Recommendation).options(*_loaded())
    if args["state"] is not None:
        stmt = stmt.where(Recommendation.state == RecommendationState(args["state"]))
    if args["updated_since"] is not None:
        stmt = stmt.where(changed_at() >= args["updated_since"])
    page = keyset_page(stmt, args, keys=(Recommendation.id,))
    body, headers = page.answer(args)
    body["data"] = _described(page.items)
    return body, headers


@blp.route("/<int:recommendation_id>", endpoint="show")
@blp.etag
@blp.response(200, RecommendationSchema)
def show_recommendation(recommendation_id: int) -> ResponseReturnValue:
    """One recommendation, if the token's member reaches it (else 404)."""
    return _described([get_or_404(Recommendation, recommendation_id, *_loaded())])[0]


@blp.route("", methods=["POST"], endpoint="make")
@blp.arguments(RecommendationInSchema)
@blp.response(201, RecommendationSchema)
def make_recommendation(wanted: dict[str, Any]) -> ResponseReturnValue:
    """Recommend a servlet to a customer (the vendor's admin and CSMs). Its buyers and
    approvers are notified, as when the web form is used."""
    actor = current_actor()
    if not policies.recommends(actor):
        raise NotAllowed("You do not have permission to do that.")
    if not _is_customer(actor.vendor_id, wanted["customer_id"]):
        raise _refused("That customer does not exist.", "customer_id")
    try:
        made = recommendations.recommend(
            actor,
            wanted["servlet_id"],
            wanted["customer_id"],
            wanted["reason"],
            wanted["expires_at"],
        )
    except NotFound as error:  # the customer is known: what is missing is the servlet
        raise _refused(error.message, "servlet_id") from error
    found = get_or_404(Recommendation, made.id, *_loaded())
    location = url_for("recommendations.show", recommendation_id=made.id, _external=True)
    return _described([found])[0], 201, {"Location": location}


def _is_customer(vendor_id: int, customer_id: int) -> bool:
    """Whether the id names a customer organisation of the vendor, to point at the field
    (``recommend`` checks it again, with whether it is active)."""
    return db.session.scalar(
        sa.select(
            sa.exists().where(
                Organization.id == customer_id,
                Organization.vendor_id == vendor_id,
                Organization.kind == OrgKind.CUSTOMER,
            )
        )
    )


def _refused(detail: str, field: str) -> Problem:
    db.session.rollback()
    return Problem(422, "validation", detail, errors=[{"pointer": f"#/{field}", "detail": detail}])


def _described(found: list[Recommendation]) -> list[dict[str, Any]]:
    if not found:
        return []
    ids = [recommendation.id for recommendation in found]
    changed = dict(
        db.session.execute(
            sa.select(Recommendation.id, changed_at()).where(Recommendation.id.in_(ids))
        ).all()
    )
    return [
        {
            "id": r.id,
            "servlet_id": r.servlet_id,
            "title": r.servlet.published.title if r.servlet.published is not None else None,
            "customer_id": r.customer_id,
            "recommended_by_id": r.recommended_by_id,
            "reason": r.reason,
            "state": r.state.value,
            "decline_reason": r.decline_reason,
            "expires_at": r.expires_at,
            "viewed_at": r.viewed_at,
            "closed_at": r.closed_at,
            "created_at": r.created_at,
            "updated_at": changed[r.id],
        }
        for r in found
    ]
