"""What playbooks put on the home pages: a CSM's open suggestions on their accounts, and
for admins each playbook's conversion (fired → recommended → bought)."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import with_expression

from accounts.models import Organization
from core.extensions import db
from core.home import Figure, Panel, Row, home_panel
from core.permissions import Actor, Role
from success import playbooks
from success.playbook_models import Suggestion, SuggestionState

SHOWN = 5


@home_panel(Role.CSM)
def suggested_servlets(actor: Actor) -> Panel:
    """Open suggestions on the accounts this CSM owns, newest first."""
    mine = (Organization.id == Suggestion.customer_id) & (Organization.csm_id == actor.id)
    waiting = db.session.scalar(
        select(func.count(Suggestion.id))
        .join(Organization, mine)
        .where(Suggestion.state == SuggestionState.OPEN)
    )
    rows = db.session.execute(
        select(Suggestion, Organization.name)
        .join(Organization, mine)
        .where(Suggestion.state == SuggestionState.OPEN)
        .options(with_expression(Suggestion.servlet_title, playbooks.servlet_title(Suggestion)))
        .order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
        .limit(SHOWN)
    ).all()
    return Panel(
        key="suggested-servlets",
        title="Suggested servlets",
        figures=(Figure("Open suggestions", str(waiting), url_for("success.accounts")),),
        rows=tuple(
            Row(
                label=f"{suggestion.servlet_title or 'A servlet'} for {name}",
                detail=suggestion.reason,
                link=url_for("success.account", account_id=suggestion.customer_id),
                action="Review",
            )
            for suggestion, name in rows
        ),
        more=max(waiting - SHOWN, 0),
        empty="No suggestion waits on your accounts: the playbooks found nothing to offer.",
        action=("Playbooks", url_for("success.playbooks")),
    )


@home_panel(Role.ADMIN)
def conversion_by_playbook(actor: Actor) -> Panel:
    """Per playbook: suggestions made, turned into recommendations, bought."""
    listed = playbooks.listed()
    stats = playbooks.stats()
    total = playbooks.Stats(
        sum(s.fired for s in stats.values()),
        sum(s.recommended for s in stats.values()),
        sum(s.bought for s in stats.values()),
    )
    busiest = sorted(listed, key=lambda p: -stats.get(p.id, playbooks.Stats()).fired)[:SHOWN]
    link = url_for("success.playbooks")
    return Panel(
        key="playbook-conversion",
        title="Recommendation conversion by playbook",
        figures=(
            Figure("Suggestions made", str(total.fired), link),
            Figure("Recommended", str(total.recommended), link),
            Figure("Bought", str(total.bought), link),
        ),
        rows=tuple(
            Row(
                label=p.name,
                detail=(
                    f"{s.fired} fired · {s.recommended} recommended · {s.bought} bought"
                    if (s := stats.get(p.id, playbooks.Stats())).fired
                    else "Has not fired yet"
                ),
                link=url_for("success.playbook", playbook_id=p.id),
            )
            for p in busiest
        ),
        more=max(len(listed) - SHOWN, 0),
        empty="No playbooks yet: add the standard ones to have accounts watched for you.",
        action=("Playbooks", link),
    )
