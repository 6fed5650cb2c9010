"""The browser lane: the real app on a live server, driven by headless Chromium.

One server and one browser for the whole session keep the lane fast; every test gets a fresh
browser context (no cookies carried over). The database is a SQLite file built by the real
migrations and filled by the demo seeders, and CSRF protection stays on, as in production.
These fixtures do not use ``app`` or the ``--database`` lanes of ``tests/conftest.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import flask_migrate
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from werkzeug.serving import make_server

from accounts.seed import DEMO_PASSWORD
from core.app import create_app
from core.demo import Login, run_seeders
from core.extensions import db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass(frozen=True)
class LiveServer:
    url: str
    logins: list[Login]  # organisation, role, email, password, as the demo seed prints them

    def login_for(self, role: str) -> Login:
        """The first demo login of ``role``."""
        return next(login for login in self.logins if login[1] == role)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = tmp_path_factory.mktemp("e2e") / "e2e.sqlite"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "SECRET_KEY": "e2e-secret-key",
            "SESSION_COOKIE_SECURE": False,
            "OUTBOX_PAGE": True,
            "MAIL_SERVER": "",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SCHEDULER_IN_PROCESS": True,  # as in make run: mail and PDFs go out by themselves
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        logins = run_seeders()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", logins=logins)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context; the test fails if any page broke the Content-Security-Policy
    (Chromium reports a refused script, style or image on the console)."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    violations: list[str] = []

    def note_violation(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", note_violation)
    yield page
    context.close()
    assert not violations, "\n".join(violations)


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the form as ``email`` in a fresh session (the cookies of whoever was
    signed in before are dropped, as if on another person's browser); wait for the home page."""
    page.context.clear_cookies()
    page.goto("/sign-in")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("current-organization")).to_be_visible()
    page.wait_for_load_state()  # scripts run: menus and confirmations are wired
