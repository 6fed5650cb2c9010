"""``Idempotency-Key`` on POST: a retried request gets the first answer, and runs once.

Before the view runs, the key's row is inserted with ``ON CONFLICT DO NOTHING`` and
committed: of two concurrent requests with one key, exactly one inserts it (PostgreSQL makes
the second wait on the unique index until the first commits; on SQLite writers queue for
the write lock with ``BEGIN IMMEDIATE``), and only that one runs the view. The other, and any
later repeat, reads the row: the stored answer is sent again (``Idempotent-Replayed: true``),
a request still running is a 409 (retry shortly), and the same key with another method,
path or body is a 422. After the view, its answer is stored unless it is a 5xx, in which
case the row is removed so that a retry runs again (the view's transaction rolled back).

Keys belong to a token, are at most 255 printable characters, and are kept for
``KEEP_KEYS`` (a job removes older ones).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, g, request

from api.auth import current_token
from api.idempotency_models import MAX_KEY_LENGTH, IdempotencyKey
from api.problems import Problem
from core.db import insert_for, utcnow
from core.extensions import db
from core.scheduler import every

HEADER = "Idempotency-Key"
KEEP_KEYS = timedelta(hours=24)
_REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")
_table = IdempotencyKey.__table__


def _request_hash() -> str:
    digest = hashlib.sha256(f"{request.method}\n{request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST":
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise Problem(
            400,
            "bad-request",
            f"An {HEADER} is 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            errors=[{"parameter": HEADER, "detail": "Not a usable key."}],
        )
    return key


def claim_or_replay() -> Response | None:
    """Before the view (after authorisation): claim the key, or answer from its row."""
    key = _key()
    token = current_token()
    if key is None or token is None:
        return None
    request_hash = _request_hash()
    db.session.rollback()  # the claim is a transaction of its own, committed at once
    claimed = db.session.execute(
        insert_for(db.session, _table)
        .values(
            vendor_id=g.tenant_scope,
            token_id=token.id,
            key=key,
            request_hash=request_hash,
            response_headers={},
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["token_id", "key"])
        .returning(_table.c.id)
    ).scalar()
    if claimed is not None:
        db.session.commit()
        g.idempotency_claim = claimed
        return None
    first = db.session.execute(
        sa.select(_table).where(_table.c.token_id == token.id, _table.c.key == key)
    ).one()
    db.session.rollback()
    if first.request_hash != request_hash:
        raise Problem(
            422,
            "idempotency-key-reused",
            f"This {HEADER} was sent with another request; use a new key for a new request.",
        )
    if first.status_code is None:
        raise Problem(
            409,
            "idempotency-in-progress",
            f"The first request with this {HEADER} is still running; retry in a moment.",
            headers={"Retry-After": "1"},
        )
    replay = Response(first.response_body, status=first.status_code)
    replay.headers.update(first.response_headers or {})
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def store_answer(response: Response) -> Response:
    """After the view: keep its answer for repeats, or free the key after a server error."""
    claimed = g.pop("idempotency_claim", None)
    if claimed is None:
        return response
    db.session.rollback()
    row = _table.c.id == claimed
    if response.status_code >= 500:
        db.session.execute(sa.delete(_table).where(row))
    else:
        headers = {
            name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers
        }
        db.session.execute(
            sa.update(_table)
            .where(row)
            .values(
                status_code=response.status_code,
                response_body=response.get_data(as_text=True),
                response_headers=headers,
                completed_at=utcnow(),
            )
        )
    db.session.commit()
    return response


@every(60 * 60)
def forget_old_keys() -> int:
    """Keys older than ``KEEP_KEYS`` go: a retry comes within minutes, not days."""
    gone = db.session.execute(sa.delete(_table).where(_table.c.created_at < utcnow() - KEEP_KEYS))
    db.session.commit()
    return gone.rowcount
