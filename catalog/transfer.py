"""Servlets to and from CSV and JSON, because vendors keep their offer in spreadsheets.

An import is checked row by row first; any bad row (or a bad file) and nothing is written,
with every problem reported against its row. A row whose slug the vendor already uses saves
a new draft of that servlet; other rows create servlets.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from catalog import servlets
from catalog.content import LIST_FIELDS, ServletContent, clean_lines, problems
from catalog.models import (
    CONTENT_FIELDS,
    BillingPolicy,
    DeliveryMode,
    LifecycleStage,
    QuestionType,
    Servlet,
    ServletKind,
)
from catalog.queries import load_servlet_options
from core import audit
from core.bounds import MAX_INT, OutOfBounds, parse_decimal, parse_int
from core.csv_export import csv_text, spreadsheet_text
from core.errors import ServiceError
from core.extensions import db
from core.money import Money
from core.permissions import Actor, require
from core.uploads import UploadRefused, upload_json, upload_text

# A file's columns are the version's content fields, with money as decimal amounts
# ("price" for "price_minor") and the derived search text left out.
_FILE_NAMES = {"price_minor": "price", "delivery_cost_minor": "delivery_cost"}
COLUMNS = (
    "slug",
    *(_FILE_NAMES.get(name, name) for name in CONTENT_FIELDS if name != "search_text"),
)
REQUIRED = {
    "title",
    "kind",
    "stage",
    "outcome",
    "deliverables",
    "delivery_mode",
    "duration_days",
    "effort_hours",
    "price",
    "currency",
    "billing_policy",
}
INFORMATIONAL = {"status", "version"}  # written by export, ignored by import
MAX_ROWS = 2000


# --- export ----------------------------------------------------------------------------------


def _record(servlet: Servlet) -> dict[str, Any]:
    version = servlet.latest
    values = ServletContent.of(version).plain_values()
    return {
        "slug": servlet.slug,
        "status": servlet.status,
        "version": version.number,
        **values,
        "csat_target": str(values["csat_target"]),
    }


def export_servlets(fmt: str) -> str:
    """Every servlet of the vendor (its latest version) as CSV or JSON text."""
    rows = db.session.scalars(
        select(Servlet).options(*load_servlet_options()).order_by(Servlet.slug)
    )
    records = [_record(servlet) for servlet in rows]
    if fmt == "json":
        return json.dumps({"servlets": records}, indent=2, ensure_ascii=False)
    header = ["slug", "status", "version", *COLUMNS[1:]]
    return csv_text(header, ([_cell(record[name]) for name in header] for record in records))


def _cell(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return "\n".join(_cell_line(item) for item in value)


def _cell_line(item: Any) -> str:
    if isinstance(item, dict) and "label" in item:
        required = "required" if item.get("required") else "optional"
        return " | ".join(
            [item["label"], item["type"], required, "; ".join(item.get("choices") or [])]
        ).rstrip(" |")
    if isinstance(item, dict):
        return " | ".join(filter(None, [item.get("title", ""), item.get("description", "")]))
    return str(item)


# --- import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    file_errors: list[str] = field(default_factory=list)
    row_errors: dict[int, list[str]] = field(default_factory=dict)
    imported: int = 0

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.row_errors


def import_servlets(actor: Actor, raw: bytes, filename: str, publish: bool = False) -> ImportReport:
    """Create or redraft every servlet in the file, or none of them."""
    require(actor, *servlets.AUTHORS)
    report = ImportReport()
    rows = _read_rows(raw, filename, report)
    if not report.ok:
        return report
    parsed: list[tuple[str | None, ServletContent]] = []
    seen: set[str] = set()
    for number, row in rows:
        content, slug, errors = _parse_row(row)
        if slug and slug in seen:
            errors.append(f"Slug “{slug}” appears twice in the file.")
        seen.add(slug or "")
        if errors:
            report.row_errors[number] = errors
        else:
            parsed.append((slug, content))  # type: ignore[arg-type]
    if not report.ok:
        return report
    try:
        report.imported = _apply(actor, parsed, publish)
    except ServiceError as error:
        db.session.rollback()
        report.file_errors.append(error.message)
        return report
    db.session.commit()
    return report


def _apply(actor: Actor, parsed: list[tuple[str | None, ServletContent]], publish: bool) -> int:
    slugs = [slug for slug, _ in parsed if slug]
    existing = {
        servlet.slug: servlet
        for servlet in db.session.scalars(
            select(Servlet).where(Servlet.vendor_id == actor.vendor_id, Servlet.slug.in_(slugs))
        )
    }
    taken: set[str] = set()
    for slug, content in parsed:
        servlet = existing.get(slug) if slug else None
        if servlet is not None:
            servlets._save_draft(actor, servlet, content)
        else:
            new_slug = servlets._free_slug(actor.vendor_id, slug or content.title, taken)
            taken.add(new_slug)
            servlet = servlets._new_servlet(actor, content, new_slug)
        if publish:
            servlets._publish(actor, servlet)
    audit.record(
        "servlet.imported",
        object_type="servlet",
        changes={"rows": len(parsed), "published": publish},
    )
    return len(parsed)


def _read_rows(raw: bytes, filename: str, report: ImportReport) -> list[tuple[int, dict]]:
    try:
        text = upload_text(raw)
    except UploadRefused as error:
        report.file_errors.append(str(error))
        return []
    is_json = filename.lower().endswith(".json") or text.lstrip().startswith(("[", "{"))
    rows = _json_rows(text, report) if is_json else _csv_rows(text, report)
    if report.ok and not rows:
        report.file_errors.append("The file holds no servlets.")
    if len(rows) > MAX_ROWS:
        report.file_errors.append(f"At most {MAX_ROWS:,} servlets per file; split it.")
    if report.ok:
        _check_columns({key for _, row in rows for key in row}, report)
    return rows


def _check_columns(present: set[str], report: ImportReport) -> None:
    unknown = present - set(COLUMNS) - INFORMATIONAL
    missing = REQUIRED - present
    if unknown:
        report.file_errors.append(
            "Unknown columns: " + ", ".join(sorted(unknown)) + ". Expected: " + ", ".join(COLUMNS)
        )
    if missing:
        report.file_errors.append("Missing columns: " + ", ".join(sorted(missing)) + ".")


def _csv_rows(text: str, report: ImportReport) -> list[tuple[int, dict]]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = []
        # Numbered as a spreadsheet shows them: the header is row 1, whatever line breaks
        # the cells hold.
        for number, row in enumerate(reader, 2):
            if None in row:
                report.row_errors[number] = ["More cells than there are columns."]
            cells = {k.strip(): spreadsheet_text(v) for k, v in row.items() if k}
            rows.append((number, cells))
    except csv.Error as error:
        report.file_errors.append(f"This is not a readable CSV file: {error}.")
        return []
    return rows


def _json_rows(text: str, report: ImportReport) -> list[tuple[int, dict]]:
    try:
        data = upload_json(text)
    except UploadRefused as error:
        report.file_errors.append(str(error))
        return []
    if isinstance(data, dict):
        data = data.get("servlets")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        report.file_errors.append('Expected a list of servlets (objects), or {"servlets": [...]}.')
        return []
    return list(enumerate(data, 1))


def _parse_row(row: dict[str, Any]) -> tuple[ServletContent | None, str | None, list[str]]:
    errors: list[str] = []

    def text(name: str, default: str = "") -> str:
        value = row.get(name)
        return default if value is None else str(value).strip()

    def enum(name: str, kind: Any) -> Any:
        value = text(name).lower()
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            errors.append(f"{name}: “{value[:40]}” is not one of {allowed}.")
            return None

    def number(name: str, default: int | None = None) -> int | None:
        value = text(name)
        if not value and default is not None:
            return default
        try:
            return parse_int(value, -MAX_INT, MAX_INT)  # the range is for ``problems``
        except OutOfBounds as error:
            errors.append(f"{name}: “{value[:40]}” is not {error}.")
            return None

    currency = text("currency").upper()
    price = _money("price", text("price"), currency, errors)
    cost = _money("delivery_cost", text("delivery_cost", "0") or "0", currency, errors)
    csat = _decimal("csat_target", text("csat_target", "4.5") or "4.5", errors)
    duration = number("duration_days")
    values = {
        "kind": enum("kind", ServletKind),
        "stage": enum("stage", LifecycleStage),
        "delivery_mode": enum("delivery_mode", DeliveryMode),
        "billing_policy": enum("billing_policy", BillingPolicy),
        "duration_days": duration,
        "effort_hours": number("effort_hours"),
        "start_within_days": number("start_within_days", 5),
        "deliver_within_days": number("deliver_within_days", duration or 1),
    }
    deliverables = _deliverables(row.get("deliverables"), errors)
    questions = _questions(row.get("intake_questions"), errors)
    if errors:
        return None, None, errors
    content = ServletContent(
        title=text("title"),
        outcome=text("outcome"),
        summary=text("summary"),
        description=text("description"),
        price=price,  # type: ignore[arg-type]
        delivery_cost=cost,
        csat_target=csat,  # type: ignore[arg-type]
        deliverables=deliverables,
        intake_questions=questions,
        **{name: _lines(row.get(name)) for name in LIST_FIELDS},
        **values,  # type: ignore[arg-type]
    )
    slug = servlets.slugify(text("slug")) if text("slug") else None
    return content, slug, problems(content)


def _money(name: str, value: str, currency: str, errors: list[str]) -> Money | None:
    try:
        return Money.parse(value, currency)
    except ValueError as error:
        errors.append(f"{name}: {error}.")
        return None


def _decimal(name: str, value: str, errors: list[str]) -> Decimal | None:
    try:
        return parse_decimal(value, whole_digits=3, places=3)  # the range is for ``problems``
    except OutOfBounds as error:
        errors.append(f"{name}: “{value[:40]}” is not {error}.")
        return None


def _lines(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return clean_lines(str(value or ""))


def _deliverables(value: Any, errors: list[str]) -> list[dict[str, str]]:
    if isinstance(value, list):
        result = []
        for item in value:
            if isinstance(item, dict):
                result.append(
                    {
                        "title": str(item.get("title") or "").strip(),
                        "description": str(item.get("description") or "").strip(),
                    }
                )
            else:
                result.append({"title": str(item).strip(), "description": ""})
        return result
    result = []
    for line in clean_lines(str(value or "")):
        title, _, description = line.partition("|")
        result.append({"title": title.strip(), "description": description.strip()})
    return result


def _questions(value: Any, errors: list[str]) -> list[dict[str, Any]]:
    if isinstance(value, list):
        items = value
    else:
        items = []
        for line in clean_lines(str(value or "")):
            cells = [cell.strip() for cell in line.split("|")] + ["", "", ""]
            items.append(
                {
                    "label": cells[0],
                    "type": cells[1] or "text",
                    "required": cells[2].lower() in {"required", "yes", "true", "1"},
                    "choices": [c.strip() for c in cells[3].split(";") if c.strip()],
                }
            )
    result = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            errors.append(f"intake_questions: question {number} is not an object.")
            continue
        kind = str(item.get("type") or "text").strip().lower()
        if kind not in {t.value for t in QuestionType}:
            allowed = ", ".join(t.value for t in QuestionType)
            errors.append(f"intake_questions: question {number} type must be one of {allowed}.")
        choices = item.get("choices") or []
        if not isinstance(choices, list):
            choices = [c.strip() for c in str(choices).split(";") if c.strip()]
        result.append(
            {
                "label": str(item.get("label") or "").strip(),
                "type": kind,
                "required": bool(item.get("required")),
                "choices": [str(c) for c in choices],
            }
        )
    return result
