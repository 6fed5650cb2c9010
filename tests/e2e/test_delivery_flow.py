"""Issue 10 in the browser: the delivery manager allocates the engagement waiting for
allocation to a partner; the partner's manager names their consultant; the consultant starts
it, logs time, ticks its tasks, uploads a deliverable and delivers it; the buyer accepts and
rates it; the delivery manager approves the time, and the dashboard shows the delivery on time
with its CSAT.

The live server is shared by the whole lane, so the engagement is found by what the demo
seeds (the only Data Migration Sprint waiting for allocation: order PO-1003 of Blue Harbor
Logistics, late to start) and followed by the reference read on its first page. Each page
worth looking at is saved at desktop and phone width in ``tests/e2e/screenshots/``
(git-ignored), after checking that it does not scroll sideways on a phone.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_shell import DESKTOP, shoot

SERVLET = "Data Migration Sprint"
CUSTOMER = "Blue Harbor Logistics"
PARTNER = "Bridgepoint Consulting"
CONSULTANT = "Ravi Patel"
DELIVERY_MANAGER = "delivery.manager@northwind.example"
PARTNER_MANAGER = "partner.manager@bridgepoint.example"
PARTNER_CONSULTANT = "partner.consultant@bridgepoint.example"
BUYER = "buyer@blue.example"
DELIVERY_NOTE = "Migrated the three ticket queues; the mapping sheet is in the report."
TIME_NOTE = "Mapping workshop with the admins"
CSAT_COMMENT = "Clean migration, nothing lost."
# The smallest document a PDF reader opens: one empty page.
REPORT_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _nav(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()


def _shoot(page: Page, name: str) -> None:
    shoot(page, f"delivery-{name}")


def _current_crumb(page: Page) -> Locator:
    return page.get_by_role("navigation", name="breadcrumb").locator("[aria-current=page]")


def _open_from_home(page: Page, panel: str, reference: str) -> None:
    """Open the engagement from a row of the signed-in person's home panel."""
    row = page.get_by_test_id(f"panel-{panel}").get_by_role("listitem").filter(has_text=reference)
    row.get_by_role("link").click()
    expect(_current_crumb(page)).to_have_text(reference)


