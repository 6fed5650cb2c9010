"""The app shell holds every role's menu on a laptop and on a phone: nothing scrolls sideways
and sign-out is always reachable (in the user menu on a desktop, in the menu on a phone).

Each home is saved as ``tests/e2e/screenshots/<role>-<width>.png`` (git-ignored), and on a
phone also with the menu open (``<role>-<width>-menu.png``), for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, sign_in

SCREENSHOTS = Path(__file__).parent / "screenshots"
ROLES = [
    "admin",
    "csm",
    "delivery_manager",
    "consultant",
    "finance",
    "buyer",
    "approver",
    "viewer",
    "partner_manager",
    "partner_consultant",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def no_sideways_scroll(page: Page) -> None:
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width} px wide in a {viewport} px window"


def shoot(page: Page, name: str) -> None:
    """Save the page at phone and desktop width (``<name>-<width>.png``), checking on the
    phone that nothing scrolls sideways; the page is left at desktop width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.wait_for_load_state()  # its stylesheets too: a page measured before them is wider
    page.evaluate("window.scrollTo(0, 0)")  # a scrolled page draws its sticky top bar midway
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        if size is PHONE:
            no_sideways_scroll(page)
        page.screenshot(path=SCREENSHOTS / f"{name}-{size['width']}.png", full_page=True)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_home_fits_the_screen_and_sign_out_is_reachable(
    page: Page, live_server: LiveServer, role: str, size: dict[str, int]
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(size)
    sign_in(page, live_server.login_for(role)[2])
    page.goto("/")
    no_sideways_scroll(page)
    shot = SCREENSHOTS / f"{role}-{size['width']}"
    page.screenshot(path=f"{shot}.png", full_page=True)

    sign_out = page.get_by_role("button", name="Sign out")
    if size is DESKTOP:
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Home")).to_be_visible()
        expect(page.get_by_test_id("menu-button")).to_be_hidden()
        page.get_by_test_id("user-menu").click()
    else:
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        page.get_by_test_id("menu-button").click()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        page.locator("#sidebar.show:not(.showing)").wait_for()  # slid in, not sliding
        no_sideways_scroll(page)
        page.screenshot(path=f"{shot}-menu.png")
    expect(sign_out).to_be_visible()
    sign_out.click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


LIST_PAGES = [
    ("csm", "/recommendations"),
    ("csm", "/accounts/early-warning"),
    ("csm", "/follow-ups"),
    ("csm", "/accounts/renewals"),
    ("csm", "/playbooks"),
    ("buyer", "/value-report"),
    ("buyer", "/catalog"),
    ("buyer", "/orders"),
    ("buyer", "/engagements"),
    ("admin", "/admin/servlets"),
    ("delivery_manager", "/orders"),
    ("delivery_manager", "/engagements"),
    ("delivery_manager", "/resources"),
    ("delivery_manager", "/capacity"),
    ("delivery_manager", "/time/approvals"),
    ("delivery_manager", "/delivery/dashboard"),
    ("delivery_manager", "/change-orders"),
    ("buyer", "/change-orders"),
    ("consultant", "/time"),
    ("partner_consultant", "/time"),
    ("partner_manager", "/engagements"),
]


@pytest.mark.parametrize(("role", "path"), LIST_PAGES)
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_main_lists_fit_the_screen_with_their_header(
    page: Page, live_server: LiveServer, role: str, path: str, size: dict[str, int]
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(size)
    sign_in(page, live_server.login_for(role)[2])
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    no_sideways_scroll(page)
    name = path.strip("/").replace("/", "-")
    width = size["width"]
    page.screenshot(path=SCREENSHOTS / f"{role}-{name}-{width}.png", full_page=True)


def test_the_csm_reads_the_recommendation_funnel_as_a_chart_and_as_figures(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server.login_for("csm")[2])
    page.goto("/recommendations")
    chart = page.get_by_role("img", name="Recommendations by state")
    expect(chart).to_be_visible()
    table = page.get_by_test_id("funnel-table")
    for state in ("Proposed", "Viewed", "Ordered", "Declined", "Expired"):
        expect(chart.get_by_text(state, exact=True)).to_be_visible()
        expect(table.get_by_role("rowheader", name=state)).to_be_visible()
