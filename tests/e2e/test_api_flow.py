"""Issue 13 in the browser: a CSM makes a personal API token on the tokens page (its secret
shown once), a script uses it for the API, the CSM revokes it and the API refuses it; the
reference page renders the live OpenAPI document from the site's own files (the page fixture
fails on any Content-Security-Policy violation). Screenshots at phone and desktop width go to
``tests/e2e/screenshots/api-*.png``."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, sign_in
from tests.e2e.test_shell import DESKTOP, shoot

TOKEN_NAME = "CRM sync"


def _shoot(page: Page, name: str) -> None:
    shoot(page, f"api-{name}")


def _me(page: Page, secret: str) -> tuple[int, dict]:
    response = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    return response.status, response.json()


def test_a_token_made_on_the_page_opens_the_api_until_it_is_revoked(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server.login_for("csm")[2])
    page.goto("/settings/api-tokens")
    page.get_by_test_id("new-token").click()
    form = page.get_by_test_id("token-form")
    form.get_by_label("Name").fill(TOKEN_NAME)
    form.get_by_label("read:success").check()
    form.get_by_label("read:catalog").check()
    _shoot(page, "new-token")
    form.get_by_role("button", name="Create token").click()

    secret = page.get_by_test_id("new-token-secret").input_value()
    assert secret.startswith("sd_live_")
    _shoot(page, "token-created")
    status, me = _me(page, secret)
    assert status == 200, me
    assert sorted(me["token"]["scopes"]) == ["read:catalog", "read:success"]
    accounts = page.request.get("/api/v1/accounts", headers={"Authorization": f"Bearer {secret}"})
    assert accounts.status == 200
    assert accounts.json()["data"], "the CSM's token reads the vendor's accounts"

    page.goto("/settings/api-tokens")
    row = page.get_by_test_id("token-row").filter(has_text=TOKEN_NAME)
    expect(row).not_to_contain_text("Never")  # its use is recorded
    expect(row).not_to_contain_text(secret)  # the secret is never shown again
    _shoot(page, "tokens")
    row.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_test_id("token-row").filter(has_text=TOKEN_NAME)).to_contain_text("Revoked")
    status, problem = _me(page, secret)
    assert status == 401
    assert problem["status"] == 401

    page.goto("/api/v1/docs")
    expect(page.get_by_text("Servlet Desk API").first).to_be_visible()
    expect(page.locator(".opblock-tag").filter(has_text="accounts").first).to_be_visible()
    _shoot(page, "docs")
