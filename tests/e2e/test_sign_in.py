"""Signing in and out through the real form, in Chromium, for one demo login of every role."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from core.permissions import Role
from tests.e2e.conftest import LiveServer


def _sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_every_role_signs_in_to_its_home_page(
    page: Page, live_server: LiveServer, role: str
) -> None:
    organization, _, email, password = live_server.login_for(role)

    _sign_in(page, email, password)

    expect(page.get_by_test_id(f"home-{role}")).to_be_visible()
    expect(page.get_by_test_id("current-organization")).to_contain_text(organization)


def test_wrong_password_is_refused_and_stays_on_sign_in(
    page: Page, live_server: LiveServer
) -> None:
    _, _, email, _ = live_server.login_for(Role.BUYER.value)

    _sign_in(page, email, "not-the-password")

    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_test_id("current-organization")).to_have_count(0)


def test_sign_out_from_the_navbar_returns_to_sign_in(page: Page, live_server: LiveServer) -> None:
    organization, _, email, password = live_server.login_for(Role.ADMIN.value)
    _sign_in(page, email, password)
    expect(page.get_by_test_id("home-admin")).to_be_visible()
    page.wait_for_load_state()  # Bootstrap's script has wired the menu

    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    expect(page.get_by_text(organization)).to_have_count(0)
