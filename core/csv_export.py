"""CSV files: one way to write them, and safe to open in a spreadsheet.

Every export (orders, audit log, servlets) is written by ``csv_text``, which prefixes a cell
a spreadsheet would run as a formula with ``'`` (CSV injection). An importer of files this
app exported reads cells through ``spreadsheet_text`` to take that prefix off again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is prefixed with ' (CSV injection)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return f"'{value}"
    return value


def spreadsheet_text(value: str | None) -> str | None:
    """A cell as it was before ``spreadsheet_safe``: ``'=1+1`` → ``=1+1``. (A spreadsheet
    saving the file drops the ' itself; this reads the file as exported as the same.)"""
    if value is not None and value[:1] == "'" and value[1:2] in FORMULA_STARTS:
        return value[1:]
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    return Response(
        csv_text(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
