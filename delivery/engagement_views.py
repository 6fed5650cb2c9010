"""The engagement page and what is done on it: moves, tasks, updates, deliverables, time.

Each action parses its form, calls one service and redirects to the page; a refusal renders
the page again with the message and what was typed (status of the refusal).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.form_fields import IdField
from core.permissions import CUSTOMER_ROLES, current_actor, get_or_404, requires
from core.templating import date_filter
from delivery import bp, files, moves, policies, tasks, time_entries, updates, workspace
from delivery.forms import (
    CancelForm,
    DeliverForm,
    ReasonForm,
    TaskForm,
    TimeForm,
    UpdateForm,
    UploadForm,
)
from delivery.models import (
    ASSIGNEES,
    ENGAGEMENT_VIEWERS,
    DeliverableFile,
    Engagement,
    UpdateVisibility,
)

READERS = (*ENGAGEMENT_VIEWERS, *CUSTOMER_ROLES, *ASSIGNEES)
WORKERS = policies.DELIVERERS
STOPPERS = policies.STOPPERS


def _load(engagement_id: int) -> Engagement:
    return get_or_404(Engagement, engagement_id, *workspace.page_options())


def _page(engagement: Engagement, status: int = 200, **forms: Any) -> ResponseReturnValue:
    actor = current_actor()
    defaults = {
        "deliver_form": DeliverForm(formdata=None),
        "hold_form": ReasonForm(formdata=None, prefix="hold"),
        "cancel_form": CancelForm(formdata=None, prefix="cancel"),
        "update_form": UpdateForm(formdata=None),
        "upload_form": UploadForm(formdata=None),
        "time_form": TimeForm(formdata=None, day=utcnow().date()),
    }
    return render_template(
        "delivery/engagement.html",
        engagement=engagement,
        actor=actor,
        policies=policies,
        view=workspace.workspace(actor, engagement, utcnow().date()),
        vendor_view=policies.sees_vendor_side(actor),
        **(defaults | forms),
    ), status


def _back(engagement: Engagement, anchor: str = "") -> ResponseReturnValue:
    url = url_for("delivery.engagement", engagement_id=engagement.id)
    return redirect(f"{url}#{anchor}" if anchor else url)


def _refused(engagement_id: int, error: ServiceError, **forms: Any) -> ResponseReturnValue:
    """The page again with the refusal and the form as typed."""
    db.session.rollback()
    flash(error.message, "danger")
    return _page(_load(engagement_id), error.status_code, **forms)


def _invalid(engagement_id: int, **forms: Any) -> ResponseReturnValue:
    flash("Check the form: see the message beside the field.", "danger")
    return _page(_load(engagement_id), 400, **forms)


@bp.get("/engagements/<int:engagement_id>")
@requires(*READERS)
def engagement(engagement_id: int) -> ResponseReturnValue:
    return _page(_load(engagement_id))


@bp.post("/engagements/<int:engagement_id>/start")
@requires(*WORKERS)
def start(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    try:
        moves.start(current_actor(), engagement)
    except ServiceError as error:
        return _refused(engagement_id, error)
    flash(f"{engagement.reference} started.", "success")
    return _back(engagement)


@bp.post("/engagements/<int:engagement_id>/deliver")
@requires(*WORKERS)
def deliver(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    form = DeliverForm()
    if not form.validate_on_submit():
        return _invalid(engagement_id, deliver_form=form)
    delivery = moves.Delivery(
        note=form.delivery_note.data,
        health_score=form.health_score.data,
        findings=form.findings.data,
    )
    try:
        moves.deliver(current_actor(), engagement, delivery)
    except ServiceError as error:
        return _refused(engagement_id, error, deliver_form=form)
    flash(f"{engagement.reference} delivered; the customer is asked to accept it.", "success")
    return _back(engagement)


@bp.post("/engagements/<int:engagement_id>/hold")
@requires(*STOPPERS)
def hold(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    form = ReasonForm(prefix="hold")
    if not form.validate_on_submit():
        return _invalid(engagement_id, hold_form=form)
    try:
        moves.hold(current_actor(), engagement, form.reason.data)
    except ServiceError as error:
        return _refused(engagement_id, error, hold_form=form)
    flash(f"{engagement.reference} is on hold.", "info")
    return _back(engagement)


@bp.post("/engagements/<int:engagement_id>/resume")
@requires(*STOPPERS)
def resume(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    try:
        moves.resume(current_actor(), engagement)
    except ServiceError as error:
        return _refused(engagement_id, error)
    flash(f"{engagement.reference} resumed: {engagement.state.label.lower()}.", "success")
    return _back(engagement)


@bp.post("/engagements/<int:engagement_id>/cancel")
@requires(*STOPPERS)
def cancel(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    form = CancelForm(prefix="cancel")
    if not form.validate_on_submit():
        return _invalid(engagement_id, cancel_form=form)
    try:
        moves.cancel(current_actor(), engagement, form.reason.data)
    except ServiceError as error:
        return _refused(engagement_id, error, cancel_form=form)
    flash(f"{engagement.reference} cancelled.", "info")
    return _back(engagement)


class _TaskForm(TaskForm):
    task = IdField()


@bp.post("/engagements/<int:engagement_id>/tasks")
@requires(*WORKERS)
def tick_task(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    form = _TaskForm()
    if not form.validate_on_submit() or form.task.data is None:
        return _invalid(engagement_id)
    try:
        tasks.tick(current_actor(), engagement, form.task.data, form.done.data == "1")
    except ServiceError as error:
        return _refused(engagement_id, error)
    return _back(engagement, "tasks")


@bp.post("/engagements/<int:engagement_id>/updates")
@requires(*WORKERS)
def post_update(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    form = UpdateForm()
    if not form.validate_on_submit():
        return _invalid(engagement_id, update_form=form)
    try:
        updates.post_update(
            current_actor(), engagement, form.body.data, UpdateVisibility(form.visibility.data)
        )
    except ServiceError as error:
        return _refused(engagement_id, error, update_form=form)
    flash("Update posted.", "success")
    return _back(engagement, "timeline")


@bp.post("/engagements/<int:engagement_id>/files")
@requires(*WORKERS)
def upload_file(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    form = UploadForm()
    if not form.validate_on_submit():
        return _invalid(engagement_id, upload_form=form)
    try:
        made = files.upload(current_actor(), engagement, form.file.data)
    except ServiceError as error:
        return _refused(engagement_id, error)
    flash(f"{made.filename} uploaded.", "success")
    return _back(engagement, "files")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """A body over the app's request limit never reaches the view: say what happened, on
    the page the upload came from."""
    engagement_id = (request.view_args or {}).get("engagement_id")
    if request.endpoint == "delivery.upload_file" and engagement_id is not None:
        flash(files.too_large_message(), "danger")
        return redirect(url_for("delivery.engagement", engagement_id=engagement_id) + "#files")
    return render_template("errors/error.html", code=413, message=None), 413


@bp.get("/deliverables/<int:deliverable_file_id>")
@requires(*READERS)
def download_file(deliverable_file_id: int) -> ResponseReturnValue:
    """Served only within the engagement's reach, as an attachment, never sniffed."""
    deliverable = get_or_404(DeliverableFile, deliverable_file_id)
    get_or_404(Engagement, deliverable.engagement_id)
    response = send_file(
        files.path_of(deliverable),
        mimetype=deliverable.content_type,
        as_attachment=True,
        download_name=deliverable.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/engagements/<int:engagement_id>/time")
@requires(*policies.WORKERS)
def log_time(engagement_id: int) -> ResponseReturnValue:
    engagement = _load(engagement_id)
    form = TimeForm()
    if not form.validate_on_submit():
        return _invalid(engagement_id, time_form=form)
    hours = time_entries.Hours(form.day.data, form.hours.data, form.note.data)
    try:
        time_entries.log_time(current_actor(), engagement, hours, utcnow().date())
    except ServiceError as error:
        return _refused(engagement_id, error, time_form=form)
    flash(
        f"{form.hours.data.normalize():f} hours logged on {date_filter(form.day.data)}.", "success"
    )
    return _back(engagement, "time")
