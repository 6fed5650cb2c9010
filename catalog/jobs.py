"""Scheduled jobs of the catalog area."""

from __future__ import annotations

from catalog.recommendations import expire_due
from core.scheduler import every

# Expiry dates are days; an hour late is soon enough (opening an overdue one expires it too).
every(3600)(expire_due)
