"""A small write resource for the convention tests (the foundation has no write endpoint of
its own yet): a POST that counts its runs and audits, and a PATCH guarded by an ETag. It is
registered only on the apps of the tests that use it (``with_probe``)."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, request
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from api import rest
from api.fields import ApiSchema, MoneyField, Timestamp
from api.rest import ApiBlueprint
from core import audit
from core.db import utcnow
from core.extensions import db

blp = ApiBlueprint("probe", __name__, area="orders", url_prefix="/probe")

runs: list[dict[str, Any]] = []
_lock = threading.Lock()
pause_seconds = 0.0
# The one "resource" the PATCH changes.
note = {"id": 1, "text": "first"}


class LineSchema(ApiSchema):
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100))


class ProbeInSchema(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(max=50))
    price = MoneyField(required=True)
    due = Timestamp(load_default=None)
    lines = fields.List(fields.Nested(LineSchema), load_default=list)


class ProbeOutSchema(ApiSchema):
    run = fields.Integer()
    name = fields.String()
    price = MoneyField()
    at = Timestamp()


class NoteSchema(ApiSchema):
    id = fields.Integer()
    text = fields.String(required=True)


class NoteChangeSchema(ApiSchema):
    text = fields.String(validate=validate.Length(max=50))


@blp.route("", methods=["POST"], endpoint="make")
@blp.arguments(ProbeInSchema)
@blp.response(201, ProbeOutSchema)
def make(values: dict[str, Any]) -> ResponseReturnValue:
    time.sleep(pause_seconds)  # lets a concurrent duplicate arrive while this one runs
    with _lock:
        runs.append(values)
        run = len(runs)
    audit.record("probe.made", object_type="probe", object_id=run, changes={"name": values["name"]})
    db.session.commit()
    return {"run": run, "name": values["name"], "price": values["price"], "at": utcnow()}


@blp.route("/note", methods=["GET", "PATCH"], endpoint="note")
@blp.etag
@blp.arguments(NoteChangeSchema, location="json", required=False)
@blp.response(200, NoteSchema)
def change_note(values: dict[str, Any]) -> ResponseReturnValue:
    if request.method == "PATCH":
        blp.check_etag(note, NoteSchema)
        note.update(values)
    return note


def with_probe(app: Flask) -> Flask:
    runs.clear()
    note.update(text="first")
    rest.register(app, blp)
    return app
