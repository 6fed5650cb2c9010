"""NPS pages: the public answer page a survey email links to (the token is the only key; no
sign-in), the follow-ups list of the CSMs and admins, the reference candidates, and the
account page's section with the latest answers and open follow-ups."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from accounts.models import Organization
from core import params
from core.db import utcnow
from core.errors import Conflict, NotAllowed, ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import Actor, Role, current_actor, get_or_404, requires
from success import bp, follow_ups, policies, surveys
from success.sections import Section, account_section
from success.survey_forms import FollowUpDoneForm, NpsAnswerForm
from success.survey_models import FollowUpKind, FollowUpTask

READERS = policies.ACCOUNT_READERS
PER_PAGE = 25
SECTION_ROWS = 5

nav_item("Follow-ups", "success.follow_ups", *READERS, group="Success", icon="telephone")
nav_item("References", "success.nps_references", *READERS, group="Success", icon="star")


# --- the public answer page --------------------------------------------------------------


def _ballot_or_404(token: str) -> surveys.Ballot:
    found = surveys.ballot(token)
    if found is None:
        abort(404)
    return found


def _answer_page(ballot: surveys.Ballot, form: NpsAnswerForm, status: int = 200):
    return render_template("success/nps_answer.html", ballot=ballot, form=form), status


def _answered_page(ballot: surveys.Ballot, again: bool, status: int = 200):
    return render_template("success/nps_answered.html", ballot=ballot, again=again), status


@bp.get("/nps/<token>", endpoint="nps_answer")
def nps_answer(token: str) -> ResponseReturnValue:
    ballot = _ballot_or_404(token)
    if ballot.answered_at is not None:
        return _answered_page(ballot, again=True)
    return _answer_page(ballot, NpsAnswerForm(formdata=None))


@bp.post("/nps/<token>", endpoint="send_nps_answer")
def send_nps_answer(token: str) -> ResponseReturnValue:
    ballot = _ballot_or_404(token)
    if ballot.answered_at is not None:
        return _answered_page(ballot, again=True)
    form = NpsAnswerForm()
    if not form.validate_on_submit():
        return _answer_page(ballot, form, 400)
    try:
        surveys.answer(token, form.score.data, form.comment.data or "")
    except Conflict:
        return _answered_page(ballot, again=True)
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _answer_page(ballot, form, 400)
    return _answered_page(ballot, again=False)


# --- follow-ups --------------------------------------------------------------------------


def _task_filters(actor: Actor) -> follow_ups.TaskFilters:
    default = follow_ups.MINE if actor.role is Role.CSM else follow_ups.ALL
    return follow_ups.TaskFilters(
        who=params.choice("who", (follow_ups.MINE, follow_ups.ALL, follow_ups.UNASSIGNED), default),
        kind=params.member("kind", FollowUpKind),
        state=params.choice("state", (follow_ups.OPEN, follow_ups.DONE), follow_ups.OPEN),
    )


def _follow_ups_page(
    failed: dict[int, FollowUpDoneForm] | None = None, status: int = 200
) -> ResponseReturnValue:
    actor = current_actor()
    filters = _task_filters(actor)
    page = paginate(follow_ups.tasks(actor, filters), PER_PAGE)
    return render_template(
        "success/follow_ups.html",
        page=page,
        rows=follow_ups.rows_of(page.items),
        filters=filters,
        kinds=list(FollowUpKind),
        today=utcnow().date(),
        failed=failed or {},
        done_form=FollowUpDoneForm(formdata=None),
    ), status


@bp.get("/follow-ups", endpoint="follow_ups")
@requires(*READERS)
def follow_up_list() -> ResponseReturnValue:
    return _follow_ups_page()


@bp.post("/follow-ups/<int:follow_up_task_id>/done", endpoint="complete_follow_up")
@requires(*READERS)
def complete_follow_up(follow_up_task_id: int) -> ResponseReturnValue:
    task = get_or_404(FollowUpTask, follow_up_task_id)
    customer = db.session.get(Organization, task.customer_id)
    if not policies.sees_account(current_actor(), customer):
        abort(404)
    form = FollowUpDoneForm()
    if not form.validate_on_submit():
        return _follow_ups_page({task.id: form}, 400)
    try:
        follow_ups.complete(current_actor(), task, form.outcome.data)
    except Conflict as error:
        flash(error.message, "info")
        return redirect(url_for("success.follow_ups"))
    except ServiceError as error:
        if isinstance(error, NotAllowed):
            raise
        db.session.rollback()
        form.form_errors.append(error.message)
        return _follow_ups_page({task.id: form}, 400)
    flash(f"Follow-up with {customer.name} marked done.", "success")
    return redirect(url_for("success.follow_ups"))


# --- reference candidates ----------------------------------------------------------------


@bp.get("/accounts/references", endpoint="nps_references")
@requires(*READERS)
def nps_references() -> ResponseReturnValue:
    page = paginate(surveys.promoters(utcnow().date()), PER_PAGE)
    return render_template(
        "success/nps_references.html", page=page, rows=surveys.answer_rows(page.items)
    )


# --- the account page's section ----------------------------------------------------------


@account_section(50)
def survey_section(customer: Organization, actor: Actor, today: date) -> Section | None:
    """The latest NPS answers and the open follow-ups: two statements."""
    context: dict[str, Any] = {
        "answers": surveys.latest_answers(customer.id, SECTION_ROWS),
        "tasks": follow_ups.open_of_account(customer.id, SECTION_ROWS),
        "today": today,
        "category": surveys.category,
    }
    return Section("success/_account_surveys.html", context, "side")
