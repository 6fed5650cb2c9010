"""Early warning: the accounts that need a CSM now, and why.

An account is listed when its score is under ``SuccessSettings.warning_below``, when it has
fallen ``warning_drop`` points or more in 30 days (from the highest score it had since the
day 30 days ago), or when it renews within 90 days while amber or red. Each row says which of
these hold, the components that moved it last (its latest history row) and the servlets its
open playbook suggestions offer. The same statement pages, counts and exports the list, so
a home figure and the list behind it agree; a page reads a fixed number of statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from accounts.models import Organization
from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind, Role
from core.templating import date_filter
from success import policies, queries, suggestions
from success.health_models import AccountHealth, Band, HealthHistory
from success.models import CustomerAccount, SuccessSettings
from success.playbook_models import Suggestion

DROP_DAYS = 30
RENEWAL_DAYS = 90
MOVING_SHOWN = 2
WARNINGS, EVERY = "warnings", "all"  # ?show=: the warning list, or every scored account
DEFAULT_BELOW, DEFAULT_DROP = 50, 15
CSV_HEADER = (
    "account",
    "owner",
    "score",
    "band",
    "reasons",
    "moving",
    "suggested_servlets",
    "renewal_date",
)


@dataclass(frozen=True)
class Thresholds:
    warning_below: int = DEFAULT_BELOW
    warning_drop: int = DEFAULT_DROP


@dataclass(frozen=True)
class WarningFilters:
    who: str = queries.ALL
    band: Band | None = None
    show: str = WARNINGS

    @property
    def active(self) -> bool:
        return self.band is not None or self.show != WARNINGS


@dataclass(frozen=True)
class WarningRow:
    customer: Organization
    health: AccountHealth
    renewal_date: date | None
    drop: int | None
    owner: str = ""
    reasons: tuple[str, ...] = ()
    moving: tuple[dict[str, Any], ...] = ()
    suggestions: tuple[str, ...] = field(default=())


def thresholds() -> Thresholds:
    """The vendor's thresholds (the defaults when it set none); one statement."""
    row = db.session.execute(
        sa.select(SuccessSettings.warning_below, SuccessSettings.warning_drop)
    ).first()
    return Thresholds(*row) if row is not None else Thresholds()


def _drop(today: date) -> Any:
    """Points fallen: the highest of the score 30 days ago and every score since, less now."""
    start = today - timedelta(days=DROP_DAYS)
    then = (
        sa.select(HealthHistory.score)
        .where(HealthHistory.customer_id == AccountHealth.customer_id, HealthHistory.day <= start)
        .order_by(HealthHistory.day.desc())
        .limit(1)
        .scalar_subquery()
    )
    peak = (
        sa.select(sa.func.max(HealthHistory.score))
        .where(HealthHistory.customer_id == AccountHealth.customer_id, HealthHistory.day > start)
        .scalar_subquery()
    )
    highest = sa.case((sa.func.coalesce(then, -1) > sa.func.coalesce(peak, -1), then), else_=peak)
    return highest - AccountHealth.score


def _renewing(today: date) -> Any:
    return sa.and_(
        CustomerAccount.renewal_date >= today,
        CustomerAccount.renewal_date <= today + timedelta(days=RENEWAL_DAYS),
        AccountHealth.band.in_((Band.RED, Band.AMBER)),
    )


def listing(
    actor: Actor, filters: WarningFilters, limits: Thresholds, today: date
) -> sa.Select[Any]:
    """Rows of (health, customer, renewal date, drop): the warning list, lowest score first."""
    drop = _drop(today)
    stmt = (
        sa.select(AccountHealth, Organization, CustomerAccount.renewal_date, drop.label("drop"))
        .join(Organization, Organization.id == AccountHealth.customer_id)
        .outerjoin(CustomerAccount, CustomerAccount.organization_id == AccountHealth.customer_id)
        .where(Organization.kind == OrgKind.CUSTOMER)
    )
    stmt = AccountHealth.reach(stmt, actor)
    if filters.who == queries.MINE or policies.restricted_to_own(actor):
        stmt = stmt.where(Organization.csm_id == actor.id)
    if filters.band is not None:
        stmt = stmt.where(AccountHealth.band == filters.band)
    if filters.show == WARNINGS:
        stmt = stmt.where(
            sa.or_(
                AccountHealth.score < limits.warning_below,
                drop >= limits.warning_drop,
                _renewing(today),
            )
        )
    return stmt.order_by(AccountHealth.score, Organization.name, Organization.id)


def page_results(stmt: sa.Select[Any], healths: Sequence[AccountHealth]) -> list[Any]:
    """The full rows of a page of ``listing`` paged by its health rows (``paginate`` loads
    one entity): one statement."""
    if not healths:
        return []
    return db.session.execute(stmt.where(AccountHealth.id.in_([h.id for h in healths]))).all()


