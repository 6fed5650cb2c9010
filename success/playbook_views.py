"""Playbook pages (admins edit, CSMs read), the account page's suggestions section, and the
one-click "Recommend" and "Decline" of a suggestion. Changes go through
``success.playbooks`` and ``success.suggestions``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from accounts.models import Organization
from core.errors import InvalidTransition, NotAllowed, ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.permissions import Actor, Role, current_actor, get_or_404, requires
from success import bp, playbook_values, playbooks, policies, suggestions
from success.playbook_forms import DeclineForm, PlaybookForm
from success.playbook_models import Playbook, PlaybookCondition, Suggestion
from success.sections import Section, account_section
from success.signal_models import SignalType

READERS = policies.ACCOUNT_READERS
SHOWN_OPEN = 10
SHOWN_DECIDED = 5

nav_item("Playbooks", "success.playbooks", *READERS, group="Success", icon="signpost-split")


# --- the account page's section ------------------------------------------------------------


@account_section(30)
def suggestions_section(customer: Organization, actor: Actor, today: date) -> Section:
    """Open suggestions with their actions, then the latest decided: two queries."""
    return Section(
        "success/_account_suggestions.html",
        {
            "open": suggestions.open_suggestions([customer.id]).get(customer.id, [])[:SHOWN_OPEN],
            "decided": suggestions.decided_suggestions(customer.id, SHOWN_DECIDED),
            "decides": suggestions.decides(actor, customer),
        },
        "main",
    )


# --- the playbooks -------------------------------------------------------------------------


def _signal_types() -> list[tuple[int, str]]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(SignalType.id, SignalType.name).order_by(SignalType.name)
        )
    ]  # type: ignore[misc]


@bp.get("/playbooks", endpoint="playbooks")
@requires(*READERS)
def playbook_list() -> ResponseReturnValue:
    return render_template(
        "success/playbooks.html",
        playbooks=playbooks.listed(),
        stats=playbooks.stats(),
        describe=playbooks.describe,
        editable=playbooks.edits_playbooks(current_actor()),
    )


@bp.post("/playbooks/standard", endpoint="add_standard_playbooks")
@requires(Role.ADMIN)
def add_standard() -> ResponseReturnValue:
    outcome = playbooks.add_standard_playbooks(current_actor())
    flash(f"{len(outcome.made)} standard playbooks added.", "success")
    for skipped in outcome.skipped:
        flash(skipped, "warning")
    return redirect(url_for("success.playbooks"))


def _form_page(
    form: PlaybookForm, playbook: Playbook | None = None, status: int = 200
) -> ResponseReturnValue:
    actor = current_actor()
    form.fill_choices(actor.vendor_id, _signal_types())
    return render_template(
        "success/playbook.html",
        form=form,
        playbook=playbook,
        editable=playbooks.edits_playbooks(actor),
        describe=playbooks.describe,
        placeholders={c.label: playbook_values.PLACEHOLDERS[c] for c in PlaybookCondition},
        stats=playbooks.stats().get(playbook.id, playbooks.Stats()) if playbook else None,
    ), status


@bp.route("/playbooks/new", methods=["GET", "POST"], endpoint="new_playbook")
@requires(Role.ADMIN)
def new_playbook() -> ResponseReturnValue:
    if not playbooks.edits_playbooks(current_actor()):
        raise NotAllowed(playbooks.REFUSED)
    form = PlaybookForm(data={"window_days": 30, "cooling_off_days": 90, "enabled": True})
    form.fill_choices(current_actor().vendor_id, _signal_types())
    if not form.is_submitted():
        return _form_page(form)
    if not form.validate():
        return _form_page(form, status=400)
    try:
        made = playbooks.create_playbook(current_actor(), form.values())
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _form_page(form, status=400)
    flash(f"Playbook “{made.name}” saved; it runs with tonight's evaluation.", "success")
    return redirect(url_for("success.playbooks"))


def _playbook(playbook_id: int) -> Playbook:
    get_or_404(Playbook, playbook_id)
    found = playbooks.one(playbook_id)
    if found is None:
        abort(404)
    return found


@bp.get("/playbooks/<int:playbook_id>", endpoint="playbook")
@requires(*READERS)
def playbook_page(playbook_id: int) -> ResponseReturnValue:
    playbook = _playbook(playbook_id)
    form = PlaybookForm(formdata=None)
    form.show(playbook)
    return _form_page(form, playbook)


@bp.post("/playbooks/<int:playbook_id>", endpoint="update_playbook")
@requires(Role.ADMIN)
def update_playbook(playbook_id: int) -> ResponseReturnValue:
    playbook = _playbook(playbook_id)
    form = PlaybookForm()
    form.fill_choices(current_actor().vendor_id, _signal_types())
    if not form.validate():
        return _form_page(form, playbook, 400)
    try:
        playbooks.update_playbook(current_actor(), playbook, form.values())
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _form_page(form, _playbook(playbook_id), 400)
    flash(f"Playbook “{playbook.name}” saved.", "success")
    return redirect(url_for("success.playbooks"))


@bp.post("/playbooks/<int:playbook_id>/enabled", endpoint="switch_playbook")
@requires(Role.ADMIN)
def switch_playbook(playbook_id: int) -> ResponseReturnValue:
    playbook = _playbook(playbook_id)
    enabled = not playbook.enabled
    resolved = playbooks.set_enabled(current_actor(), playbook, enabled)
    if enabled:
        flash(f"“{playbook.name}” is on; it suggests again from its next run.", "success")
    else:
        flash(f"“{playbook.name}” is off; {resolved} open suggestions of it closed.", "success")
    return redirect(url_for("success.playbooks"))


# --- deciding a suggestion -----------------------------------------------------------------


def _suggestion(suggestion_id: int) -> Suggestion:
    """The suggestion, 404 unless the person sees its account."""
    suggestion = get_or_404(Suggestion, suggestion_id)
    customer = db.session.get(Organization, suggestion.customer_id)
    if not policies.sees_account(current_actor(), customer):
        abort(404)
    return suggestion


def _decided(customer_id: int, decide: Callable[[], object], done: str) -> ResponseReturnValue:
    """Run a CSM's decision on a suggestion and go back to the account: one decided already
    (a second click, a colleague first) is said, not an error."""
    try:
        decide()
    except InvalidTransition as error:
        db.session.rollback()
        flash(f"{error.message} Nothing changed.", "info")
    else:
        flash(done, "success")
    return redirect(url_for("success.account", account_id=customer_id))


@bp.post("/suggestions/<int:suggestion_id>/recommend", endpoint="recommend_suggestion")
@requires(*READERS)
def recommend_suggestion(suggestion_id: int) -> ResponseReturnValue:
    suggestion = _suggestion(suggestion_id)
    return _decided(
        suggestion.customer_id,
        lambda: suggestions.recommend_suggestion(current_actor(), suggestion),
        "Recommended: the customer's buyers are told, with the reason shown.",
    )


@bp.post("/suggestions/<int:suggestion_id>/decline", endpoint="decline_suggestion")
@requires(*READERS)
def decline_suggestion(suggestion_id: int) -> ResponseReturnValue:
    suggestion = _suggestion(suggestion_id)
    customer_id = suggestion.customer_id
    form = DeclineForm()
    if not form.validate():
        flash(" ".join(form.reason.errors) or "The reason could not be read.", "danger")
        return redirect(url_for("success.account", account_id=customer_id))
    return _decided(
        customer_id,
        lambda: suggestions.decline_suggestion(current_actor(), suggestion, form.reason.data or ""),
        "Declined: this playbook stays quiet for the account during its cooling-off.",
    )
