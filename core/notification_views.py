"""The notification list (the bell's page) and each person's choice of emails."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from core import bp, notifications
from core.extensions import db
from core.notifications import Notification
from core.pagination import paginate
from core.permissions import Role, current_actor, requires

PER_PAGE = 25


@bp.get("/notifications")
@requires(*Role)
def notification_list() -> ResponseReturnValue:
    actor = current_actor()
    stmt = (
        select(Notification)
        .where(Notification.user_id == actor.user_id)
        .order_by(Notification.id.desc())
    )
    return render_template("core/notifications.html", page=paginate(stmt, PER_PAGE))


def _same_site(link: str) -> str | None:
    """``link`` when it points into this site (notifications link to our own pages)."""
    parts = urlsplit(link)
    if parts.scheme in ("", "http", "https") and parts.netloc in ("", request.host):
        return parts.path + (f"?{parts.query}" if parts.query else "") if parts.path else None
    return None


@bp.post("/notifications/<int:notification_id>/read")
@requires(*Role)
def read_notification(notification_id: int) -> ResponseReturnValue:
    """Mark it read and open what it is about."""
    actor = current_actor()
    link = db.session.scalar(
        select(Notification.link).where(
            Notification.id == notification_id, Notification.user_id == actor.user_id
        )
    )
    if link is None:
        abort(404)  # someone else's notification, or none
    notifications.mark_read(actor.user_id, notification_id)
    return redirect(_same_site(link) or url_for("core.notification_list"))


@bp.post("/notifications/read")
@requires(*Role)
def read_all_notifications() -> ResponseReturnValue:
    count = notifications.mark_read(current_actor().user_id)
    flash(f"{count} notification{'' if count == 1 else 's'} marked read.", "info")
    return redirect(url_for("core.notification_list"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@requires(*Role)
def notification_preferences() -> ResponseReturnValue:
    user_id = current_actor().user_id
    if request.method == "POST":
        notifications.choose_emails(user_id, set(request.form.getlist("email")))
        flash("Saved: you receive the emails you ticked.", "success")
        return redirect(url_for("core.notification_preferences"))
    return render_template(
        "core/notification_preferences.html",
        kinds=notifications.kinds(),
        choices=notifications.email_choices(user_id),
    )
