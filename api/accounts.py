"""``/api/v1/accounts``: customer accounts as the vendor's admins and CSMs see them in the web
app (``success.policies``): the record, the owning CSM, the current key contacts and the
current health score.

An account is its customer organisation, so its id is the customer's. A customer without a
record reads as one with nothing filled in (the defaults the record gets when first saved).
Everyone else gets 403 for the list and 404 for an account, as on the pages; a CSM whose
vendor keeps CSMs to their own accounts reaches only those.

``updated_at`` is the record's last save (or the customer's creation when it was never
saved): an owner, contact or health change does not count, as none has a change time here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from accounts.models import Organization
from api.fields import ApiSchema, MoneyField, Timestamp
from api.pagination import ChangedListArgs, keyset_page, page_of
from api.problems import Problem, pointed
from api.rest import ApiBlueprint
from catalog.models import LifecycleStage
from core.db import UTCDateTime, utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import current_actor
from success import accounts, policies, queries
from success.health_models import AccountHealth, Band
from success.models import ContactRole, CustomerAccount, KeyContact, TouchModel

blp = ApiBlueprint(
    "customer_accounts",
    __name__,
    area="success",
    url_prefix="/accounts",
    description="Customer accounts: record, owner, key contacts and health (admins and CSMs).",
)

# A service refusal's message starts with the label of the field it is about.
_FIELD_OF_LABEL = {
    "Segment": "segment",
    "Touch model": "touch_model",
    "Life-cycle stage": "stage",
    "Renewal date": "renewal_date",
    "ARR": "arr",
    "Licences bought": "licences_bought",
}


class OwnerSchema(ApiSchema):
    membership_id = fields.Integer(required=True)
    name = fields.String(required=True)


class ContactSchema(ApiSchema):
    role = fields.String(required=True, metadata={"enum": [r.value for r in ContactRole]})
    name = fields.String(required=True)
    email = fields.String(required=True)
    since = fields.Date(required=True)


class ComponentSchema(ApiSchema):
    component = fields.String(required=True)
    score = fields.Integer(required=True, metadata={"description": "0 to 100."})
    weight = fields.Integer(required=True)
    share = fields.Float(required=True, metadata={"description": "Percent of the score."})
    fact = fields.String(required=True)


class HealthSchema(ApiSchema):
    score = fields.Integer(required=True, metadata={"description": "0 to 100."})
    band = fields.String(required=True, metadata={"enum": [b.value for b in Band]})
    components = fields.List(fields.Nested(ComponentSchema), required=True)
    changed_at = Timestamp(required=True, metadata={"description": "When the score last moved."})


class AccountSchema(ApiSchema):
    id = fields.Integer(required=True, metadata={"description": "The customer's id."})
    name = fields.String(required=True)
    owner = fields.Nested(OwnerSchema, required=True, allow_none=True)
    segment = fields.String(required=True)
    touch_model = fields.String(required=True, metadata={"enum": [t.value for t in TouchModel]})
    stage = fields.String(required=True, metadata={"enum": [s.value for s in LifecycleStage]})
    renewal_date = fields.Date(required=True, allow_none=True)
    arr = MoneyField(required=True)
    licences_bought = fields.Integer(required=True)
    key_contacts = fields.List(fields.Nested(ContactSchema), required=True)
    health = fields.Nested(HealthSchema, required=True, allow_none=True)
    updated_at = Timestamp(required=True)


class AccountChangeSchema(ApiSchema):
    """The CSM fields of the record; those left out keep their value."""

    segment = fields.String(validate=validate.Length(max=accounts.MAX_SEGMENT))
    touch_model = fields.String(validate=validate.OneOf([t.value for t in TouchModel]))
    stage = fields.String(validate=validate.OneOf([s.value for s in LifecycleStage]))
    renewal_date = fields.Date(
        allow_none=True,
        metadata={"description": "Within two years back and ten years ahead; null: none."},
    )
    arr = MoneyField(metadata={"description": "In the account's currency, 0 or more."})
    licences_bought = fields.Integer(strict=True, validate=validate.Range(0, accounts.MAX_LICENCES))


def changed_at() -> sa.ColumnElement[datetime]:
    """The record's last save, else the customer's creation (see the module docstring)."""
    saved = (
        sa.select(sa.func.coalesce(CustomerAccount.updated_at, CustomerAccount.created_at))
        .where(CustomerAccount.organization_id == Organization.id)
        .scalar_subquery()
    )
    return sa.type_coerce(sa.func.coalesce(saved, Organization.created_at), UTCDateTime())


@blp.route("", endpoint="list")
@blp.arguments(ChangedListArgs, location="query")
@blp.response(200, page_of(AccountSchema))
def list_accounts(args: dict[str, Any]) -> ResponseReturnValue:
    """The vendor's customer accounts the token's member reads (admins and CSMs), by customer
    id. `updated_since` keeps those whose record was saved at or after the time."""
    actor = current_actor()
    if not policies.sees_accounts(actor):
        raise NotAllowed("Only the vendor's admins and CSMs read customer accounts.")
    stmt = queries.accounts(actor, queries.AccountFilters(), utcnow().date()).order_by(None)
    if args["updated_since"] is not None:
        stmt = stmt.where(changed_at() >= args["updated_since"])
    page = keyset_page(stmt, args, keys=(Organization.id,))
    body, headers = page.answer(args)
    body["data"] = _described(page.items)
    return body, headers


@blp.route("/<int:account_id>", endpoint="show")
@blp.etag
@blp.response(200, AccountSchema)
def show_account(account_id: int) -> ResponseReturnValue:
    """One account, if the token's member reads it (else 404). Its `ETag` changes with what
    it says; send it as `If-Match` to change the account."""
    return _described([policies.account_or_404(account_id)])[0]


@blp.route("/<int:account_id>", methods=["PATCH"], endpoint="update")
@blp.etag
@blp.arguments(AccountChangeSchema)
@blp.response(200, AccountSchema)
def update_account(values: dict[str, Any], account_id: int) -> ResponseReturnValue:
    """Change the account's record (the owning CSM or an admin; other readers get 403).
    Needs `If-Match` with the account's `ETag`: 428 without, 412 when it changed since."""
    customer = policies.account_or_404(account_id)
    if not policies.edits_account(current_actor(), customer):
        raise NotAllowed("Only the account's owning CSM or an admin changes it.")
    current = _described([customer])[0]
    blp.check_etag(current, AccountSchema)
    arr = values.get("arr", current["arr"])
    if arr.currency != current["arr"].currency:
        raise _field_problem("arr", f"ARR: in the account's currency, {current['arr'].currency}.")
    record = accounts.AccountRecord(
        segment=values.get("segment", current["segment"]),
        touch_model=values.get("touch_model", current["touch_model"]),
        stage=values.get("stage", current["stage"]),
        renewal_date=values.get("renewal_date", current["renewal_date"]),
        arr=str(arr.to_decimal()),
        licences_bought=values.get("licences_bought", current["licences_bought"]),
    )
    try:
        accounts.update_account(current_actor(), customer, record)
    except ServiceError as error:
        raise pointed(error, _FIELD_OF_LABEL) from None
    return _described([db.session.get(Organization, account_id)])[0]