def reasons(row: WarningRow, limits: Thresholds, today: date) -> tuple[str, ...]:
    said = []
    if row.health.score < limits.warning_below:
        said.append(f"Score {row.health.score}, under {limits.warning_below}")
    if row.drop is not None and row.drop >= limits.warning_drop:
        said.append(f"Fell {row.drop} points in {DROP_DAYS} days")
    renewal = row.renewal_date
    if (
        renewal is not None
        and today <= renewal <= today + timedelta(days=RENEWAL_DAYS)
        and row.health.band in (Band.RED, Band.AMBER)
    ):
        said.append(f"Renews on {date_filter(renewal)} while {row.health.band.label.lower()}")
    return tuple(said)


def rows_of(results: Sequence[Any], limits: Thresholds, today: date) -> list[WarningRow]:
    """A page's rows with their reasons, moving components, suggestions and owners: three
    statements, whatever the page size."""
    ids = [customer.id for _, customer, _, _ in results]
    moving = latest_changes(ids)
    offered = suggestions.open_suggestions(ids)
    owners = queries.owner_names(customer.csm_id for _, customer, _, _ in results)
    made = []
    for health, customer, renewal, drop in results:
        row = WarningRow(customer, health, renewal, None if drop is None else int(drop))
        made.append(
            WarningRow(
                customer,
                health,
                renewal,
                row.drop,
                owners.get(customer.csm_id, ""),
                reasons(row, limits, today),
                tuple(moving.get(customer.id, ())[:MOVING_SHOWN]),
                tuple(_titles(offered.get(customer.id, []))),
            )
        )
    return made


def _titles(offered: Sequence[Suggestion]) -> list[str]:
    """The servlets the open suggestions offer, oldest first (``open_suggestions`` lists the
    newest first)."""
    return [s.servlet_title or "A servlet no longer published" for s in reversed(offered)]


def latest_changes(customer_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each customer's latest history row's changes, largest first."""
    if not customer_ids:
        return {}
    outer = aliased(HealthHistory)
    latest = (
        sa.select(sa.func.max(HealthHistory.day))
        .where(HealthHistory.customer_id == outer.customer_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(outer.customer_id, outer.changes).where(
            outer.customer_id.in_(customer_ids), outer.day == latest
        )
    )
    return {customer_id: list(changes or []) for customer_id, changes in rows}


def csv_rows(rows: Sequence[WarningRow]) -> list[list[Any]]:
    return [
        [
            row.customer.name,
            row.owner,
            row.health.score,
            row.health.band.label,
            "; ".join(row.reasons),
            "; ".join(change["text"] for change in row.moving),
            "; ".join(row.suggestions),
            row.renewal_date.isoformat() if row.renewal_date else "",
        ]
        for row in rows
    ]


def band_counts(actor: Actor, mine: bool) -> dict[Band | None, int]:
    """Accounts per band (``None``: customers without a score), of the actor's own accounts
    or of all; two statements."""
    owned = [Organization.csm_id == actor.id] if mine or policies.restricted_to_own(actor) else []
    rows = db.session.execute(
        sa.select(AccountHealth.band, sa.func.count())
        .join(Organization, Organization.id == AccountHealth.customer_id)
        .where(Organization.kind == OrgKind.CUSTOMER, *owned)
        .group_by(AccountHealth.band)
    )
    counts: dict[Band | None, int] = dict.fromkeys(Band, 0)
    counts.update({band: n for band, n in rows})  # noqa: C416 (rows are Row objects)
    customers = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Organization)
        .where(Organization.kind == OrgKind.CUSTOMER, *owned)
    )
    counts[None] = customers - sum(counts[band] for band in Band)
    return counts


# --- the thresholds ----------------------------------------------------------------------


def save_thresholds(
    actor: Actor | None, warning_below: int | None, warning_drop: int | None
) -> SuccessSettings:
    """An admin sets when an account is listed (audited)."""
    if actor is None or actor.role is not Role.ADMIN:
        raise NotAllowed("Only an admin changes the early-warning thresholds.")
    if warning_below is None or not 1 <= warning_below <= 100:
        raise ServiceError("Warn under a score of: a whole number from 1 to 100.")
    if warning_drop is None or not 1 <= warning_drop <= 100:
        raise ServiceError("Warn on a fall of: a whole number of points from 1 to 100.")
    settings = db.session.scalar(sa.select(SuccessSettings))
    if settings is None:
        settings = SuccessSettings(vendor_id=actor.vendor_id)
        db.session.add(settings)
        db.session.flush()
    changes = audit.diff(settings, {"warning_below": warning_below, "warning_drop": warning_drop})
    if changes:
        settings.updated_at = utcnow()
        audit.record("success.warning_thresholds_changed", settings, changes=changes)
    db.session.commit()
    return settings
