"""Issue 12 in the browser: a CSM opens the early-warning list and sees Blue Harbor Logistics
in distress with the components that moved it; on its account page, turns the "Usage dropping"
suggestion (a health check) into a recommendation in one click. The buyer orders it from the
recommendation on account (under the approval threshold, so no approver); the delivery manager
allocates it to the vendor's own consultant, who starts it and delivers it with its health
score and findings; the buyer accepts it. The health-check result then moves the account's
score, with a change that says so, and the CSM downloads the QBR PDF of the quarter so far,
which names the customer and the health check delivered.

The live server is shared by the whole lane, so the account is found by what the demo seeds
(its open "Usage dropping" suggestion) and the engagement by the order this test places. The
scheduler recomputes the score and renders the PDF by itself: the test reloads until they
are there. Each page worth looking at is saved at desktop and phone width in
``tests/e2e/screenshots/success-*.png`` (git-ignored), after checking that it does not scroll
sideways on a phone.
"""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, date, datetime, timedelta

from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader

from tests.e2e.conftest import sign_in
from tests.e2e.test_shell import DESKTOP, shoot

CUSTOMER = "Blue Harbor Logistics"
PLAYBOOK = "Usage dropping"
SERVLET = "Analytics Health Check"  # the vendor's health check, $5,500: under the threshold
CSM = "csm@northwind.example"
CSM_NAME = "Priya Raman"
BUYER = "buyer@blue.example"
DELIVERY_MANAGER = "delivery.manager@northwind.example"
CONSULTANT = "consultant@northwind.example"
CONSULTANT_NAME = "Sofia Alvarez"
START_DATE = (date.today() + timedelta(days=7)).isoformat()
HEALTH_SCORE = "30"  # far enough under the account's score to move it
FINDINGS = (
    "Two of three regional teams stopped using dashboards after the SSO change; "
    "permissions block report sharing."
)
DELIVERY_NOTE = "Health check done: the findings report and the fix list are in the read-out."
WAIT_SECONDS = 30


