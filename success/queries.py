"""Read paths of the account pages and the CSM's home: the account list with its filters,
the rows of one page, renewals coming up, the CSV export."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from accounts.models import Membership, Organization, User
from catalog.models import LifecycleStage
from core.extensions import db
from core.permissions import Actor, OrgKind, Role
from success import policies
from success.models import CustomerAccount

MINE, ALL = "mine", "all"
RENEWAL_WINDOW_DAYS = 90
CSV_HEADER = (
    "account",
    "owner",
    "segment",
    "stage",
    "touch_model",
    "renewal_date",
    "arr",
    "currency",
    "licences_bought",
)


@dataclass(frozen=True)
class AccountFilters:
    who: str = ALL
    segment: str = ""
    stage: LifecycleStage | None = None
    q: str = ""
    renewing: bool = False  # renewing within ``RENEWAL_WINDOW_DAYS`` from today

    @property
    def active(self) -> bool:
        return bool(self.segment or self.stage or self.q or self.renewing)


@dataclass(frozen=True)
class AccountRow:
    """One customer as the list shows it; ``account`` is ``None`` until first edited."""

    customer: Organization
    account: CustomerAccount | None
    owner: str


def default_who(actor: Actor) -> str:
    """A CSM starts on their own accounts, an admin on all of them."""
    return MINE if actor.role is Role.CSM else ALL


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def accounts(actor: Actor, filters: AccountFilters, today: date) -> sa.Select[Any]:
    """The vendor's customers (the tenant filter comes from ``core.tenancy``), by name; those
    renewing soon by renewal date."""
    stmt = select(Organization).where(Organization.kind == OrgKind.CUSTOMER)
    if filters.who == MINE or policies.restricted_to_own(actor):
        stmt = stmt.where(Organization.csm_id == actor.id)
    if filters.segment or filters.stage or filters.renewing:
        stmt = stmt.join(CustomerAccount, CustomerAccount.organization_id == Organization.id)
        if filters.renewing:
            stmt = stmt.where(
                CustomerAccount.renewal_date >= today,
                CustomerAccount.renewal_date <= today + timedelta(days=RENEWAL_WINDOW_DAYS),
            )
        if filters.segment:
            stmt = stmt.where(CustomerAccount.segment == filters.segment)
        if filters.stage:
            stmt = stmt.where(CustomerAccount.stage == filters.stage)
    if filters.q:
        stmt = stmt.where(Organization.name.ilike(_like(filters.q), escape="\\"))
    if filters.renewing:
        return stmt.order_by(CustomerAccount.renewal_date, Organization.name, Organization.id)
    return stmt.order_by(Organization.name, Organization.id)


def owner_names(csm_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {csm_id for csm_id in csm_ids if csm_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Membership.id, User.name, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.id.in_(ids))
    )
    return {membership_id: name or email for membership_id, name, email in rows}


def rows_of(customers: Sequence[Organization]) -> list[AccountRow]:
    """The records and owners of a page of customers: two queries, whatever the page size."""
    ids = [customer.id for customer in customers]
    records = (
        {
            account.organization_id: account
            for account in db.session.scalars(
                select(CustomerAccount).where(CustomerAccount.organization_id.in_(ids))
            )
        }
        if ids
        else {}
    )
    owners = owner_names(customer.csm_id for customer in customers)
    return [
        AccountRow(customer, records.get(customer.id), owners.get(customer.csm_id, ""))
        for customer in customers
    ]


def segments() -> list[str]:
    """The segments in use, for the filter and the form's suggestions."""
    return list(
        db.session.scalars(
            select(CustomerAccount.segment)
            .where(CustomerAccount.segment != "")
            .distinct()
            .order_by(CustomerAccount.segment)
        )
    )


def csv_rows(rows: Iterable[AccountRow]) -> Iterable[list[Any]]:
    for row in rows:
        account = row.account
        if account is None:
            yield [row.customer.name, row.owner, "", "", "", "", "", "", ""]
            continue
        yield [
            row.customer.name,
            row.owner,
            account.segment,
            account.stage.value,
            account.touch_model.value,
            account.renewal_date.isoformat() if account.renewal_date else "",
            str(account.arr.to_decimal()),
            account.currency,
            account.licences_bought,
        ]
