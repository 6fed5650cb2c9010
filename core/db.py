"""Declarative base, shared column types and mixins for every model."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy import MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, registry
from sqlalchemy.orm import relationship as sa_relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Tests set this so that a page which forgets to eager-load what it shows fails loudly
# (an N+1 in waiting) instead of quietly issuing one query per row.
DEFAULT_LAZY = "raise_on_sql" if os.environ.get("SERVLET_DESK_LAZY_RAISE") else "select"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LabelledEnum(StrEnum):
    """A string enum whose members read well in pages: ``in_progress`` → "In progress"."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


def enum_column(enum: type[Enum], length: int = 24) -> sa.Enum:
    """Enums stored by value as plain strings: readable in SQL and free of native enum DDL."""
    return sa.Enum(
        enum,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def insert_for(session: Any, table: sa.Table) -> Any:
    """An ``INSERT`` for ``table`` in the session's dialect, so it can say ``ON CONFLICT``
    (SQLite and PostgreSQL share the syntax, SQLAlchemy keeps it per dialect)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def relationship(*args: Any, **kwargs: Any) -> Any:
    """``sqlalchemy.orm.relationship`` with the project's lazy-loading default."""
    kwargs.setdefault("lazy", DEFAULT_LAZY)
    return sa_relationship(*args, **kwargs)


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantMixin:
    """Marks a model as tenant data: every ORM query of it is filtered to the current vendor.

    See ``core.tenancy`` for how the filter is applied and why an unscoped query fails.
    """

    @declared_attr
    def vendor_id(cls) -> Mapped[int]:
        return mapped_column(sa.ForeignKey("organization.id"), index=True)


# Schema objects made by raw DDL (an area's full-text search index, say), which the models do
# not describe: Alembic's autogenerate and the schema test leave them alone.
_unmanaged_prefixes: list[str] = []


def unmanaged_schema_objects(*prefixes: str) -> None:
    """Declare tables or indexes whose names start with ``prefixes`` as made by raw DDL."""
    _unmanaged_prefixes.extend(prefixes)


def managed_by_models(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: skip what ``unmanaged_schema_objects`` declared."""
    return not (
        type_ in ("table", "index") and name and name.startswith(tuple(_unmanaged_prefixes))
    )


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long a writer on SQLite queues for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 15_000


def _is_sqlite(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Foreign keys on, write-ahead logging and a busy timeout for SQLite; and the driver's own
    transaction handling off, so that ``_sqlite_begin`` decides how each transaction begins.
    Other backends are left alone."""
    if _is_sqlite(dbapi_connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL's recommended durability: a commit is safe from any crash of the process and
        # the database can never corrupt; only a power cut may lose the last commits. It
        # saves an fsync per commit, which is most of a small write's time.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()


_writes_declared: ContextVar[bool] = ContextVar("writes_declared", default=False)


@contextmanager
def writes() -> Iterator[None]:
    """Transactions begun inside may write, even in a GET (opening a recommendation records
    that it was seen): on SQLite they take the write lock when they begin. The caller ends
    the page's read transaction first, so the next one begins inside."""
    token = _writes_declared.set(True)
    try:
        yield
    finally:
        _writes_declared.reset(token)


def _reads_only() -> bool:
    """A request with a safe method reads; everything else (a form post, a webhook, a job, a
    CLI command) is taken to write."""
    return has_request_context() and request.method in SAFE_METHODS and not _writes_declared.get()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """Writers on SQLite take the database's write lock when their transaction begins.

    ``with_for_update()`` is a no-op there, so a transaction that reads, checks and then
    writes would race another doing the same, and the loser of a deferred upgrade fails with
    "database is locked" rather than waiting. ``BEGIN IMMEDIATE`` makes writers queue (up to
    the busy timeout) and each reads the state its predecessor committed; readers never wait,
    as WAL lets them read beside the one writer. This is SQLAlchemy's documented pysqlite
    recipe, with IMMEDIATE for every transaction that may write.
    """
    if connection.dialect.name != "sqlite":
        return
    if _reads_only():
        connection.exec_driver_sql("BEGIN")
    else:
        _take_write_lock(connection)


# Between two tries for the write lock a writer sleeps this long, doubling up to the cap.
WRITE_LOCK_FIRST_PAUSE_S = 0.0005
WRITE_LOCK_MAX_PAUSE_S = 0.004


def _take_write_lock(connection: Any) -> None:
    """``BEGIN IMMEDIATE``, waiting for the lock in steps of at most 4 ms.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... up to 100 ms between tries,
    so a writer that finds the lock held for a millisecond may sleep 25 ms or more after it
    is free: under a steady stream of short writes (webhooks, claims) that sleep, not the
    work, made the slowest requests. Here the driver's timeout is off while the writer polls
    in short steps for as long as the busy timeout; the last try goes through SQLAlchemy, so
    a writer that never got the lock fails with its usual ``OperationalError``.
    """
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        pause = WRITE_LOCK_FIRST_PAUSE_S
        while time.monotonic() < deadline:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, WRITE_LOCK_MAX_PAUSE_S)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
