"""Success test data and the roles the success pages turn away. Builders run inside
``unscoped()``, like tests.factories."""

from __future__ import annotations

from collections.abc import Iterable

from core.extensions import db
from core.permissions import Role
from success.playbook_models import Playbook, PlaybookCondition, Suggestion, SuggestionState
from success.policies import ACCOUNT_READERS
from tests.factories import Tenant

# Everyone but the vendor's admins and CSMs: they see no account.
NOT_ACCOUNT_READERS = tuple(role for role in Role if role not in ACCOUNT_READERS)
# Those who see no account and are not the customer's own people (who read plans and reports).
VENDOR_OTHERS_AND_PARTNERS = (
    Role.DELIVERY_MANAGER,
    Role.CONSULTANT,
    Role.FINANCE,
    Role.PARTNER_MANAGER,
    Role.PARTNER_CONSULTANT,
)


def suggestions(
    tenant: Tenant, servlet_id: int, made: Iterable[tuple[int, SuggestionState, str]]
) -> int:
    """A signal-drop playbook suggesting ``servlet_id`` and, written straight to the table,
    one suggestion per (customer id, state, reason); commits and returns the playbook's id."""
    playbook = Playbook(
        vendor_id=tenant.vendor_id,
        name="Usage dropping",
        condition=PlaybookCondition.SIGNAL_DROP,
        servlet_id=servlet_id,
        reason_template="{account} uses less.",
    )
    db.session.add(playbook)
    db.session.flush()
    db.session.add_all(
        Suggestion(
            vendor_id=tenant.vendor_id,
            playbook_id=playbook.id,
            customer_id=customer_id,
            servlet_id=servlet_id,
            reason=reason,
            state=state,
        )
        for customer_id, state, reason in made
    )
    db.session.commit()
    return playbook.id