def _nav(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()


def _shoot(page: Page, name: str) -> None:
    shoot(page, f"success-{name}")


def _current_crumb(page: Page) -> Locator:
    return page.get_by_role("navigation", name="breadcrumb").locator("[aria-current=page]")


def _reload_until(page: Page, there: Locator, what: str) -> None:
    """Reload until ``there`` is on the page: the scheduler does the work a moment later."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not there.count():
        assert time.monotonic() < deadline, f"no {what} after {WAIT_SECONDS} s"
        page.wait_for_timeout(250)
        page.reload()


def _recommend_from_the_early_warning(page: Page) -> tuple[str, str]:
    """As the CSM: find the account in the early-warning list, open it and turn its "Usage
    dropping" suggestion into a recommendation; the account page's address and its score."""
    sign_in(page, CSM)
    _nav(page, "Early warning")
    expect(page.get_by_role("heading", level=1)).to_have_text("Early warning")
    row = page.get_by_test_id("warning-row").filter(
        has=page.get_by_role("link", name=CUSTOMER, exact=True)
    )
    expect(row).to_have_count(1)
    expect(row).to_contain_text(CSM_NAME)
    expect(row).to_contain_text("Amber")
    expect(row.get_by_test_id("warning-reason").first).to_have_text(
        re.compile(r"^(Score \d+, under \d+|Fell \d+ points in 30 days)$")
    )
    expect(row.get_by_test_id("warning-moving").first).to_contain_text("active users fell")
    expect(row.get_by_test_id("warning-suggestion").filter(has_text=SERVLET)).to_have_count(1)
    _shoot(page, "early-warning")

    row.get_by_role("link", name=CUSTOMER, exact=True).click()
    expect(_current_crumb(page)).to_have_text(CUSTOMER)
    health = page.get_by_test_id("account-health")
    score = health.get_by_test_id("health-score").inner_text().strip()
    assert re.fullmatch(r"\d+", score), score
    expect(health.get_by_test_id("health-band")).to_have_text("Amber")
    usage = health.locator("[data-testid=health-component][data-key=usage_trend]")
    expect(usage).to_contain_text("active users")
    expect(usage).to_contain_text("down")
    expect(health.locator("[data-key=health_check]")).to_have_count(0)  # none delivered yet
    suggestion = page.get_by_test_id("suggestion").filter(has_text=PLAYBOOK)
    expect(suggestion).to_have_count(1)
    expect(suggestion).to_contain_text(SERVLET)
    expect(suggestion.get_by_test_id("suggestion-reason")).to_contain_text(
        f"Active users at {CUSTOMER} fell"
    )
    _shoot(page, "account-before")

    suggestion.get_by_role("button", name="Recommend").click()
    expect(
        page.get_by_text("Recommended: the customer's buyers are told, with the reason shown.")
    ).to_be_visible()
    expect(page.get_by_test_id("suggestion").filter(has_text=PLAYBOOK)).to_have_count(0)
    decided = page.locator("[data-testid=decided-suggestion][data-state=recommended]")
    expect(decided.filter(has_text=PLAYBOOK)).to_contain_text(f"{SERVLET} · {PLAYBOOK}")
    expect(decided.filter(has_text=PLAYBOOK)).to_contain_text(f"by {CSM_NAME}")
    return page.url, score


def _empty_the_cart(page: Page) -> None:
    """Whatever the buyer left in the cart would join the order: remove it."""
    _nav(page, "Cart")
    remove = page.get_by_test_id("cart").get_by_role("button", name="Remove")
    for left in range(remove.count(), 0, -1):
        remove.first.click()
        if left > 1:
            expect(remove).to_have_count(left - 1)
    expect(page.get_by_test_id("empty-state")).to_contain_text("Your cart is empty.")


def _order_the_recommendation(page: Page) -> str:
    """As the buyer: open the recommendation from the home page and order it now, on
    account; the engagement's reference."""
    sign_in(page, BUYER)
    _empty_the_cart(page)
    _nav(page, "Home")
    recommended = page.get_by_test_id("recommended-for-you")
    expect(recommended).to_contain_text(f"Active users at {CUSTOMER} fell")
    _shoot(page, "buyer-home")
    recommended.get_by_role("link", name=SERVLET, exact=True).click()
    recommendation = page.get_by_test_id("recommendation")
    expect(recommendation).to_contain_text(f"Recommended for you by {CSM_NAME}")
    expect(recommendation).to_contain_text(f"Active users at {CUSTOMER} fell")
    _shoot(page, "recommendation")
    recommendation.get_by_test_id("order-now").click()

    form = page.get_by_test_id("checkout-form")
    expect(form).to_contain_text(SERVLET)
    form.get_by_label("Preferred start date").fill(START_DATE)
    form.get_by_label("Payment").select_option(label="Invoice on account")
    form.get_by_label("I accept the terms of service").check()
    form.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("order-state")).to_have_text("Confirmed")
    order = _current_crumb(page).inner_text().strip()

    page.get_by_test_id("order-status").get_by_role("link", name="your engagements").click()
    row = page.get_by_test_id("engagements").get_by_role("row").filter(has_text=order)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(SERVLET)
    expect(row).to_contain_text("Requested")
    return row.get_by_role("link", name=re.compile(r"^E-\d+$")).inner_text().strip()


def _open_engagement(page: Page, reference: str, state: str) -> None:
    _nav(page, "Engagements")
    page.get_by_label("State").select_option(label=state)
    page.get_by_role("button", name="Filter").click()
    page.get_by_test_id("engagements").get_by_role("link", name=reference, exact=True).click()
    expect(_current_crumb(page)).to_have_text(reference)
    expect(page.get_by_test_id("state")).to_have_text(state)


