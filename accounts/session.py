"""Who is signed in and which membership they act through, loaded once per request.

The cookie carries the key of a server-side session (``accounts.models.UserSession``); the
user loader finds the user through it in one statement. A session ends when its browser signs
out (the row is deleted), when it expires, when the user's password changes (the stamp the row
was opened with no longer matches) or when the user is deactivated. The chosen membership sets
the request's tenant scope; without a usable membership the user is signed out.
"""

from __future__ import annotations

from dataclasses import replace

from flask import flash, session
from flask_login import current_user, logout_user

from accounts import bp
from accounts.identity import MembershipSnapshot, SignedInUser, load_identity
from accounts.services import end_session
from core.extensions import login_manager
from core.tenancy import set_request_scope

MEMBERSHIP_KEY = "membership_id"

login_manager.login_view = "accounts.sign_in"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
# Sessions end on the server (see above). Flask-Login's IP and user-agent check would only mark
# a session "not fresh", which nothing here uses, at the price of a SHA-512 per request and a
# longer cookie to verify.
login_manager.session_protection = None


@login_manager.user_loader
def load_user(session_key: str) -> SignedInUser | None:
    if not session_key or len(session_key) > 64:  # issued keys are 43 characters
        return None
    user = load_identity(session_key)
    if user is None or not user.active:
        return None
    return replace(user, membership=choose_membership(user, session.get(MEMBERSHIP_KEY)))


def choose_membership(user: SignedInUser, wanted_id: int | None) -> MembershipSnapshot | None:
    memberships = user.usable_memberships
    chosen = next((m for m in memberships if m.id == wanted_id), None)
    return chosen or (memberships[0] if memberships else None)


@bp.before_app_request
def scope_request_to_tenant() -> None:
    if not current_user.is_authenticated:
        set_request_scope(None)
        return
    membership = current_user.membership
    if membership is None:
        end_session(current_user.session_id)  # a copy of the cookie must not outlive this
        logout_user()
        session.clear()
        flash(
            "Your access has been removed. Ask your administrator if this is a mistake.", "warning"
        )
        set_request_scope(None)
        return
    if session.get(MEMBERSHIP_KEY) != membership.id:
        session[MEMBERSHIP_KEY] = membership.id
    set_request_scope(membership.vendor_id)
