"""Two scheduler processes on one database send each queued email exactly once.

Real processes (``flask scheduler drain``), a real SMTP server on loopback that takes a little
time per message so that the two really overlap, on the lane's database (a SQLite file or the
throwaway PostgreSQL server).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.db import utcnow
from core.extensions import db
from core.mail import OutboxEmail, send_mail
from tests.smtp import free_port, smtp_server

ROOT = Path(__file__).resolve().parents[2]
SMTP_PORT = free_port()
EMAILS = 100


def run_two_schedulers(database_url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(SMTP_PORT),
        "SECRET_KEY": "test-secret-key",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "drain"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in processes:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors.decode()


@pytest.fixture
def queued(app, unscoped) -> None:
    with unscoped():
        for number in range(EMAILS):
            send_mail(f"person{number}@example.com", f"Message {number}", "Body")
        db.session.commit()


def waiting(unscoped) -> int:
    with unscoped():
        return db.session.scalar(
            select(func.count()).select_from(OutboxEmail).where(OutboxEmail.done_at.is_(None))
        )


def test_two_schedulers_send_each_of_100_emails_once(schema, queued, unscoped):
    with smtp_server(SMTP_PORT, delay=0.005) as inbox:
        run_two_schedulers(schema)
    assert Counter(m["Subject"] for m in inbox.messages) == Counter(
        f"Message {number}" for number in range(EMAILS)
    )
    assert waiting(unscoped) == 0


def test_with_the_server_down_nothing_is_lost_and_each_arrives_once_when_it_is_up(
    schema, queued, unscoped
):
    run_two_schedulers(schema)  # no server listening: every attempt fails
    assert waiting(unscoped) == EMAILS
    with unscoped():
        db.session.execute(update(OutboxEmail).values(due_at=utcnow()))
        db.session.commit()
    with smtp_server(SMTP_PORT, delay=0.005) as inbox:
        run_two_schedulers(schema)
    assert sorted(m["To"] for m in inbox.messages) == sorted(
        f"person{number}@example.com" for number in range(EMAILS)
    )
    assert waiting(unscoped) == 0
