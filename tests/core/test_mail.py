"""Email through a real SMTP server on loopback, sent by the scheduler and never by a request."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from core import mail
from core.claims import MAX_ATTEMPTS
from core.db import utcnow
from core.extensions import db
from core.mail import OutboxEmail, deliver_pending, send_mail
from tests.accounts.helpers import emails_to
from tests.smtp import free_port, smtp_server

SMTP_PORT = free_port()


@pytest.fixture
def app_config():
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": SMTP_PORT}


def make_due(unscoped) -> None:
    """Let the clock pass every back-off."""
    with unscoped():
        db.session.execute(update(OutboxEmail).values(due_at=utcnow()))
        db.session.commit()


def test_a_reset_request_answers_without_talking_to_the_mail_server(client, tenant_a, unscoped):
    person = tenant_a.people["buyer"]
    with smtp_server(SMTP_PORT, delay=1.0) as inbox:
        client.post("/password/forgot", data={"email": person.email})
        assert inbox.messages == []
        with unscoped():
            assert deliver_pending() == 1
    [message] = inbox.messages
    assert message["To"] == person.email
    assert message["Subject"] == "Reset your Servlet Desk password"
    assert "http://desk.test/password/reset/" in message.get_payload()


def test_a_sent_message_is_not_sent_again(app, unscoped):
    with unscoped():
        send_mail("someone@example.com", "Hello", "Body")
        db.session.commit()
    with smtp_server(SMTP_PORT) as inbox, unscoped():
        assert deliver_pending() == 1
        assert deliver_pending() == 0
    assert len(inbox.messages) == 1
    [sent] = emails_to(unscoped, "someone@example.com")
    assert sent.sent_at is not None


def test_mail_waits_in_the_outbox_while_the_server_is_down_and_goes_out_later(app, unscoped):
    with unscoped():
        send_mail("someone@example.com", "Hello", "Body")
        db.session.commit()
        assert deliver_pending() == 0
    [waiting] = emails_to(unscoped, "someone@example.com")
    assert waiting.sent_at is None
    assert waiting.attempts == 1
    assert waiting.last_error
    with smtp_server(SMTP_PORT) as inbox:
        with unscoped():
            assert deliver_pending() == 0  # backing off: not due yet
        make_due(unscoped)
        with unscoped():
            assert deliver_pending() == 1
    assert [m["Subject"] for m in inbox.messages] == ["Hello"]


def test_a_message_that_keeps_failing_stops_being_retried(app, unscoped):
    with unscoped():
        send_mail("someone@example.com", "Hello", "Body")
        db.session.commit()
    for _ in range(MAX_ATTEMPTS + 2):
        make_due(unscoped)
        with unscoped():
            deliver_pending()
    [given_up] = emails_to(unscoped, "someone@example.com")
    assert given_up.attempts == MAX_ATTEMPTS
    assert given_up.sent_at is None


def test_no_transaction_is_open_while_a_message_is_sent(app, unscoped, monkeypatch):
    """SMTP may take seconds: on SQLite an open write transaction would stop every writer."""
    seen = []
    monkeypatch.setattr(mail, "_deliver", lambda email: seen.append(db.session().in_transaction()))
    with unscoped():
        for number in range(3):
            send_mail(f"person{number}@example.com", "Hello", "Body")
        db.session.commit()
        assert deliver_pending() == 3
    assert seen == [False, False, False]
