"""Sign-in, sign-out, password reset, invitations, organisation switching and home pages."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from accounts import bp, services, sign_in_limits
from accounts.forms import AcceptInvitationForm, ForgotPasswordForm, NewPasswordForm, SignInForm
from accounts.session import MEMBERSHIP_KEY
from accounts.tokens import Purpose, user_for_token
from core.errors import ServiceError
from core.home import panels_for
from core.permissions import current_actor, requires


@bp.route("/sign-in", methods=["GET", "POST"])
@sign_in_limits.limited
def sign_in() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.home"))
    form = SignInForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.form_errors.append("Wrong email or password.")
        else:
            # A fresh session on sign-in: nothing planted before it survives (fixation).
            session.clear()
            user.session_key = services.start_session(user)
            login_user(user)
            response = redirect(_safe_next(request.args.get("next")))
            sign_in_limits.remember_browser(response, user.email)
            return response
    return render_template("accounts/sign_in.html", form=form)


def _safe_next(target: str | None) -> str:
    r"""Only a path of this site, so the sign-in page cannot bounce anyone elsewhere.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    ``/<tab>/evil.example`` or ``/\evil.example`` would reach another host: refuse any
    control character, whitespace or backslash, and anything with a scheme or a host.
    """
    home = url_for("accounts.home")
    if not target or len(target) > 2048 or not target.startswith("/"):
        return home
    if "\\" in target or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return home
    return target


@bp.post("/sign-out")
@login_required
def sign_out() -> ResponseReturnValue:
    services.end_session(current_user.session_id)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.sign_in"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash("If that address has an account, a reset link is on its way.", "info")
        return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    if user_for_token(token, Purpose.RESET) is None:
        return render_template("accounts/token_invalid.html", what="reset link"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash("Your password is changed. Sign in with it now.", "success")
            return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/reset_password.html", form=form)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    user = user_for_token(token, Purpose.INVITE)
    if user is None or user.password_hash is not None:
        return render_template("accounts/token_invalid.html", what="invitation"), 400
    form = AcceptInvitationForm(name=user.name)
    if form.validate_on_submit():
        try:
            services.accept_invitation(token, form.name.data, form.password.data)
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash("Welcome! Sign in with your new password.", "success")
            return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/accept_invitation.html", form=form, email=user.email)


@bp.post("/switch/<int:membership_id>")
@login_required
def switch_organization(membership_id: int) -> ResponseReturnValue:
    if not any(m.id == membership_id for m in current_user.usable_memberships):
        abort(404)
    session[MEMBERSHIP_KEY] = membership_id
    return redirect(url_for("accounts.home"))


@bp.get("/")
@requires()
def home() -> ResponseReturnValue:
    membership = current_user.membership
    return render_template(
        f"home/{membership.role.value}.html",
        membership=membership,
        panels=panels_for(current_actor()),
    )
