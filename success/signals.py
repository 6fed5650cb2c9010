"""Usage signals: the vendor's signal types, storing figures (a CSV upload, the API, the NPS
survey) and reading them back as series.

``store_signals`` is the one way rows get in: rows already validated, upserted by their row
key (customer, type, day) in set-based statements, so a batch sent twice changes nothing the
second time. It adds the import's record and audit event and tells the rest of the area
(``success.events.signals_recorded``); the calling service commits.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from accounts.models import Organization
from core import audit
from core.csv_export import FORMULA_STARTS, csv_text, spreadsheet_text
from core.db import insert_for
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind, Role
from core.tenancy import TenancyError, current_scope
from core.uploads import UploadRefused, upload_text
from success import policies
from success.events import signals_recorded
from success.signal_models import BuiltInSignal, SignalImport, SignalSource, SignalType, UsageSignal

# What pages call the built-in types (their enum labels would say "Nps").
BUILT_IN_NAMES = {
    BuiltInSignal.ACTIVE_USERS: "Active users",
    BuiltInSignal.LICENCES_USED: "Licences used",
    BuiltInSignal.TICKETS_OPEN: "Support tickets open",
    BuiltInSignal.ESCALATIONS: "Escalations",
    BuiltInSignal.NPS: "Product NPS (mean answer, 0-10)",
}

# Customers per IN list when looking up stored rows (under SQLite's 32,766 variables).
LOOKUP_CHUNK = 5_000


@dataclass(frozen=True)
class SignalRow:
    customer_id: int
    key: str  # signal type key, e.g. "active_users"
    day: date
    value: float


def _current_vendor() -> int:
    scope = current_scope()
    if not isinstance(scope, int):
        raise TenancyError("signal types are per vendor: call inside one vendor's scope")
    return scope


def _saved_types(vendor_id: int) -> list[SignalType]:
    return list(
        db.session.scalars(
            select(SignalType)
            .where(SignalType.vendor_id == vendor_id)
            .order_by(SignalType.built_in.desc(), SignalType.name)
        )
    )


def signal_types() -> list[SignalType]:
    """The current vendor's signal types, built-ins first; the built-in ones are made on first
    use (inside the caller's transaction, which commits them with its own change)."""
    return _types_of(_current_vendor())


def _types_of(vendor_id: int) -> list[SignalType]:
    """``vendor_id``'s types, named explicitly so a job in an all-tenants scope gets its own."""
    types = _saved_types(vendor_id)
    have = {t.key for t in types}
    missing = [kind for kind in BuiltInSignal if kind.value not in have]
    if not missing:
        return types
    table = SignalType.__table__
    db.session.execute(
        insert_for(db.session, table)
        .values(
            [
                {
                    "vendor_id": vendor_id,
                    "key": kind.value,
                    "name": BUILT_IN_NAMES[kind],
                    "built_in": True,
                }
                for kind in missing
            ]
        )
        .on_conflict_do_nothing(index_elements=["vendor_id", "key"])
    )
    return _saved_types(vendor_id)


def listed_types() -> list[SignalType]:
    """The vendor's types for a page that only reads: the saved ones, and the built-ins not
    made yet as unsaved rows (``signal_types()`` makes them when something is stored)."""
    types = _saved_types(_current_vendor())
    have = {t.key for t in types}
    missing = [
        SignalType(key=kind.value, name=BUILT_IN_NAMES[kind], built_in=True)
        for kind in BuiltInSignal
        if kind.value not in have
    ]
    return missing + types if missing else types


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
    type_ids = {t.key: t.id for t in _types_of(vendor_id)}
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


# --- vendor-defined types ------------------------------------------------------------------

KEY_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_TYPE_NAME = 80


def _refuse_unless_admin(actor: Actor | None) -> Actor:
    if actor is None or actor.role is not Role.ADMIN:
        raise NotAllowed("Only an admin changes the vendor's signal types.")
    return actor


def add_signal_type(actor: Actor | None, key: str, name: str) -> SignalType:
    """An admin adds a type of the vendor's own ("api_calls", "API calls")."""
    actor = _refuse_unless_admin(actor)
    key = (key or "").strip()
    name = " ".join((name or "").split())
    if not 2 <= len(key) <= 40 or not KEY_PATTERN.fullmatch(key):
        raise ServiceError(
            "Key: 2 to 40 lower-case letters, digits and single underscores, starting with a "
            "letter (like api_calls)."
        )
    if not name:
        raise ServiceError("Name: what the figure is called on pages.")
    if len(name) > MAX_TYPE_NAME:
        raise ServiceError(f"Name: at most {MAX_TYPE_NAME} characters.")
    taken = {t.key for t in _types_of(actor.vendor_id)}
    if key in taken:
        raise ServiceError(f"Key: “{key}” is already a signal type.")
    made = SignalType(vendor_id=actor.vendor_id, key=key, name=name, built_in=False)
    db.session.add(made)
    db.session.flush()
    audit.record("success.signal_type_added", made, changes={"key": key, "name": name})
    db.session.commit()
    return made


def _uses(signal_type: SignalType) -> int:
    """Rows anywhere that refer to the type (signals, playbook conditions, health components):
    read from the schema, so a table added later that refers to it counts too."""
    target = SignalType.__table__.c.id
    used = 0
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is target:
                used += db.session.scalar(
                    select(sa.func.count()).select_from(table).where(fk.parent == signal_type.id)
                )
    return used


def signal_type_in_use(signal_type: SignalType) -> bool:
    return _uses(signal_type) > 0


def delete_signal_type(actor: Actor | None, signal_type: SignalType) -> None:
    """An admin deletes a type of the vendor's own that nothing uses; built-ins stay."""
    _refuse_unless_admin(actor)
    if signal_type.built_in:
        raise ServiceError("Built-in signal types cannot be deleted.")
    if signal_type_in_use(signal_type):
        raise ServiceError(
            f"“{signal_type.name}” has signals or is used by a playbook or the health model, "
            "so it stays."
        )
    audit.record(
        "success.signal_type_deleted",
        signal_type,
        changes={"key": signal_type.key, "name": signal_type.name},
    )
    db.session.delete(signal_type)
    db.session.commit()


# --- CSV upload ----------------------------------------------------------------------------

COLUMNS = ("account", "signal", "date", "value")
HEADER = ",".join(COLUMNS)
MAX_ROWS = 100_000
MAX_FILE_BYTES = 8 * 1024 * 1024  # 100,000 rows of long account names fit easily
MAX_VALUE = 1e9
MAX_YEARS_BACK = 5
NPS_MAX = 10
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NOT_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    message: str


class SignalFileRefused(ServiceError):
    """The file as a whole (``message``) or some of its rows (``rows``) are wrong: nothing
    was imported."""

    status_code = 422

    def __init__(self, message: str, rows: Sequence[RowError] = ()) -> None:
        super().__init__(message)
        self.rows = list(rows)


def template_csv() -> str:
    return csv_text(COLUMNS, [["1042", BuiltInSignal.ACTIVE_USERS.value, "2025-01-31", "87"]])


def _read_table(raw: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (lower-cased) and the numbered rows that hold anything; file-level problems
    refuse the whole file."""
    if len(raw) > MAX_FILE_BYTES:
        raise SignalFileRefused(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: split it into "
            "smaller files."
        )
    try:
        text = upload_text(raw)
    except UploadRefused as error:
        raise SignalFileRefused(str(error)) from error
    if not text.strip():
        raise SignalFileRefused(f"The file is empty. Its first row names the columns {HEADER}.")
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise SignalFileRefused(f"This is not a readable CSV file: {error}.") from error
    header = [cell.strip().lower() for cell in table[0]]
    _check_header(header)
    # Numbered as a spreadsheet shows them: the header is row 1.
    rows = [(n, cells) for n, cells in enumerate(table[1:], 2) if any(c.strip() for c in cells)]
    if not rows:
        raise SignalFileRefused("The file has no rows below its header.")
    if len(rows) > MAX_ROWS:
        raise SignalFileRefused(
            f"The file has {len(rows):,} rows; at most {MAX_ROWS:,} per file: split it."
        )
    return header, rows


def _check_header(header: list[str]) -> None:
    if len(header) == len(COLUMNS) and set(header) == set(COLUMNS):
        return
    unknown = [cell for cell in header if cell not in COLUMNS]
    missing = [name for name in COLUMNS if name not in header]
    problems = []
    if unknown:
        problems.append("unexpected " + ", ".join(f"“{cell[:40]}”" for cell in unknown))
    if missing:
        problems.append("missing " + ", ".join(missing))
    if not problems:
        problems.append("a column is named twice")
    raise SignalFileRefused(
        f"The first row names exactly the columns {HEADER} ({'; '.join(problems)})."
    )


def _looks_like_formula(cell: str) -> bool:
    return cell[:1] in FORMULA_STARTS and not _NUMBER.fullmatch(cell.strip())


@dataclass
class _Lookup:
    """What rows are checked against, each read once per file."""

    by_number: dict[int, int]
    by_name: dict[str, list[int]]
    type_keys: dict[str, str]  # key → name
    earliest: date
    today: date


def _lookup(actor: Actor, today: date) -> _Lookup:
    stmt = select(Organization.id, Organization.name).where(Organization.kind == OrgKind.CUSTOMER)
    if policies.restricted_to_own(actor):
        stmt = stmt.where(Organization.csm_id == actor.id)
    by_number: dict[int, int] = {}
    by_name: dict[str, list[int]] = {}
    for customer_id, name in db.session.execute(stmt):
        by_number[customer_id] = customer_id
        by_name.setdefault(name.casefold(), []).append(customer_id)
    try:
        earliest = today.replace(year=today.year - MAX_YEARS_BACK)
    except ValueError:  # 29 February
        earliest = today.replace(year=today.year - MAX_YEARS_BACK, day=28)
    types = {t.key: t.name for t in _types_of(actor.vendor_id)}
    return _Lookup(by_number, by_name, types, earliest, today)


def _account(cell: str, lookup: _Lookup) -> int | str:
    text = (spreadsheet_text(cell.strip()) or "").strip()
    if not text:
        return "Account: empty; give the account number or the customer's exact name."
    if text.isdigit() and int(text) in lookup.by_number:
        return int(text)
    named = lookup.by_name.get(text.casefold(), [])
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        return f"Account: {len(named)} customers are named “{text[:80]}”; use the account number."
    return f"Account: unknown account “{text[:80]}” (an account number or a customer's exact name)."


def _signal(cell: str, lookup: _Lookup) -> str:
    key = cell.strip().lower()
    if key in lookup.type_keys:
        return key
    known = ", ".join(sorted(lookup.type_keys))
    shown = f"“{cell.strip()[:40]}”" if key else "empty"
    raise ValueError(f"Signal: {shown} is not a signal type (known: {known}).")


def _day(cell: str, lookup: _Lookup) -> date:
    text = cell.strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        shown = f"“{text[:40]}”" if text else "empty"
        raise ValueError(f"Date: {shown} is not a date as YYYY-MM-DD.") from None
    if day > lookup.today:
        raise ValueError(f"Date: {text} is in the future.")
    if day < lookup.earliest:
        raise ValueError(f"Date: {text} is more than {MAX_YEARS_BACK} years ago.")
    return day


def _value(cell: str, key: str) -> float:
    text = cell.strip()
    if text.lower() in _NOT_FINITE:
        raise ValueError(f"Value: “{text}” is not a figure (NaN and infinity are refused).")
    if not _NUMBER.fullmatch(text):
        shown = f"“{text[:40]}”" if text else "empty"
        raise ValueError(
            f"Value: {shown} is not a number (digits with a dot for decimals, no thousands "
            "separators)."
        )
    value = float(text)
    if not math.isfinite(value) or value > MAX_VALUE:
        raise ValueError(f"Value: {text} is too large (at most {MAX_VALUE:,.0f}).")
    if value < 0:
        raise ValueError(f"Value: {text} is negative; signals count things, from 0 up.")
    if key == BuiltInSignal.NPS.value and value > NPS_MAX:
        raise ValueError(f"Value: {text} is no NPS answer (0 to {NPS_MAX}).")
    return value


def _check_row(cells: dict[str, str], lookup: _Lookup) -> tuple[SignalRow | None, list[str]]:
    """The row, or what is wrong with it (every problem, not only the first)."""
    problems = [
        f"{name.capitalize()}: looks like a spreadsheet formula; type the plain value."
        for name in COLUMNS
        if _looks_like_formula(cells[name])
    ]
    if problems:
        return None, problems
    account = _account(cells["account"], lookup)
    if isinstance(account, str):
        problems.append(account)
    parsed: dict[str, Any] = {}
    for name, parse in (
        ("signal", lambda c: _signal(c, lookup)),
        ("date", lambda c: _day(c, lookup)),
        ("value", lambda c: _value(c, parsed.get("signal", ""))),
    ):
        try:
            parsed[name] = parse(cells[name])
        except ValueError as error:
            problems.append(str(error))
    if problems:
        return None, problems
    return SignalRow(account, parsed["signal"], parsed["date"], parsed["value"]), []


def read_signal_file(actor: Actor, raw: bytes, today: date) -> list[SignalRow]:
    """Every row of the file checked; ``SignalFileRefused`` lists each wrong row's problems."""
    header, table = _read_table(raw)
    lookup = _lookup(actor, today)
    rows: list[SignalRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[int, str, date], int] = {}
    for number, cells in table:
        if len(cells) != len(COLUMNS):
            errors.append(
                RowError(number, f"{len(cells)} cells; every row has {len(COLUMNS)} ({HEADER}).")
            )
            continue
        row, problems = _check_row(dict(zip(header, cells, strict=True)), lookup)
        if row is not None:
            key = (row.customer_id, row.key, row.day)
            if key in seen:
                problems = [f"Same account, signal and date as row {seen[key]}."]
            else:
                seen[key] = number
                rows.append(row)
        errors.extend(RowError(number, problem) for problem in problems)
    if errors:
        wrong = len({error.row for error in errors})
        raise SignalFileRefused(
            f"{wrong:,} of {len(table):,} rows are wrong; nothing was imported. Correct them "
            "and upload the file again.",
            errors,
        )
    return rows


def import_signal_file(actor: Actor | None, raw: bytes, filename: str, today: date) -> SignalImport:
    """An admin or CSM uploads a CSV of signals: all rows or none, in one transaction."""
    if not policies.sees_accounts(actor):
        raise NotAllowed("Only the vendor's admins and CSMs upload usage signals.")
    rows = read_signal_file(actor, raw, today)
    batch = store_signals(
        actor.vendor_id, rows, SignalSource.CSV, actor.user_id, _filename(filename)
    )
    db.session.commit()
    return batch


def _filename(name: str) -> str:
    """The uploaded file's own name, for the history: no path, no control characters."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    return name.strip()[:200]


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
