"""Pages of a consultant's own work (my time, my calendar feed) and the delivery manager's
time approvals."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from core import params
from core.bounds import OutOfBounds, parse_id
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import Role, current_actor, requires
from delivery import bp, calendar_feed, policies, time_entries
from delivery.forms import DecideTimeForm, TimeForm
from delivery.models import TimeEntryState

nav_item("My time", "delivery.my_time", *policies.WORKERS, group="Deliver", icon="clock")
nav_item(
    "Time to approve",
    "delivery.time_approvals",
    Role.DELIVERY_MANAGER,
    group="Deliver",
    icon="clock-history",
)

PER_PAGE = 50


@bp.get("/time")
@requires(*policies.WORKERS)
def my_time() -> ResponseReturnValue:
    page = paginate(time_entries.mine(current_actor()), PER_PAGE)
    return render_template("delivery/time_mine.html", page=page)


def _own_entry(time_entry_id: int):
    entry = time_entries.entry_of(current_actor(), time_entry_id)
    if entry is None:
        abort(404)
    return entry


@bp.route("/time/<int:time_entry_id>/edit", methods=["GET", "POST"])
@requires(*policies.WORKERS)
def edit_time(time_entry_id: int) -> ResponseReturnValue:
    entry = _own_entry(time_entry_id)
    form = TimeForm(obj=entry)
    if form.validate_on_submit():
        hours = time_entries.Hours(form.day.data, form.hours.data, form.note.data)
        try:
            time_entries.edit_time(current_actor(), entry.id, hours, utcnow().date())
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return render_template("delivery/time_edit.html", entry=entry, form=form), 400
        flash("Time entry saved.", "success")
        return redirect(url_for("delivery.my_time"))
    status = 400 if form.errors else 200
    return render_template("delivery/time_edit.html", entry=entry, form=form), status


@bp.post("/time/<int:time_entry_id>/delete")
@requires(*policies.WORKERS)
def delete_time(time_entry_id: int) -> ResponseReturnValue:
    entry = _own_entry(time_entry_id)
    time_entries.delete_time(current_actor(), entry.id)
    flash("Time entry deleted.", "info")
    return redirect(url_for("delivery.my_time"))


def _approval_filters() -> tuple[TimeEntryState | None, int | None]:
    return params.member("state", TimeEntryState), params.object_id("resource")


@bp.get("/time/approvals")
@requires(Role.DELIVERY_MANAGER)
def time_approvals() -> ResponseReturnValue:
    state, resource_id = _approval_filters()
    page = paginate(time_entries.to_decide(state, resource_id), PER_PAGE)
    return render_template(
        "delivery/time_approvals.html",
        page=page,
        state=state or TimeEntryState.SUBMITTED,
        states=list(TimeEntryState),
        resource_id=resource_id,
        resources=time_entries.resources_with_time(),
        form=DecideTimeForm(formdata=None),
    )


def _ids(values: list[str]) -> list[int]:
    """The entry ids ticked; anything that is not an id is dropped, as a filter would."""
    ids = []
    for value in values[: PER_PAGE * 2]:
        try:
            ids.append(parse_id(value))
        except OutOfBounds:
            continue
    return ids


@bp.post("/time/approvals")
@requires(Role.DELIVERY_MANAGER)
def decide_time() -> ResponseReturnValue:
    form = DecideTimeForm()
    ids = _ids(request.form.getlist("entry"))
    if not form.validate_on_submit():
        flash("Reason: at most 500 characters.", "danger")
        return redirect(url_for("delivery.time_approvals"))
    approve = form.decision.data == "approve"
    try:
        decided = time_entries.decide(current_actor(), ids, approve, form.reason.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("delivery.time_approvals"))
    verb = "approved" if approve else "rejected"
    skipped = len(set(ids)) - decided
    note = f" ({skipped} already decided)" if skipped else ""
    flash(f"{decided} time entr{'y' if decided == 1 else 'ies'} {verb}{note}.", "success")
    return redirect(url_for("delivery.time_approvals"))


@bp.get("/calendar")
@requires(*policies.WORKERS)
def my_calendar() -> ResponseReturnValue:
    resource = calendar_feed.resource_of(current_actor())
    return render_template("delivery/time_calendar.html", resource=resource, feed_url=None)


@bp.post("/calendar/token")
@requires(*policies.WORKERS)
def new_calendar_token() -> ResponseReturnValue:
    token = calendar_feed.issue_token(current_actor())
    feed_url = url_for("delivery.calendar_ics", token=token, _external=True)
    resource = calendar_feed.resource_of(current_actor())
    return render_template("delivery/time_calendar.html", resource=resource, feed_url=feed_url)


@bp.post("/calendar/revoke")
@requires(*policies.WORKERS)
def revoke_calendar_token() -> ResponseReturnValue:
    calendar_feed.revoke_token(current_actor())
    flash("Your calendar feed is off; its old address no longer works.", "info")
    return redirect(url_for("delivery.my_calendar"))


@bp.get("/calendar/<token>.ics")
def calendar_ics(token: str) -> ResponseReturnValue:
    """Fetched by calendar apps, without signing in: the secret token is the key."""
    body = calendar_feed.feed(token)
    if body is None:
        abort(404)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
