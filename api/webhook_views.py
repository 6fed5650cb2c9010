"""The vendor admin's webhook pages under ``/settings/webhooks``: endpoints, their secret,
their delivery log with replay, and a test event."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import selectinload

from api import bp, webhooks
from api.webhook_forms import ActionForm, EndpointForm
from api.webhook_models import WebhookEndpoint, WebhookMessage
from core.db import utcnow
from core.errors import ServiceError
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import Role, current_actor, get_or_404, requires

nav_item("Webhooks", "api.webhooks", Role.ADMIN, group="Admin", icon="broadcast")

PER_PAGE = 25


@bp.get("/settings/webhooks", endpoint="webhooks")
@requires(Role.ADMIN)
def webhooks_page() -> ResponseReturnValue:
    endpoints = webhooks.endpoints_of(current_actor().vendor_id)
    return render_template(
        "api/webhooks.html",
        endpoints=endpoints,
        pending=webhooks.pending_counts(endpoint.id for endpoint in endpoints),
    )


def _values(form: EndpointForm) -> webhooks.EndpointValues:
    return webhooks.EndpointValues(
        url=form.url.data or "",
        description=form.description.data or "",
        event_types=form.event_types.data or [],
    )


def _refused(form: EndpointForm, error: ServiceError) -> None:
    field = getattr(form, getattr(error, "field", ""), None)
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


@bp.route("/settings/webhooks/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def new_webhook_endpoint() -> ResponseReturnValue:
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint = webhooks.create_endpoint(current_actor(), _values(form))
        except ServiceError as error:
            _refused(form, error)
        else:
            flash("Endpoint added. Verify its requests with the signing secret below.", "success")
            return redirect(url_for("api.webhook_endpoint", webhook_endpoint_id=endpoint.id))
    return render_template("api/webhook_form.html", form=form, endpoint=None)


@bp.get("/settings/webhooks/<int:webhook_endpoint_id>")
@requires(Role.ADMIN)
def webhook_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = get_or_404(WebhookEndpoint, webhook_endpoint_id)
    page = paginate(
        webhooks.delivery_log(endpoint.id).options(selectinload(WebhookMessage.attempts_made)),
        PER_PAGE,
    )
    return render_template(
        "api/webhook_endpoint.html",
        endpoint=endpoint,
        page=page,
        pending=webhooks.pending_counts([endpoint.id]).get(endpoint.id, 0),
        now=utcnow(),
    )


@bp.route("/settings/webhooks/<int:webhook_endpoint_id>/edit", methods=["GET", "POST"])
@requires(Role.ADMIN)
def edit_webhook_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = get_or_404(WebhookEndpoint, webhook_endpoint_id)
    form = EndpointForm(obj=endpoint)
    if form.validate_on_submit():
        try:
            webhooks.update_endpoint(current_actor(), endpoint, _values(form))
        except ServiceError as error:
            _refused(form, error)
        else:
            flash("Endpoint saved.", "success")
            return redirect(url_for("api.webhook_endpoint", webhook_endpoint_id=endpoint.id))
    return render_template("api/webhook_form.html", form=form, endpoint=endpoint)


def _act(webhook_endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint of a button's post, or ``None`` when the form did not validate."""
    endpoint = get_or_404(WebhookEndpoint, webhook_endpoint_id)
    return endpoint if ActionForm().validate_on_submit() else None


def _back(webhook_endpoint_id: int) -> ResponseReturnValue:
    return redirect(url_for("api.webhook_endpoint", webhook_endpoint_id=webhook_endpoint_id))


@bp.post("/settings/webhooks/<int:webhook_endpoint_id>/enable")
@requires(Role.ADMIN)
def enable_webhook_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = _act(webhook_endpoint_id)
    if endpoint is not None and webhooks.set_enabled(current_actor(), endpoint, True):
        flash("Endpoint enabled: waiting messages go out now.", "success")
    return _back(webhook_endpoint_id)


@bp.post("/settings/webhooks/<int:webhook_endpoint_id>/disable")
@requires(Role.ADMIN)
def disable_webhook_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = _act(webhook_endpoint_id)
    if endpoint is not None and webhooks.set_enabled(current_actor(), endpoint, False):
        flash("Endpoint disabled: no events are written for it until you enable it.", "success")
    return _back(webhook_endpoint_id)


@bp.post("/settings/webhooks/<int:webhook_endpoint_id>/rotate")
@requires(Role.ADMIN)
def rotate_webhook_secret(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = _act(webhook_endpoint_id)
    if endpoint is not None:
        webhooks.rotate_secret(current_actor(), endpoint)
        flash("New secret made; the old one signs beside it for 24 hours.", "success")
    return _back(webhook_endpoint_id)


@bp.post("/settings/webhooks/<int:webhook_endpoint_id>/test")
@requires(Role.ADMIN)
def test_webhook_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = _act(webhook_endpoint_id)
    if endpoint is not None:
        if webhooks.send_test(current_actor(), endpoint):
            flash("Test event queued; it appears in the log within seconds.", "success")
        else:
            flash("A test event is already on its way.", "info")
    return _back(webhook_endpoint_id)


@bp.post("/settings/webhooks/<int:webhook_endpoint_id>/messages/<int:webhook_message_id>/replay")
@requires(Role.ADMIN)
def replay_webhook_message(
    webhook_endpoint_id: int, webhook_message_id: int
) -> ResponseReturnValue:
    endpoint = get_or_404(WebhookEndpoint, webhook_endpoint_id)
    message = get_or_404(WebhookMessage, webhook_message_id)
    if message.endpoint_id != endpoint.id:
        return _back(webhook_endpoint_id)
    if ActionForm().validate_on_submit():
        if webhooks.replay(current_actor(), message):
            flash(f"{message.msg_id} queued again.", "success")
        else:
            flash(f"{message.msg_id} is already on its way.", "info")
    return _back(webhook_endpoint_id)


@bp.get("/settings/webhooks/<int:webhook_endpoint_id>/delete")
@requires(Role.ADMIN)
def delete_webhook_endpoint(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = get_or_404(WebhookEndpoint, webhook_endpoint_id)
    return render_template(
        "api/webhook_delete.html",
        endpoint=endpoint,
        pending=webhooks.pending_counts([endpoint.id]).get(endpoint.id, 0),
        form=ActionForm(formdata=None),
    )


@bp.post("/settings/webhooks/<int:webhook_endpoint_id>/delete")
@requires(Role.ADMIN)
def delete_webhook_endpoint_post(webhook_endpoint_id: int) -> ResponseReturnValue:
    endpoint = _act(webhook_endpoint_id)
    if endpoint is None:
        return redirect(
            url_for("api.delete_webhook_endpoint", webhook_endpoint_id=webhook_endpoint_id)
        )
    webhooks.delete_endpoint(current_actor(), endpoint)
    flash("Endpoint deleted.", "success")
    return redirect(url_for("api.webhooks"))