def _field_problem(field: str, message: str) -> Problem:
    return Problem(
        422, "validation", message, errors=[{"pointer": f"#/{field}", "detail": message}]
    )


def _described(customers: Sequence[Organization]) -> list[dict[str, Any]]:
    """Each customer as ``AccountSchema`` reads it: five statements for the whole page."""
    if not customers:
        return []
    rows = queries.rows_of(customers)
    ids = [customer.id for customer in customers]
    health = {
        row.customer_id: row
        for row in db.session.scalars(
            sa.select(AccountHealth).where(AccountHealth.customer_id.in_(ids))
        )
    }
    contacts = _contacts([row.account.id for row in rows if row.account is not None])
    currency = ""
    if any(row.account is None for row in rows):
        currency = db.session.get(Organization, customers[0].tenant_id).currency
    described = []
    for row in rows:
        customer, account = row.customer, row.account
        described.append(
            {
                "id": customer.id,
                "name": customer.name,
                "owner": (
                    {"membership_id": customer.csm_id, "name": row.owner}
                    if customer.csm_id is not None
                    else None
                ),
                **_record(account, currency),
                "key_contacts": contacts.get(account.id, []) if account is not None else [],
                "health": _health(health.get(customer.id)),
                "updated_at": (
                    (account.updated_at or account.created_at)
                    if account is not None
                    else customer.created_at
                ),
            }
        )
    return described


def _record(account: CustomerAccount | None, currency: str) -> dict[str, Any]:
    if account is None:  # as ``success.accounts`` makes it on first save
        return {
            "segment": "",
            "touch_model": TouchModel.LOW_TOUCH.value,
            "stage": LifecycleStage.ONBOARDING.value,
            "renewal_date": None,
            "arr": Money(0, currency),
            "licences_bought": 0,
        }
    return {
        "segment": account.segment,
        "touch_model": account.touch_model.value,
        "stage": account.stage.value,
        "renewal_date": account.renewal_date,
        "arr": account.arr,
        "licences_bought": account.licences_bought,
    }


def _contacts(account_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    if not account_ids:
        return found
    for contact in db.session.scalars(
        sa.select(KeyContact)
        .where(KeyContact.account_id.in_(account_ids), KeyContact.ended_at.is_(None))
        .order_by(KeyContact.role, KeyContact.id)
    ):
        found.setdefault(contact.account_id, []).append(
            {
                "role": contact.role.value,
                "name": contact.name,
                "email": contact.email,
                "since": contact.since,
            }
        )
    return found


def _health(row: AccountHealth | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "score": row.score,
        "band": row.band.value,
        "components": [
            {
                "component": name,
                "score": part["score"],
                "weight": part["weight"],
                "share": part.get("share", 0.0),
                "fact": part.get("fact", ""),
            }
            for name, part in row.components.items()
        ],
        "changed_at": row.changed_at,
    }
