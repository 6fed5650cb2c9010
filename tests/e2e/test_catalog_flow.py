"""Issue 3 in the browser: a vendor admin authors, previews and publishes a servlet and offers
it in a catalog assigned to one customer; that customer's buyer finds and opens it, while a
buyer of another customer of the same vendor, and a buyer of another vendor, neither find it
nor open it (404)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in

TITLE = "Quarterly Pipeline Health Check E2E"
OUTCOME = (
    "A scored review of your sales pipeline hygiene, with stale deals flagged and a "
    "quarter-by-quarter clean-up plan."
)
PRICE = "$7,250.00"
CATALOG = "Pipeline Picks E2E"  # sorts after "Enterprise": Blue Harbor's default stays the same
SEARCH = "pipeline"

UNASSIGNED_BUYER = "buyer.e2e@granite.example"  # Granite Federal Bank: sees Enterprise only
UNASSIGNED_PASSWORD = "granite-e2e-password"


def _nav(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()


def _author_and_publish_servlet(page: Page) -> None:
    _nav(page, "Servlets")
    page.get_by_role("link", name="New servlet").first.click()
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Kind").select_option(label="Health check")
    page.get_by_label("Life-cycle stage").select_option(label="Renewal")
    page.get_by_label("Outcome").fill(OUTCOME)
    page.get_by_label("Summary", exact=True).fill(
        "A fixed-price pipeline review in three business days."
    )
    page.get_by_label("Prerequisites (what the customer provides)").fill(
        "Read access to your CRM\nA sales operations contact"
    )
    # Deliverable and intake-question rows are table rows without labels of their own.
    page.get_by_label("Deliverable 1 title").fill("Pipeline hygiene scorecard")
    page.get_by_label("Deliverable 2 title").fill("Clean-up plan")
    page.get_by_label("Question 1", exact=True).fill("CRM instance URL")
    page.get_by_label("Question 1 required").check()
    page.get_by_label("Delivery mode").select_option(label="Remote")
    page.get_by_label("Duration (business days)").fill("3")
    page.get_by_label("Effort (hours)").fill("16")
    page.get_by_label("List price").fill("7250")
    page.get_by_label("Billing policy").select_option(label="Prepaid")
    page.get_by_role("button", name="Save draft").click()

    expect(
        page.get_by_text("Draft saved. Preview it, then publish when it is ready.")
    ).to_be_visible()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()

    page.get_by_role("link", name="Preview", exact=True).click()
    expect(page.get_by_test_id("preview-banner")).to_be_visible()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_test_id("outcome")).to_contain_text(OUTCOME)
    expect(page.get_by_test_id("price")).to_have_text(PRICE)
    expect(page.get_by_text("Pipeline hygiene scorecard")).to_be_visible()

    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name=TITLE).click()
    page.once("dialog", lambda dialog: dialog.accept())  # "Publish version 1? ..."
    page.get_by_role("button", name="Publish v1").click()
    expect(page.get_by_text("Published: customers see this version.")).to_be_visible()
    expect(page.get_by_text("Published v1", exact=True)).to_be_visible()


def _offer_in_a_catalog_for_blue_harbor(page: Page) -> None:
    _nav(page, "Catalogs")
    page.get_by_label("Name").fill(CATALOG)
    page.get_by_label("Description").fill("Pipeline servlets for Blue Harbor only.")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text(f"Catalog “{CATALOG}” created.")).to_be_visible()

    page.get_by_label("Servlet", exact=True).select_option(label=TITLE)
    page.get_by_role("button", name="Add to catalog").click()
    expect(page.get_by_text("Servlet added.")).to_be_visible()
    expect(page.get_by_test_id("catalog-items")).to_contain_text(TITLE)

    page.get_by_label("Blue Harbor Logistics").check()
    page.get_by_role("button", name="Save assignments").click()
    expect(page.get_by_text("Assignments saved.")).to_be_visible()
    expect(page.get_by_label("Blue Harbor Logistics")).to_be_checked()
    expect(page.get_by_label("Granite Federal Bank")).not_to_be_checked()

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_text("Published: its customers see it now.")).to_be_visible()


def _invite_buyer_of_granite(page: Page) -> None:
    """A buyer for Granite Federal Bank, a Northwind customer the new catalog is not assigned
    to (the demo gives it no users): invited by the admin, joined through the emailed link."""
    _nav(page, "People")
    invite = page.locator("form").filter(has=page.get_by_role("button", name="Send invitation"))
    invite.get_by_label("Email").fill(UNASSIGNED_BUYER)
    invite.get_by_label("Name").fill("Granite Buyer")
    invite.get_by_label("Organisation").select_option(label="Granite Federal Bank")
    invite.get_by_label("Role").select_option(label="Buyer")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {UNASSIGNED_BUYER}.")).to_be_visible()

    # The development mailbox stands in for the invitee's inbox: it shows an admin its own
    # tenant's mail, and the invitee opens the link in a browser of their own.
    page.goto("/dev/outbox")
    email = page.locator(".card").filter(has_text=f"to {UNASSIGNED_BUYER}").first
    link = email.get_by_role("link", name=re.compile("invitation")).get_attribute("href")
    assert link is not None
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_label("Your name").fill("Granite Buyer")
    page.get_by_label("New password").fill(UNASSIGNED_PASSWORD)
    page.get_by_label("Repeat the password").fill(UNASSIGNED_PASSWORD)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_text("Welcome! Sign in with your new password.")).to_be_visible()


def _search_every_catalog(page: Page, text: str) -> None:
    """Search ``text`` in each catalog the signed-in customer sees; none may list the servlet."""
    _nav(page, "Catalog")
    expect(page.get_by_role("link", name=CATALOG)).to_have_count(0)
    pills = page.locator("ul.nav-pills").get_by_role("link")
    names = pills.all_inner_texts() or [None]
    for name in names:
        if name is not None:
            pills.filter(has_text=name).click()
        page.get_by_label("Search").fill(text)
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_test_id("no-results")).to_be_visible()
        expect(page.get_by_text(TITLE)).to_have_count(0)


def _refused(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text(TITLE)).to_have_count(0)


def test_published_servlet_reaches_only_the_customers_of_its_catalog(page: Page) -> None:
    sign_in(page, "admin@northwind.example")
    _author_and_publish_servlet(page)
    _offer_in_a_catalog_for_blue_harbor(page)
    _invite_buyer_of_granite(page)

    # Blue Harbor's buyer finds it by a word of its title and outcome, and opens it.
    sign_in(page, "buyer@blue.example")
    _nav(page, "Catalog")
    page.locator("ul.nav-pills").get_by_role("link", name=CATALOG).click()
    page.get_by_label("Search").fill(SEARCH)
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("result-count")).to_have_text("1 servlet")
    card = page.get_by_test_id("servlet-card")
    expect(card).to_contain_text(OUTCOME)
    expect(card).to_contain_text(PRICE)
    card.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_test_id("outcome")).to_contain_text(OUTCOME)
    expect(page.get_by_test_id("price")).to_have_text(PRICE)
    expect(page.get_by_test_id("order-button")).to_be_visible()
    servlet_url = page.url
    assert re.search(r"/catalog/servlets/\d+\?catalog=\d+$", servlet_url)

    # A buyer of the same vendor whose customer is not assigned the catalog.
    sign_in(page, UNASSIGNED_BUYER, UNASSIGNED_PASSWORD)
    expect(page.get_by_test_id("current-organization")).to_contain_text("Granite Federal Bank")
    _search_every_catalog(page, SEARCH)
    _refused(page, servlet_url)

    # A buyer of another vendor.
    sign_in(page, "buyer@alpenrose.example")
    expect(page.get_by_test_id("current-organization")).to_contain_text("Alpenrose")
    _search_every_catalog(page, SEARCH)
    _refused(page, servlet_url)
