"""The CSV upload of usage signals: every row checked against the vendor's customers and
signal types, and stored all or none (``success.signals.store_signals``)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from accounts.models import Organization
from core.csv_export import FORMULA_STARTS, csv_text, spreadsheet_text
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind
from core.uploads import UploadRefused, upload_text
from success import policies
from success.signal_models import BuiltInSignal, SignalImport, SignalSource
from success.signal_types import types_of
from success.signals import SignalRow, store_signals

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
class RowLookup:
    """What rows are checked against, each read once per file."""

    by_number: dict[int, int]
    by_name: dict[str, list[int]]
    type_keys: dict[str, str]  # key → name
    earliest: date
    today: date


def row_lookup(actor: Actor, today: date) -> RowLookup:
    """What checking a row needs, read once per file or request: the accounts ``actor`` may
    feed, the vendor's signal types and the date limits."""
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
    types = {t.key: t.name for t in types_of(actor.vendor_id)}
    return RowLookup(by_number, by_name, types, earliest, today)


def _account(cell: str, lookup: RowLookup) -> int | str:
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


def _signal(cell: str, lookup: RowLookup) -> str:
    key = cell.strip().lower()
    if key in lookup.type_keys:
        return key
    known = ", ".join(sorted(lookup.type_keys))
    shown = f"“{cell.strip()[:40]}”" if key else "empty"
    raise ValueError(f"Signal: {shown} is not a signal type (known: {known}).")


def _day(cell: str, lookup: RowLookup) -> date:
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


def check_row(cells: dict[str, str], lookup: RowLookup) -> tuple[SignalRow | None, list[str]]:
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
    lookup = row_lookup(actor, today)
    rows: list[SignalRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[int, str, date], int] = {}
    for number, cells in table:
        if len(cells) != len(COLUMNS):
            errors.append(
                RowError(number, f"{len(cells)} cells; every row has {len(COLUMNS)} ({HEADER}).")
            )
            continue
        row, problems = check_row(dict(zip(header, cells, strict=True)), lookup)
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
