"""``/api/v1/servlets``: the servlets the caller reaches, as in the web app.

Vendor staff read every servlet of their vendor (drafts and retired ones too, described by
their latest version); a customer's people read the published, unretired servlets of the
published catalogs assigned to their organisation (``Servlet.reach``), priced as their
catalogs price them (``catalog.queries.offers_for``, the servlet page's choice); partners
read none.

A servlet has no change time of its own, so ``updated_at`` is the latest of its creation,
retirement, and its versions' creation and publication: a new draft or a publication counts,
an edit of an existing draft does not until it is published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort
from flask.typing import ResponseReturnValue
from marshmallow import fields
from sqlalchemy.orm import aliased

from api.fields import ApiSchema, MoneyField, Timestamp
from api.pagination import ChangedListArgs, keyset_page, page_of
from api.rest import ApiBlueprint
from catalog.models import (
    DeliveryMode,
    LifecycleStage,
    Servlet,
    ServletKind,
    ServletVersion,
)
from catalog.queries import load_servlet_options, offers_for
from core.audit import record_denied
from core.db import UTCDateTime
from core.extensions import db
from core.money import Money
from core.permissions import CUSTOMER_ROLES, Actor, current_actor, scoped

blp = ApiBlueprint(
    "servlets",
    __name__,
    area="catalog",
    url_prefix="/servlets",
    description="Servlets: fixed-price services, as the caller's catalogs show them.",
)


class ServletSchema(ApiSchema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["draft", "published", "retired"]})
    version = fields.Integer(required=True, metadata={"description": "The version described."})
    title = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": [k.value for k in ServletKind]})
    stage = fields.String(required=True, metadata={"enum": [s.value for s in LifecycleStage]})
    outcome = fields.String(required=True)
    summary = fields.String(required=True)
    delivery_mode = fields.String(required=True, metadata={"enum": [m.value for m in DeliveryMode]})
    duration_days = fields.Integer(required=True)
    effort_hours = fields.Integer(required=True)
    price = MoneyField(
        required=True,
        allow_none=True,
        metadata={
            "description": "What the caller pays: a customer's catalog price, or for vendor "
            "staff the list price."
        },
    )
    published_at = Timestamp(required=True, allow_none=True)
    retired_at = Timestamp(required=True, allow_none=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


def changed_at() -> sa.ColumnElement[datetime]:
    """The servlet's latest change (see the module docstring), as one SQL expression."""
    version = aliased(ServletVersion)
    versions = (
        sa.select(sa.func.max(sa.func.coalesce(version.published_at, version.created_at)))
        .where(version.servlet_id == Servlet.id)
        .scalar_subquery()
    )
    parts = (
        Servlet.created_at,
        sa.func.coalesce(Servlet.retired_at, Servlet.created_at),
        sa.func.coalesce(versions, Servlet.created_at),
    )
    # GREATEST on PostgreSQL; SQLite's max() of several arguments is the same function.
    latest = sa.func.greatest if _dialect() == "postgresql" else sa.func.max
    return sa.type_coerce(latest(*parts), UTCDateTime())


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def reachable(actor: Actor) -> sa.Select[Any]:
    """What the actor may read: ``Servlet.reach``, and for customers published ones only."""
    stmt = scoped(Servlet).options(*load_servlet_options())
    if actor.role in CUSTOMER_ROLES:
        stmt = stmt.where(Servlet.published.has())
    return stmt


@blp.route("", endpoint="list")
@blp.arguments(ChangedListArgs, location="query")
@blp.response(200, page_of(ServletSchema))
def list_servlets(args: dict[str, Any]) -> ResponseReturnValue:
    """Servlets the token's member reaches, by id (creation order), a cursor page at a time.
    `updated_since` keeps those changed at or after the time (see `updated_at`)."""
    actor = current_actor()
    stmt = reachable(actor)
    if args["updated_since"] is not None:
        stmt = stmt.where(changed_at() >= args["updated_since"])
    page = keyset_page(stmt, args, keys=(Servlet.id,))
    body, headers = page.answer(args)
    body["data"] = _described(actor, page.items)
    return body, headers


@blp.route("/<int:servlet_id>", endpoint="show")
@blp.etag
@blp.response(200, ServletSchema)
def show_servlet(servlet_id: int) -> ResponseReturnValue:
    """One servlet, if the token's member reaches it (else 404, as for one that does not
    exist). Its `ETag` changes with what it says."""
    actor = current_actor()
    servlet = db.session.scalar(reachable(actor).where(Servlet.id == servlet_id))
    if servlet is None:
        record_denied("servlet", servlet_id)
        abort(404)
    return _described(actor, [servlet])[0]


def _described(actor: Actor, servlets: list[Servlet]) -> list[dict[str, Any]]:
    """Each servlet as ``ServletSchema`` reads it: two statements for the whole page (the
    change times, and a customer's offers)."""
    if not servlets:
        return []
    ids = [servlet.id for servlet in servlets]
    changed = dict(
        db.session.execute(sa.select(Servlet.id, changed_at()).where(Servlet.id.in_(ids))).all()
    )
    prices: dict[int, Money] = {}
    if actor.role in CUSTOMER_ROLES:
        offers = offers_for(actor.organization_id, ids)
        prices = {servlet_id: offer.price for servlet_id, offer in offers.items()}
    described = []
    for servlet in servlets:
        version = servlet.published if actor.role in CUSTOMER_ROLES else servlet.latest
        price = prices.get(servlet.id) if actor.role in CUSTOMER_ROLES else version.price
        described.append(
            {
                "id": servlet.id,
                "slug": servlet.slug,
                "status": servlet.status,
                "version": version.number,
                "title": version.title,
                "kind": version.kind.value,
                "stage": version.stage.value,
                "outcome": version.outcome,
                "summary": version.summary,
                "delivery_mode": version.delivery_mode.value,
                "duration_days": version.duration_days,
                "effort_hours": version.effort_hours,
                "price": price,
                "published_at": version.published_at,
                "retired_at": servlet.retired_at,
                "created_at": servlet.created_at,
                "updated_at": changed[servlet.id],
            }
        )
    return described
