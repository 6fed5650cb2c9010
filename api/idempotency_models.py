"""The stored first answer of each idempotent POST, per token and ``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import IdMixin, TenantMixin, TimestampMixin
from core.extensions import db

MAX_KEY_LENGTH = 255


class IdempotencyKey(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One key of one token: inserted (and committed) before the request runs, so the unique
    constraint lets exactly one of two concurrent duplicates through; completed with the
    answer after it. ``status_code`` is NULL while the first request still runs."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("token_id", "key"),)

    token_id: Mapped[int] = mapped_column(sa.ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    # SHA-256 of method, path and body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    response_headers: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    completed_at: Mapped[datetime | None]
