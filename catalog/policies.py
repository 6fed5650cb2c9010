"""Who may do what in the catalog area: one answer for services, pages and, later, the API."""

from __future__ import annotations

from catalog.models import Recommendation
from core.permissions import Actor, Role

# A customer's buyers and approvers order from its catalogs and answer its recommendations;
# a viewer only reads. The vendor's admin and CSMs recommend.
BUYERS = (Role.BUYER, Role.APPROVER)
RECOMMENDERS = (Role.ADMIN, Role.CSM)


def buys(actor: Actor | None) -> bool:
    return actor is not None and actor.role in BUYERS


def recommends(actor: Actor) -> bool:
    return actor.role in RECOMMENDERS


def answers(actor: Actor, recommendation: Recommendation) -> bool:
    """A buyer or approver of the customer the recommendation was made to."""
    return buys(actor) and recommendation.customer_id == actor.organization_id


def lists_own_recommendations_first(actor: Actor) -> bool:
    """A CSM's recommendation list opens on their own; an admin's on everyone's."""
    return actor.role == Role.CSM
