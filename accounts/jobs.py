"""Scheduled jobs of the accounts area."""

from __future__ import annotations

from accounts.services import end_stale_sessions
from core.scheduler import every

# Hourly is plenty: a stale session is refused at once anyway; this only keeps the table small.
every(3600)(end_stale_sessions)
