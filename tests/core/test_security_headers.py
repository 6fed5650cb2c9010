"""Every response tells the browser to run only this site's scripts and styles, not to be
framed, not to guess content types and not to leak paths; HTTPS responses also ask for HSTS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Rendered to PDF by WeasyPrint, never served to a browser.
NOT_SERVED = {"ordering/order_form.html"}


def directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))
    }


@pytest.mark.parametrize("path", ["/sign-in", "/", "/static/css/app.css", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = directives(response)
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == "'self'"
    assert csp["form-action"].split()[0] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin")
    assert response.headers["X-Frame-Options"] == "DENY"


def test_forms_may_post_only_here_or_be_sent_on_to_stripe_checkout(client):
    allowed = directives(client.get("/sign-in"))["form-action"].split()
    assert allowed == ["'self'", "https://checkout.stripe.com"]


def test_a_signed_in_page_carries_them_too(client, tenant_a):
    sign_in(client, tenant_a.people["admin"])
    response = client.get("/admin/people")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers
    secure = client.get("/sign-in", base_url="https://desk.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(re.search(r"max-age=(\d+)", secure.headers["Strict-Transport-Security"])[1]) >= (
        365 * 24 * 3600
    )


def served_templates() -> list[Path]:
    return [
        path
        for path in sorted(TEMPLATES.rglob("*.html"))
        if str(path.relative_to(TEMPLATES)) not in NOT_SERVED
    ]


@pytest.mark.parametrize("path", served_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_what_the_policy_would_block(path):
    html = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"<style\b", html), "<style> element"
    assert not re.search(r"(?<![\w-])style\s*=\s*[\"']", html), "style attribute"
    assert not re.search(r"(?<![\w-])on[a-z]+\s*=\s*[\"']", html), "inline event handler"
    assert "javascript:" not in html


def test_icons_and_the_favicon_are_served_from_this_site(client):
    assert client.get("/static/favicon.svg").status_code == 200
    css = client.get("/static/vendor/bootstrap-icons/bootstrap-icons.min.css")
    assert css.status_code == 200
    assert b"fonts/bootstrap-icons.woff2" in css.data
    assert (
        client.get("/static/vendor/bootstrap-icons/fonts/bootstrap-icons.woff2").status_code == 200
    )