def _allocate_to_the_partner(page: Page) -> str:
    """As the delivery manager: find the engagement waiting for allocation, allocate it to the
    partner; its reference."""
    sign_in(page, DELIVERY_MANAGER)
    _nav(page, "Engagements")
    page.get_by_label("State").select_option(label="Requested")
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_test_id("engagements").get_by_role("row").filter(has_text=SERVLET)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(CUSTOMER)
    link = row.get_by_role("link", name=re.compile(r"^E-\d+$"))
    reference = link.inner_text().strip()
    link.click()

    expect(_current_crumb(page)).to_have_text(reference)
    expect(page.get_by_test_id("state")).to_have_text("Requested")
    expect(page.get_by_test_id("due-warning").first).to_contain_text("start")
    expect(page.get_by_test_id("assignments")).to_contain_text("Nobody is allocated yet")
    _shoot(page, "engagement-manager-requested")

    page.get_by_test_id("allocate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Allocate {reference}")
    _shoot(page, "allocate")
    form = page.get_by_test_id("allocate-form")
    form.get_by_label("Delivered by").select_option(
        label=f"{PARTNER} (partner: its manager names a consultant)"
    )
    form.get_by_role("button", name="Allocate").click()
    expect(page.get_by_text(f"Engagement {reference} allocated.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Scheduled")
    assignment = page.get_by_test_id("assignment")
    expect(assignment).to_contain_text(PARTNER)
    expect(assignment).to_contain_text("Consultant to be named")
    return reference


def _name_the_consultant(page: Page, reference: str) -> None:
    sign_in(page, PARTNER_MANAGER)
    _shoot(page, "home-partner-manager")
    _open_from_home(page, "partner-engagements", reference)
    page.get_by_test_id("name-consultant").click()
    choice = page.get_by_label("Consultant")
    ravi = choice.locator("option", has_text=CONSULTANT).get_attribute("value")
    assert ravi is not None
    choice.select_option(ravi)
    page.get_by_role("button", name="Name consultant").click()
    expect(page.get_by_text("Consultant named.")).to_be_visible()
    expect(page.get_by_test_id("assignment")).to_contain_text(f"{CONSULTANT} ({PARTNER})")
    expect(page.get_by_test_id("name-consultant")).to_have_count(0)


def _deliver(page: Page, reference: str, report: Path) -> None:
    """As the partner consultant: start, log time, tick every task, upload, deliver."""
    sign_in(page, PARTNER_CONSULTANT)
    _shoot(page, "home-partner-consultant")
    _open_from_home(page, "assignments", reference)
    page.get_by_role("button", name="Start work").click()
    expect(page.get_by_text(f"{reference} started.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("In progress")

    time = page.get_by_test_id("time")
    time.get_by_label("Hours").fill("6.5")
    time.get_by_label("Note").fill(TIME_NOTE)
    time.get_by_role("button", name="Log time").click()
    expect(page.get_by_text("6.5 hours logged on ")).to_be_visible()
    expect(time).to_contain_text("6.5 of ")
    expect(time.get_by_test_id("my-entries").get_by_role("row")).to_contain_text(["Submitted"])

    tasks = page.get_by_test_id("tasks")
    mark_done = tasks.get_by_role("button", name="Mark done")
    total = mark_done.count()
    assert total > 0, "the servlet's deliverables make tasks"
    for left in range(total, 0, -1):
        mark_done.first.click()
        expect(mark_done).to_have_count(left - 1)
    expect(page.get_by_test_id("progress")).to_contain_text(f"{total} of {total} tasks")

    files = page.locator("#files")
    files.get_by_label("Deliverable").set_input_files(report)
    files.get_by_role("button", name="Upload deliverable").click()
    expect(page.get_by_text(f"{report.name} uploaded.")).to_be_visible()
    expect(page.get_by_test_id("files").get_by_role("link", name=report.name)).to_be_visible()

    deliver = page.locator("#deliver")
    deliver.get_by_label("Delivery note").fill(DELIVERY_NOTE)
    deliver.get_by_role("button", name="Mark delivered").click()
    expect(page.get_by_text(f"{reference} delivered; the customer is asked")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Delivered")
    expect(page.get_by_test_id("delivery-note")).to_contain_text(DELIVERY_NOTE)
    expect(page.get_by_role("button", name="Mark delivered")).to_have_count(0)
    _shoot(page, "engagement-partner-consultant")


def _accept_and_rate(page: Page, reference: str, report: Path) -> None:
    sign_in(page, BUYER)
    _nav(page, "Engagements")
    page.get_by_test_id("engagements").get_by_role("link", name=reference, exact=True).click()
    expect(page.get_by_test_id("state")).to_have_text("Delivered")
    expect(page.get_by_test_id("delivery-note")).to_contain_text(DELIVERY_NOTE)
    expect(page.get_by_test_id("files").get_by_role("link", name=report.name)).to_be_visible()
    expect(page.get_by_test_id("assignment")).to_contain_text(CONSULTANT)
    expect(page.get_by_test_id("assignment")).not_to_contain_text("planned hours")

    page.get_by_test_id("accept-form").get_by_role("button", name="Accept delivery").click()
    expect(page.get_by_text(f"Engagement {reference} accepted.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Accepted")
    rating = page.get_by_test_id("rating-form")
    rating.get_by_label("5 · very satisfied").check()
    rating.get_by_label("Comment (optional)").fill(CSAT_COMMENT)
    rating.get_by_label("How likely are you to recommend us").select_option("9")
    rating.get_by_role("button", name="Send rating").click()
    expect(page.get_by_text("Thank you for your rating.")).to_be_visible()
    answers = page.get_by_test_id("rating")
    expect(answers).to_contain_text("5 of 5 satisfaction · would recommend: 9 of 10")
    expect(answers).to_contain_text(CSAT_COMMENT)
    _shoot(page, "engagement-buyer")


def _approve_time_and_read_the_dashboard(page: Page, reference: str) -> None:
    sign_in(page, DELIVERY_MANAGER)
    _nav(page, "Time to approve")
    row = page.get_by_test_id("time-approvals").get_by_role("row").filter(has_text=reference)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(TIME_NOTE)
    _shoot(page, "time-approvals")
    row.get_by_role("checkbox").check()
    page.get_by_label("Decision").select_option(label="Approve")
    page.get_by_role("button", name="Decide selected").click()
    expect(page.get_by_text("1 time entry approved")).to_be_visible()

    expect(row).to_have_count(0)  # no longer waiting
    _nav(page, "Engagements")
    page.get_by_test_id("engagements").get_by_role("link", name=reference, exact=True).click()
    expect(page.get_by_test_id("state")).to_have_text("Accepted")
    expect(page.get_by_test_id("time")).to_contain_text("(6.5 approved)")
    expect(page.get_by_test_id("rating")).to_contain_text("5 of 5")
    _shoot(page, "engagement-manager-accepted")

    _nav(page, "Delivery dashboard")
    expect(page.get_by_label("Period")).to_have_value("quarter")
    expect(page.get_by_label("Group by")).to_have_value("servlet")
    row = (
        page.get_by_test_id("dashboard-table")
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name=SERVLET, exact=True))
    )
    expect(row).to_have_count(1)
    cells = row.get_by_role("cell")
    # Delivered, on time, median cycle time, mean CSAT, revenue, margin.
    expect(cells.nth(0)).to_have_text("1")
    expect(cells.nth(1)).to_have_text("100%")
    expect(cells.nth(3)).to_have_text("5.00")
    _shoot(page, "dashboard")


def test_a_partner_delivers_and_the_dashboard_shows_it_on_time_with_its_csat(
    page: Page, tmp_path: Path
) -> None:
    page.set_viewport_size(DESKTOP)
    report = tmp_path / "migration-report.pdf"
    report.write_bytes(REPORT_PDF)

    reference = _allocate_to_the_partner(page)
    _name_the_consultant(page, reference)
    _deliver(page, reference, report)
    _accept_and_rate(page, reference, report)
    _approve_time_and_read_the_dashboard(page, reference)
