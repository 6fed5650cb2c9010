"""A year of health history for the demo: the recompute run "as of" the same day of each of
the last twelve months, then today, so the account page's chart and its explanations show a
year of moves read from the demo's signals, engagements and invoices (``success.health``)."""

from __future__ import annotations

from datetime import date, timedelta

from core.tenancy import tenant_scope
from success import health

MONTHS = 12


def demo(vendor_id: int, today: date) -> None:
    """Score the vendor's customers as of each month of the past year, oldest first, then
    today: each run writes a history row where the score moved."""
    with tenant_scope(vendor_id):
        for months_back in range(MONTHS, 0, -1):
            health.recompute(vendor_id, today - timedelta(days=30 * months_back))
        health.recompute(vendor_id, today)
