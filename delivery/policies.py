"""Who may do what with engagements: one answer for services, pages and, later, the API."""

from __future__ import annotations

from core.permissions import Actor
from delivery.models import ENGAGEMENT_VIEWERS


def sees_vendor_side(actor: Actor) -> bool:
    """Delivery staff see every engagement of the tenant, with its customer."""
    return actor.role in ENGAGEMENT_VIEWERS