def _allocate_to_our_consultant(page: Page, reference: str) -> None:
    sign_in(page, DELIVERY_MANAGER)
    _open_engagement(page, reference, "Requested")
    page.get_by_test_id("allocate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Allocate {reference}")
    form = page.get_by_test_id("allocate-form")
    target = form.get_by_label("Delivered by")
    sofia = target.locator("option", has_text=CONSULTANT_NAME).get_attribute("value")
    assert sofia is not None
    target.select_option(sofia)
    form.get_by_role("button", name="Allocate").click()
    expect(page.get_by_text(f"Engagement {reference} allocated.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Scheduled")
    expect(page.get_by_test_id("assignment")).to_contain_text(CONSULTANT_NAME)


def _deliver_the_health_check(page: Page, reference: str) -> None:
    """As the consultant: start it, tick its tasks, and deliver it with its health score and
    findings."""
    sign_in(page, CONSULTANT)
    _open_engagement(page, reference, "Scheduled")
    page.get_by_role("button", name="Start work").click()
    expect(page.get_by_text(f"{reference} started.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("In progress")

    mark_done = page.get_by_test_id("tasks").get_by_role("button", name="Mark done")
    total = mark_done.count()
    assert total > 0, "the servlet's deliverables make tasks"
    for left in range(total, 0, -1):
        mark_done.first.click()
        expect(mark_done).to_have_count(left - 1)
    expect(page.get_by_test_id("progress")).to_contain_text(f"{total} of {total} tasks")

    deliver = page.locator("#deliver")
    deliver.get_by_label("Delivery note").fill(DELIVERY_NOTE)
    deliver.get_by_label("Health score (0-100)").fill(HEALTH_SCORE)
    deliver.get_by_label("Findings").fill(FINDINGS)
    _shoot(page, "engagement-consultant")
    deliver.get_by_role("button", name="Mark delivered").click()
    expect(page.get_by_text(f"{reference} delivered; the customer is asked")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Delivered")
    note = page.get_by_test_id("delivery-note")
    expect(note).to_contain_text(DELIVERY_NOTE)
    expect(note.get_by_test_id("health-score")).to_have_text(HEALTH_SCORE)
    expect(note).to_contain_text(FINDINGS)


def _accept(page: Page, reference: str) -> None:
    sign_in(page, BUYER)
    _open_engagement(page, reference, "Delivered")
    expect(page.get_by_test_id("delivery-note").get_by_test_id("health-score")).to_have_text(
        HEALTH_SCORE
    )
    page.get_by_test_id("accept-form").get_by_role("button", name="Accept delivery").click()
    expect(page.get_by_text(f"Engagement {reference} accepted.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Accepted")
    _shoot(page, "engagement-buyer-accepted")


def _see_the_score_move(page: Page, account: str, before: str) -> None:
    """As the CSM: the health-check result counts in the score, and the change says so."""
    sign_in(page, CSM)
    page.goto(account)
    health = page.get_by_test_id("account-health")
    result = health.locator("[data-testid=health-component][data-key=health_check]")
    _reload_until(page, result, "health-check component")
    expect(result).to_contain_text(f"latest health check scored {HEALTH_SCORE} of 100")
    expect(health.get_by_test_id("health-score")).not_to_have_text(before)
    expect(health.get_by_test_id("health-changes")).to_contain_text(
        f"health-check result now counts: latest health check scored {HEALTH_SCORE} of 100"
    )
    _shoot(page, "account-after")


def _quarter_so_far() -> tuple[date, date]:
    today = datetime.now(UTC).date()  # the server's day
    return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today


def _download_the_qbr(page: Page, reference: str) -> None:
    """Prepare the value report of the quarter so far from the account page; the PDF names
    the customer and the health check just delivered."""
    start, end = _quarter_so_far()
    reports = page.get_by_test_id("account-reports")
    form = reports.get_by_test_id("prepare-report-form")
    form.get_by_label("From").fill(start.isoformat())
    form.get_by_label("To").fill(end.isoformat())
    form.get_by_role("button", name="Prepare PDF").click()
    expect(page.get_by_text(f"The PDF of {CUSTOMER}'s value report ")).to_be_visible()
    expect(page.get_by_test_id("value-report-header")).to_contain_text(CUSTOMER)
    delivered = page.get_by_test_id("delivered-servlet").filter(has_text=reference)
    expect(delivered).to_contain_text(SERVLET)
    expect(delivered).to_contain_text(f"{HEALTH_SCORE} / 100")
    _shoot(page, "value-report")

    # Newest period first: the quarter so far heads the list.
    href = page.get_by_test_id("report-pdfs").get_by_role("link").first.get_attribute("href")
    assert href is not None
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        response = page.request.get(href)  # the browser's cookies: the CSM's own download
        if response.status == 200:
            break
        assert response.status == 202, response.status  # "The PDF is being prepared."
        assert time.monotonic() < deadline, f"no PDF after {WAIT_SECONDS} s"
        page.wait_for_timeout(250)
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    flat = " ".join(text.split())
    assert CUSTOMER in flat, flat[:500]
    assert SERVLET in flat, flat
    assert reference in flat, flat
    assert f"{HEALTH_SCORE} / 100" in flat, flat


def test_a_csm_turns_an_early_warning_into_a_health_check_that_moves_the_score(
    page: Page,
) -> None:
    page.set_viewport_size(DESKTOP)
    account, before = _recommend_from_the_early_warning(page)
    reference = _order_the_recommendation(page)
    _allocate_to_our_consultant(page, reference)
    _deliver_the_health_check(page, reference)
    _accept(page, reference)
    _see_the_score_move(page, account, before)
    _download_the_qbr(page, reference)
