"""``POST /api/v1/signals``: usage signals in bulk, for a product-analytics tool's nightly push.

A request carries up to ``MAX_ROWS`` rows, each checked by the CSV upload's own row rules
(``success.signal_csv``: the account among the caller's reach, a known signal type, a date
in the last five years and not in the future, a figure from 0 up, NPS answers 0-10), plus no
two rows of the request with one row key (account, signal, date). Any wrong row refuses the
whole request with one error per problem, pointing at its field (``#/rows/12/value``), and
nothing is stored. Otherwise the rows go through ``success.signals.store_signals`` in one
upsert: a row key already stored takes the new figure, so sending a batch again updates and
never duplicates; the answer counts new and updated rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from flask.typing import ResponseReturnValue
from marshmallow import ValidationError, fields, pre_load, validate

from api.fields import ApiSchema, Id
from api.problems import Problem
from api.requests import body_limit
from api.rest import ApiBlueprint
from core.db import utcnow
from core.errors import NotAllowed
from core.extensions import db
from core.permissions import Actor, current_actor
from success import policies, signal_csv
from success.signal_models import SignalImport, SignalSource
from success.signals import SignalRow, store_signals

MAX_ROWS = 10_000
# 10,000 rows of 40-character signal keys, pretty-printed, fit with room to spare.
MAX_BODY_BYTES = 4 * 1024 * 1024

blp = ApiBlueprint(
    "signals",
    __name__,
    area="success",
    url_prefix="/signals",
    description="Usage signals: bulk ingest, idempotent per account, signal and date.",
)


class Figure(fields.Float):
    """A JSON number; a string of digits is refused rather than read."""

    default_error_messages = {"invalid": "Not a number (a JSON number, not a string)."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return value


class SignalRowSchema(ApiSchema):
    account = Id(required=True, metadata={"description": "The customer's (account's) id."})
    signal = fields.String(
        required=True, metadata={"description": "A signal type key.", "example": "active_users"}
    )
    date = fields.String(
        required=True, metadata={"format": "date", "description": "YYYY-MM-DD, not ahead."}
    )
    value = Figure(required=True, metadata={"description": "0 to 1e9; NPS answers 0 to 10."})


class SignalBatchSchema(ApiSchema):
    rows = fields.List(
        fields.Nested(SignalRowSchema),
        required=True,
        validate=validate.Length(1, MAX_ROWS),
        metadata={"description": f"1 to {MAX_ROWS:,} rows."},
    )

    @pre_load
    def _bounded(self, data: Any, **kwargs: Any) -> Any:
        """Refuse an oversized batch before reading each of its rows."""
        rows = data.get("rows") if isinstance(data, dict) else None
        if isinstance(rows, list) and len(rows) > MAX_ROWS:
            raise ValidationError(
                f"{len(rows):,} rows; at most {MAX_ROWS:,} per request: send the rest in another.",
                "rows",
            )
        return data


class SignalImportSchema(ApiSchema):
    import_id = fields.Integer(required=True)
    rows = fields.Integer(required=True)
    new = fields.Integer(
        required=True, metadata={"description": "Row keys stored for the first time."}
    )
    updated = fields.Integer(
        required=True, metadata={"description": "Row keys given a new figure."}
    )


@blp.route("", methods=["POST"], endpoint="ingest")
@body_limit(MAX_BODY_BYTES)
@blp.arguments(SignalBatchSchema)
@blp.response(200, SignalImportSchema)
def post_signals(batch: dict[str, Any]) -> ResponseReturnValue:
    """Store up to 10,000 usage signals (admins and CSMs, scope `write:success`): all of them,
    or none with an error per wrong row. A row key sent again takes the new figure."""
    made = ingest_signals(current_actor(), batch["rows"], utcnow().date())
    return {
        "import_id": made.id,
        "rows": made.rows,
        "new": made.new_rows,
        "updated": made.updated_rows,
    }


def ingest_signals(
    actor: Actor | None, rows: Sequence[dict[str, Any]], today: date
) -> SignalImport:
    """An admin or CSM sends signals through the API: all rows or none, in one transaction."""
    if not policies.sees_accounts(actor):
        raise NotAllowed("Only the vendor's admins and CSMs send usage signals.")
    checked = checked_rows(actor, rows, today)
    batch = store_signals(actor.vendor_id, checked, SignalSource.API, actor.user_id)
    db.session.commit()
    return batch


def checked_rows(actor: Actor, rows: Sequence[dict[str, Any]], today: date) -> list[SignalRow]:
    """Every row checked by the CSV's rules; a ``Problem`` lists each wrong row's problems."""
    lookup = signal_csv.row_lookup(actor, today)
    good: list[SignalRow] = []
    errors: list[dict[str, str]] = []
    seen: dict[tuple[int, str, date], int] = {}
    wrong = 0
    for index, row in enumerate(rows):
        cells = {
            "account": str(row["account"]),
            "signal": row["signal"],
            "date": row["date"],
            "value": _cell(row["value"]),
        }
        made, problems = signal_csv.check_row(cells, lookup)
        if made is not None and made.customer_id != row["account"]:
            # The CSV also finds an account by its name: an id is an id here.
            made, problems = None, [f"Account: unknown account {row['account']}."]
        if made is not None:
            key = (made.customer_id, made.key, made.day)
            if key in seen:
                problems = [f"Same account, signal and date as #/rows/{seen[key]}."]
            else:
                seen[key] = index
                good.append(made)
        if problems:
            wrong += 1
            errors.extend(
                {"pointer": f"#/rows/{index}{_field(problem)}", "detail": problem}
                for problem in problems
            )
    if errors:
        raise Problem(
            422,
            "validation",
            f"{wrong:,} of {len(rows):,} rows are wrong; nothing was stored. Correct them and "
            "send the request again.",
            errors=errors,
        )
    return good


def _cell(value: float) -> str:
    """A JSON number as the CSV's value rule reads it (a huge one reads as too large)."""
    if isinstance(value, int) and abs(value) <= 10**15:
        return str(value)
    try:
        return repr(float(value))
    except OverflowError:
        return "1e999"


def _field(problem: str) -> str:
    """``/value`` for "Value: ...": the CSV's messages start with their column's name."""
    column = problem.split(":", 1)[0].lower()
    return f"/{column}" if column in signal_csv.COLUMNS else ""
