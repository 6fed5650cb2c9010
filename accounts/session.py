"""Who is signed in and which membership they act through, loaded once per request.

The user loader checks the security stamp in the session id, so changing a password or
deactivating a user ends every other session. The chosen membership sets the request's
tenant scope; without a usable membership the user is signed out.
"""

from __future__ import annotations

from flask import flash, session
from flask_login import current_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from accounts import bp
from accounts.models import Membership, User
from core.extensions import db, login_manager
from core.tenancy import all_tenants, set_request_scope

MEMBERSHIP_KEY = "membership_id"

login_manager.login_view = "accounts.sign_in"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
# Sessions end through the security stamp (password change, deactivation, sign-out elsewhere).
# Flask-Login's IP and user-agent check would only mark a session "not fresh", which nothing
# here uses, at the price of a SHA-512 per request and a longer cookie to verify.
login_manager.session_protection = None


# One statement per request: the user, their memberships, organisations and vendors joined.
# Built once, because building it costs as much as running it, and every signed-in request
# runs it.
_USER_WITH_MEMBERSHIPS = (
    select(User)
    .where(User.id == bindparam("user_id"))
    .options(
        joinedload(User.memberships).options(
            joinedload(Membership.organization), joinedload(Membership.vendor)
        )
    )
)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, stamp = session_id.partition(".")
    if not user_id.isdigit():
        return None
    with all_tenants():
        user = (
            db.session.scalars(_USER_WITH_MEMBERSHIPS, {"user_id": int(user_id)})
            .unique()
            .one_or_none()
        )
    if user is None or not user.active or user.security_stamp != stamp:
        return None
    user.membership = choose_membership(user, session.get(MEMBERSHIP_KEY))
    user.other_memberships = [m for m in usable_memberships(user) if m is not user.membership]
    return user


def usable_memberships(user: User) -> list[Membership]:
    return sorted(
        (m for m in user.memberships if m.usable), key=lambda m: (m.organization.name, m.id)
    )


def choose_membership(user: User, wanted_id: int | None) -> Membership | None:
    memberships = usable_memberships(user)
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
