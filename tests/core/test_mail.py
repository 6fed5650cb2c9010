"""Email through a real SMTP server on loopback."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from core.extensions import db
from core.mail import MAX_ATTEMPTS, OutboxEmail, deliver_pending, send_mail
from tests.accounts.helpers import emails_to


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def handle_message(self, message) -> None:
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SMTP_PORT = free_port()


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def app_config():
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": SMTP_PORT}


def test_a_reset_email_reaches_the_smtp_server_once(client, tenant_a, inbox, unscoped):
    person = tenant_a.people["buyer"]
    client.post("/password/forgot", data={"email": person.email})
    [message] = inbox.messages
    assert message["To"] == person.email
    assert message["Subject"] == "Reset your Servlet Desk password"
    assert "http://desk.test/password/reset/" in message.get_payload()
    with unscoped():
        assert deliver_pending() == 0
    assert len(inbox.messages) == 1


def test_mail_waits_in_the_outbox_while_the_server_is_down_and_goes_out_later(app, unscoped):
    with unscoped():
        send_mail("someone@example.com", "Hello", "Body")
        db.session.commit()
        assert deliver_pending() == 0
    [waiting] = emails_to(unscoped, "someone@example.com")
    assert waiting.sent_at is None
    assert waiting.attempts == 1
    assert waiting.last_error

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        with unscoped():
            assert deliver_pending() == 1
    finally:
        controller.stop()
    assert [m["Subject"] for m in handler.messages] == ["Hello"]


def test_a_message_that_keeps_failing_stops_being_retried(app, unscoped):
    with unscoped():
        send_mail("someone@example.com", "Hello", "Body")
        db.session.commit()
        for _ in range(MAX_ATTEMPTS + 2):
            deliver_pending()
        assert db.session.scalar(db.select(OutboxEmail.attempts)) == MAX_ATTEMPTS
