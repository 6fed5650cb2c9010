"""Who is signed in and which membership they act through, loaded once per request.

The user loader checks the security stamp in the session id, so changing a password or
deactivating a user ends every other session. The chosen membership sets the request's
tenant scope; without a usable membership the user is signed out.
"""

from __future__ import annotations

from dataclasses import replace

from flask import flash, session
from flask_login import current_user, logout_user

from accounts import bp
from accounts.identity import MembershipSnapshot, SignedInUser, load_identity
from core.extensions import login_manager
from core.tenancy import set_request_scope

MEMBERSHIP_KEY = "membership_id"

login_manager.login_view = "accounts.sign_in"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
# Sessions end through the security stamp (password change, deactivation, sign-out elsewhere).
# Flask-Login's IP and user-agent check would only mark a session "not fresh", which nothing
# here uses, at the price of a SHA-512 per request and a longer cookie to verify.
login_manager.session_protection = None


@login_manager.user_loader
def load_user(session_id: str) -> SignedInUser | None:
    user_id, _, stamp = session_id.partition(".")
    if not user_id.isdigit():
        return None
    user = load_identity(int(user_id))
    if user is None or not user.active or user.security_stamp != stamp:
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
