"""Read paths of the payout pages: the statement list with its filters and its CSV."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from accounts.models import Organization
from billing.models import Payout, PayoutState
from core.permissions import OrgKind, scoped


@dataclass(frozen=True)
class PayoutFilters:
    partner_id: int | None = None
    state: PayoutState | None = None
    period_from: date | None = None  # statements whose period reaches this day or later
    period_to: date | None = None  # ... and begins on this day or earlier

    @property
    def active(self) -> bool:
        return any(value is not None for value in vars(self).values())


def payouts(filters: PayoutFilters | None = None) -> Select[tuple[Payout]]:
    """Statements within the signed-in person's reach (``Payout.reach``: finance all, a
    partner manager its partner's approved and paid ones), newest period first."""
    filters = filters or PayoutFilters()
    stmt = scoped(Payout).options(joinedload(Payout.partner))
    if filters.partner_id is not None:
        stmt = stmt.where(Payout.partner_id == filters.partner_id)
    if filters.state is not None:
        stmt = stmt.where(Payout.state == filters.state)
    if filters.period_from is not None:
        stmt = stmt.where(Payout.period_end >= filters.period_from)
    if filters.period_to is not None:
        stmt = stmt.where(Payout.period_start <= filters.period_to)
    return stmt.order_by(Payout.period_start.desc(), Payout.id.desc())


def partners() -> Select[tuple[int, str]]:
    """The tenant's partner organisations, for the filter."""
    return (
        select(Organization.id, Organization.name)
        .where(Organization.kind == OrgKind.PARTNER)
        .order_by(Organization.name)
    )


CSV_HEADER = [
    "Partner",
    "Period start",
    "Period end",
    "State",
    "Total",
    "Currency",
    "Paid on",
    "Reference",
]


def csv_rows(rows: Iterable[Payout]) -> Iterable[list[Any]]:
    for payout in rows:
        yield [
            payout.partner.name,
            payout.period_start.isoformat(),
            payout.period_end.isoformat(),
            payout.state.label,
            str(payout.total.to_decimal()),
            payout.currency,
            payout.paid_on.isoformat() if payout.paid_on else "",
            payout.paid_reference,
        ]
