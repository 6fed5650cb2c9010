"""Demo playbooks and suggestions in every state, through the services an admin and a CSM
would use: the standard playbooks, plus a yearly health-check rule the admin tried and then
switched off (its suggestions closed: RESOLVED); an evaluation over the vendor's data; then
the CSM recommends one "no health check in 6 months" suggestion (RECOMMENDED) and declines
another (DECLINED, inside its cooling-off). The rest stay OPEN: on the seeded accounts the
new admin contact and the usage figures fire their playbooks too.

Called by the demo seed after the accounts, signals and health seeds (not wired here).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from flask import current_app
from sqlalchemy import select

from accounts.models import Membership
from core.errors import ServiceError
from core.extensions import db
from core.tenancy import tenant_scope
from success import playbook_values, playbooks, suggestions
from success.playbook_models import Playbook, PlaybookCondition, Suggestion, SuggestionState

SIX_MONTHS = "No health check in 6 months"
TRIAL = playbook_values.PlaybookValues(
    name="Yearly health check",
    condition=PlaybookCondition.NO_SERVLET_KIND.value,
    servlet_id=None,
    reason_template="{account} has had no health check in a year (last: {last}).",
    servlet_kind="health_check",
    window_days=365,
    cooling_off_days=90,
)
DECLINE_REASON = "Renewal talks come first; ask again after the QBR."


def demo(vendor_id: int, admin_user_id: int, csm_membership_id: int, today: date) -> None:
    with tenant_scope(vendor_id):
        admin = db.session.scalar(
            select(Membership).where(
                Membership.user_id == admin_user_id, Membership.organization_id == vendor_id
            )
        )
        csm = db.session.get(Membership, csm_membership_id)
        if not playbooks.has_playbooks():
            outcome = playbooks.add_standard_playbooks(admin)
            for skipped in outcome.skipped:
                current_app.logger.info("demo playbooks: %s", skipped)
        six_months = db.session.scalar(select(Playbook).where(Playbook.name == SIX_MONTHS))
        trial = None
        if six_months is not None:
            trial = playbooks.create_playbook(
                admin,
                replace(TRIAL, servlet_id=six_months.servlet_id),
            )
        suggestions.evaluate(vendor_id, today=today)
        db.session.commit()
        if trial is not None:
            playbooks.set_enabled(admin, trial, False)
        if six_months is not None:
            _decide(csm, six_months)


def _decide(csm: Membership, playbook: Playbook) -> None:
    """Recommend the first open suggestion of ``playbook`` the customer can be offered,
    decline the next."""
    waiting = list(
        db.session.scalars(
            select(Suggestion)
            .where(Suggestion.playbook_id == playbook.id, Suggestion.state == SuggestionState.OPEN)
            .order_by(Suggestion.customer_id)
        )
    )
    recommended = False
    for suggestion in waiting:
        if not recommended:
            try:
                suggestions.recommend_suggestion(csm, suggestion)
            except ServiceError as error:  # a customer whose catalogs miss the servlet
                db.session.rollback()
                current_app.logger.info("demo suggestion not recommended: %s", error.message)
                continue
            recommended = True
            continue
        suggestions.decline_suggestion(csm, suggestion, DECLINE_REASON)
        return
