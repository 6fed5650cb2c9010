"""On SQLite a writer waits for the write lock in short steps, for as long as the busy
timeout, and then fails as SQLite would; its connection keeps the busy timeout for everything
else. Another process's transaction (a plain ``sqlite3`` connection) holds the lock."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from core import db as core_db


@pytest.fixture
def database(tmp_path) -> Iterator[tuple[sa.Engine, sqlite3.Connection]]:
    path = tmp_path / "locks.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (body TEXT)")
    holder = sqlite3.connect(path, isolation_level=None)
    yield engine, holder
    holder.close()
    engine.dispose()


def _busy_timeout(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("PRAGMA busy_timeout").scalar()


def test_a_writer_waits_while_another_holds_the_lock_then_writes(database, monkeypatch):
    engine, holder = database
    holder.execute("BEGIN IMMEDIATE")
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            holder.execute("COMMIT")

    monkeypatch.setattr(core_db, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO note VALUES ('queued')")
    assert pauses == [0.0005, 0.001, 0.002]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT body FROM note").scalars().all() == ["queued"]
    assert _busy_timeout(engine) == core_db.SQLITE_BUSY_TIMEOUT_MS


def test_pauses_grow_to_a_few_milliseconds_and_no_more(database, monkeypatch):
    engine, holder = database
    holder.execute("BEGIN IMMEDIATE")
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 8:
            holder.execute("COMMIT")

    monkeypatch.setattr(core_db, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO note VALUES ('late')")
    assert max(pauses) == core_db.WRITE_LOCK_MAX_PAUSE_S
    assert pauses[-4:] == [core_db.WRITE_LOCK_MAX_PAUSE_S] * 4


def test_a_writer_that_never_gets_the_lock_fails_as_sqlite_would(database, monkeypatch):
    engine, holder = database
    monkeypatch.setattr(core_db, "SQLITE_BUSY_TIMEOUT_MS", 20)
    holder.execute("BEGIN IMMEDIATE")
    with (
        pytest.raises(OperationalError, match="database is locked"),
        engine.begin() as connection,
    ):
        connection.exec_driver_sql("INSERT INTO note VALUES ('lost')")
    holder.execute("COMMIT")
    assert _busy_timeout(engine) == 20
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM note").scalar() == 0
