"""Usage signals: storing figures (a CSV upload, the API, the NPS survey) and reading them
back, as series and as the account page's latest figures and trends.

``store_signals`` is the one way rows get in: rows already validated, upserted by their row
key (customer, type, day) in set-based statements, so a batch sent twice changes nothing the
second time. It adds the import's record and audit event and tells the rest of the area
(``success.events.signals_recorded``); the calling service commits.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from core import audit
from core.db import insert_for
from core.extensions import db
from success.events import signals_recorded
from success.signal_models import BuiltInSignal, SignalImport, SignalSource, SignalType, UsageSignal
from success.signal_types import types_of

# Customers per IN list when looking up stored rows (under SQLite's 32,766 variables).
LOOKUP_CHUNK = 5_000


@dataclass(frozen=True)
class SignalRow:
    customer_id: int
    key: str  # signal type key, e.g. "active_users"
    day: date
    value: float


def _existing_keys(rows: Sequence[tuple[int, int, date]]) -> set[tuple[int, int, date]]:
    """Which of the row keys are stored already (read within the rows' bounding box)."""
    if not rows:
        return set()
    customers = {r[0] for r in rows}
    types = {r[1] for r in rows}
    days = [r[2] for r in rows]
    found: set[tuple[int, int, date]] = set()
    customer_list = sorted(customers)
    for start in range(0, len(customer_list), LOOKUP_CHUNK):
        found.update(
            tuple(key)
            for key in db.session.execute(
                select(UsageSignal.customer_id, UsageSignal.signal_type_id, UsageSignal.day).where(
                    UsageSignal.customer_id.in_(customer_list[start : start + LOOKUP_CHUNK]),
                    UsageSignal.signal_type_id.in_(types),
                    UsageSignal.day.between(min(days), max(days)),
                )
            )
        )
    return found & set(rows)


def store_signals(
    vendor_id: int,
    rows: Sequence[SignalRow],
    source: SignalSource,
    user_id: int | None,
    filename: str = "",
) -> SignalImport:
    """Upsert ``rows`` (validated, one per row key) for ``vendor_id``: a stored row takes the
    new value. Records the batch and its audit event; does not commit."""
    type_ids = {t.key: t.id for t in types_of(vendor_id)}
    unknown = {row.key for row in rows} - type_ids.keys()
    if unknown:
        raise ValueError(f"unknown signal types: {sorted(unknown)}")
    by_key = {(r.customer_id, type_ids[r.key], r.day): float(r.value) for r in rows}
    existing = _existing_keys(list(by_key))
    batch = SignalImport(
        vendor_id=vendor_id,
        source=source,
        filename=filename[:200],
        rows=len(by_key),
        new_rows=len(by_key) - len(existing),
        updated_rows=len(existing),
        imported_by_id=user_id,
    )
    db.session.add(batch)
    db.session.flush()
    table = UsageSignal.__table__
    values = [
        {
            "vendor_id": vendor_id,
            "customer_id": customer_id,
            "signal_type_id": type_id,
            "day": day,
            "value": value,
            "import_id": batch.id,
        }
        for (customer_id, type_id, day), value in by_key.items()
    ]
    stmt = insert_for(db.session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["customer_id", "signal_type_id", "day"],
        set_={"value": stmt.excluded.value, "import_id": stmt.excluded.import_id},
    )
    if values:
        # One statement for every row (executemany): far faster than multi-row VALUES here.
        db.session.execute(stmt, values)
    audit.record(
        "success.signals_imported",
        batch,
        changes={
            "source": source.value,
            "filename": batch.filename,
            "rows": batch.rows,
            "new": batch.new_rows,
            "updated": batch.updated_rows,
        },
        actor_id=user_id,
    )
    signals_recorded.send(vendor_id, customer_ids={r.customer_id for r in rows})
    return batch


def series(
    customer_ids: Collection[int], key: str, since: date
) -> dict[int, list[tuple[date, float]]]:
    """Each customer's figures of signal type ``key`` from ``since`` on, oldest first (one
    range scan of the row-key index per customer, in one query)."""
    found: dict[int, list[tuple[date, float]]] = {cid: [] for cid in customer_ids}
    if not found:
        return found
    stmt = (
        select(UsageSignal.customer_id, UsageSignal.day, UsageSignal.value)
        .join(SignalType, SignalType.id == UsageSignal.signal_type_id)
        .where(
            SignalType.key == key,
            UsageSignal.customer_id.in_(list(found)),
            UsageSignal.day >= since,
        )
        .order_by(UsageSignal.customer_id, UsageSignal.day)
    )
    for customer_id, day, value in db.session.execute(stmt):
        found[customer_id].append((day, value))
    return found


# --- the account page ------------------------------------------------------------------------

TREND_DAYS = 90
CHANGE_DAYS = 30
SPARK_WIDTH = 160
SPARK_HEIGHT = 32


@dataclass(frozen=True)
class Sparkline:
    """A trend drawn as an SVG polyline from zero up (the figures are stated beside it)."""

    points: str
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


def sparkline(points: Sequence[tuple[date, float]], start: date, days: int) -> Sparkline | None:
    """The polyline of ``points`` over ``days`` from ``start``; ``None`` under two points."""
    if len(points) < 2:
        return None
    top = max(value for _, value in points) or 1.0
    inner = SPARK_HEIGHT - 2
    coords = (
        f"{SPARK_WIDTH * (day - start).days / days:.1f},{1 + inner * (1 - value / top):.1f}"
        for day, value in points
    )
    return Sparkline(" ".join(coords))


@dataclass(frozen=True)
class AccountSignal:
    """One signal type of one account: its latest figure and how it moved."""

    key: str
    name: str
    latest: float
    day: date
    change: float | None  # against the figure ``CHANGE_DAYS`` before the latest, if known
    since: date | None  # the day of that earlier figure
    trend: Sparkline | None
    bought: int | None = None  # licences bought, for the licences-used figure

    @property
    def change_percent(self) -> float | None:
        earlier = None if self.change is None else self.latest - self.change
        if not earlier:
            return None
        return 100 * self.change / earlier

    @property
    def utilisation(self) -> float | None:
        if not self.bought:
            return None
        return 100 * self.latest / self.bought


def _before(points: Sequence[tuple[date, float]], day: date) -> tuple[date, float] | None:
    earlier = [point for point in points if point[0] <= day]
    return earlier[-1] if earlier else None


def account_signals(
    customer_id: int, licences_bought: int | None, today: date
) -> list[AccountSignal]:
    """Each signal type the customer has figures of, in two queries whatever their number: the
    latest row of each type, and the rows of the last ``TREND_DAYS`` days."""

    def newest(column: Any) -> Any:
        """The type's newest figure of the customer: a backward scan of the row-key index,
        one row deep (a join on max(day) made PostgreSQL read every row of the customer)."""
        return (
            select(column)
            .where(
                UsageSignal.customer_id == customer_id,
                UsageSignal.signal_type_id == SignalType.id,
            )
            .order_by(UsageSignal.day.desc())
            .limit(1)
            .correlate(SignalType)
            .scalar_subquery()
        )

    latest = [
        row
        for row in db.session.execute(
            select(
                SignalType.id,
                SignalType.key,
                SignalType.name,
                newest(UsageSignal.day),
                newest(UsageSignal.value),
            ).order_by(SignalType.built_in.desc(), SignalType.name)
        )
        if row[3] is not None
    ]
    start = today - timedelta(days=TREND_DAYS)
    recent: dict[int, list[tuple[date, float]]] = {}
    for type_id, day, value in db.session.execute(
        select(UsageSignal.signal_type_id, UsageSignal.day, UsageSignal.value)
        .where(UsageSignal.customer_id == customer_id, UsageSignal.day >= start)
        .order_by(UsageSignal.signal_type_id, UsageSignal.day)
    ):
        recent.setdefault(type_id, []).append((day, value))
    made = []
    for type_id, key, name, day, value in latest:
        points = recent.get(type_id, [])
        earlier = _before(points, day - timedelta(days=CHANGE_DAYS))
        made.append(
            AccountSignal(
                key=key,
                name=name,
                latest=value,
                day=day,
                change=value - earlier[1] if earlier else None,
                since=earlier[0] if earlier else None,
                trend=sparkline(points, start, TREND_DAYS),
                bought=licences_bought if key == BuiltInSignal.LICENCES_USED.value else None,
            )
        )
    return made
