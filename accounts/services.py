"""Every state change of accounts: sign-in bookkeeping, passwords, invitations, organisations,
memberships and vendor settings. Each checks permission, validates, audits and commits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import url_for
from sqlalchemy import delete, func, or_, select

from accounts.models import Membership, Organization, User, UserSession
from accounts.tokens import Purpose, make_token, user_for_token
from core import audit
from core.db import utcnow
from core.errors import Conflict, NotAllowed, NotFound, ServiceError
from core.extensions import db
from core.mail import send_mail
from core.permissions import ROLES_BY_KIND, Actor, OrgKind, Role, require
from core.tenancy import all_tenants


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


# --- signing in ---------------------------------------------------------------------------


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials belong to, or ``None``; a failure is audited without
    saying whether the address exists (to the person signing in)."""
    user = find_user(email)
    if user is not None and user.active and user.check_password(password):
        return user
    _record_failed_sign_in(email, user)
    db.session.commit()
    return None


def _record_failed_sign_in(email: str, user: User | None) -> None:
    """One event under each vendor the user belongs to, so every tenant's admin sees the
    attempts on its people; an unknown address has no tenant and is recorded under none."""
    vendor_ids: list[int | None] = [None]
    if user is not None:
        with all_tenants():
            vendor_ids = list(
                db.session.scalars(
                    select(Membership.vendor_id)
                    .where(Membership.user_id == user.id)
                    .distinct()
                    .order_by(Membership.vendor_id)
                )
            ) or [None]
    for vendor_id in vendor_ids:
        audit.record(
            "user.sign_in_failed",
            vendor_id=vendor_id,
            object_type="user",
            object_id=user.id if user else None,
            actor_email=normalise_email(email)[:254],
        )


# How long a session lasts at most after sign-in, however active: a copied cookie stops
# working by then even if its browser never signs out.
SESSION_LIFETIME = timedelta(days=14)


def open_session(user: User) -> str:
    """Add a server-side session of ``user`` (the caller commits); returns the key its cookie
    will carry. Only the key's hash is stored."""
    key = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            key_hash=UserSession.hash_key(key),
            security_stamp=user.security_stamp,
            expires_at=utcnow() + SESSION_LIFETIME,
        )
    )
    return key


def start_session(user: User) -> str:
    """Record a successful sign-in and open its session; returns the session's key."""
    key = open_session(user)
    user.last_sign_in_at = utcnow()
    audit.record("user.signed_in", user, actor_id=user.id, actor_email=user.email)
    db.session.commit()
    return key


def end_session(user_session_id: int) -> None:
    """Sign one browser out on the server. The user's other browsers stay signed in: signing
    out of a shared computer should not end the session on one's own laptop."""
    db.session.execute(delete(UserSession).where(UserSession.id == user_session_id))
    audit.record("user.signed_out", object_type="user_session", object_id=user_session_id)
    db.session.commit()


def end_stale_sessions() -> int:
    """Delete sessions that can no longer be used: expired, opened before the user's password
    changed, or of a deactivated user (so reactivating them revives no old cookie); how many."""
    still_usable = (
        select(User.id)
        .where(
            User.id == UserSession.user_id,
            User.security_stamp == UserSession.security_stamp,
            User.active.is_(True),
        )
        .exists()
    )
    result = db.session.execute(
        delete(UserSession).where(or_(UserSession.expires_at <= utcnow(), ~still_usable))
    )
    db.session.commit()
    return result.rowcount


# --- passwords ----------------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Email a reset link if the address has an account; say nothing either way."""
    user = find_user(email)
    if user is None or not user.active:
        return
    link = url_for("accounts.reset_password", token=make_token(user, Purpose.RESET), _external=True)
    send_mail(
        user.email,
        "Reset your Servlet Desk password",
        f"Someone asked to reset the password of {user.email}.\n\n"
        f"Choose a new password here (the link works once):\n{link}\n\n"
        "If it was not you, ignore this email.",
    )
    audit.record("user.password_reset_requested", user, actor_id=user.id, actor_email=user.email)
    db.session.commit()


def reset_password(token: str, password: str) -> User:
    user = user_for_token(token, Purpose.RESET)
    if user is None:
        raise ServiceError("This reset link has expired or was already used. Ask for a new one.")
    user.set_password(password)
    audit.record("user.password_reset", user, actor_id=user.id, actor_email=user.email)
    db.session.commit()
    return user


# --- invitations --------------------------------------------------------------------------


def _reachable_organization(actor: Actor, organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None or organization.tenant_id != actor.vendor_id:
        raise NotFound("That organisation does not exist.")
    return organization


def invite_user(
    actor: Actor, email: str, name: str, role: Role, organization_id: int
) -> Membership:
    """Give someone a role in an organisation of the actor's vendor and email them a link."""
    require(actor, Role.ADMIN)
    organization = _reachable_organization(actor, organization_id)
    if role not in ROLES_BY_KIND[organization.kind]:
        raise ServiceError(f"A {organization.kind} organisation has no role “{role.label}”.")
    email = normalise_email(email)
    with all_tenants():
        user = find_user(email)
        if user is None:
            user = User(email=email, name=name.strip())
            db.session.add(user)
            db.session.flush()
        existing = db.session.scalar(
            select(Membership).where(
                Membership.user_id == user.id, Membership.organization_id == organization.id
            )
        )
    if existing is not None:
        raise Conflict(f"{email} is already a member of {organization.name}.")
    membership = Membership(
        user=user, organization=organization, role=role, vendor_id=organization.tenant_id
    )
    db.session.add(membership)
    db.session.flush()
    _send_invitation(user, organization, role)
    audit.record("membership.invited", membership, changes={"email": email, "role": role.value})
    db.session.commit()
    return membership


def _send_invitation(user: User, organization: Organization, role: Role) -> None:
    if user.password_hash is None:
        link = url_for(
            "accounts.accept_invitation", token=make_token(user, Purpose.INVITE), _external=True
        )
        action = f"Choose your name and password to join (the link works once):\n{link}"
    else:
        action = f"Sign in as usual and switch to {organization.name} from the menu."
    send_mail(
        user.email,
        f"You are invited to {organization.name} on Servlet Desk",
        f"You have been given the role {role.label} in {organization.name}.\n\n{action}",
        vendor_id=organization.tenant_id,
    )


def accept_invitation(token: str, name: str, password: str) -> User:
    user = user_for_token(token, Purpose.INVITE)
    if user is None or user.password_hash is not None:
        raise ServiceError("This invitation has expired or was already used. Ask for a new one.")
    user.name = name.strip()
    user.set_password(password)
    audit.record("user.invitation_accepted", user, actor_id=user.id, actor_email=user.email)
    db.session.commit()
    return user


# --- memberships --------------------------------------------------------------------------


def _guard_own_admin(actor: Actor, membership: Membership) -> None:
    if membership.id == actor.id:
        raise ServiceError("You cannot change or remove your own access; ask another admin.")


def change_role(actor: Actor, membership: Membership, role: Role) -> None:
    require(actor, Role.ADMIN)
    _guard_own_admin(actor, membership)
    if role not in ROLES_BY_KIND[membership.organization.kind]:
        raise ServiceError(f"A {membership.organization.kind} organisation has no such role.")
    changes = audit.diff(membership, {"role": role})
    if changes:
        audit.record("membership.role_changed", membership, changes=changes)
        db.session.commit()


def set_membership_active(actor: Actor, membership: Membership, active: bool) -> None:
    """Deactivating ends the person's access here at their next request."""
    require(actor, Role.ADMIN)
    _guard_own_admin(actor, membership)
    changes = audit.diff(membership, {"active": active})
    if changes:
        action = "membership.reactivated" if active else "membership.deactivated"
        audit.record(action, membership, changes=changes)
        db.session.commit()


# --- organisations ------------------------------------------------------------------------


def create_organization(actor: Actor, kind: OrgKind, name: str) -> Organization:
    require(actor, Role.ADMIN)
    if kind is OrgKind.VENDOR:
        raise NotAllowed("Vendors are created by the platform operator.")
    _check_unique_name(actor.vendor_id, name)
    organization = Organization(kind=kind, name=name.strip(), vendor_id=actor.vendor_id)
    db.session.add(organization)
    db.session.flush()
    audit.record("organization.created", organization, changes={"name": organization.name})
    db.session.commit()
    return organization


def _check_unique_name(vendor_id: int, name: str, exclude_id: int | None = None) -> None:
    clash = db.session.scalar(
        select(Organization.id).where(
            Organization.vendor_id == vendor_id,
            func.lower(Organization.name) == name.strip().lower(),
            Organization.id != (exclude_id or 0),
        )
    )
    if clash is not None:
        raise Conflict(f"An organisation named “{name.strip()}” already exists.")


MAX_THRESHOLD_MINOR = 10**15


def update_organization(
    actor: Actor, organization: Organization, name: str, approval_threshold_minor: int | None = None
) -> None:
    """Rename an organisation; for a customer also set its approval threshold (orders above it
    wait for an approver; ``None`` means none do)."""
    require(actor, Role.ADMIN)
    _check_unique_name(actor.vendor_id, name, exclude_id=organization.id)
    values: dict[str, Any] = {"name": name.strip()}
    if organization.kind is OrgKind.CUSTOMER:
        if approval_threshold_minor is not None and not (
            0 <= approval_threshold_minor < MAX_THRESHOLD_MINOR
        ):
            raise ServiceError("Approval threshold: an amount of zero or more.")
        values["approval_threshold_minor"] = approval_threshold_minor
    changes = audit.diff(organization, values)
    if changes:
        audit.record("organization.updated", organization, changes=changes)
        db.session.commit()


def set_organization_active(actor: Actor, organization: Organization, active: bool) -> None:
    """A deactivated customer or partner keeps its history; its people can no longer sign in."""
    require(actor, Role.ADMIN)
    if organization.kind is OrgKind.VENDOR:
        raise NotAllowed("A vendor cannot deactivate itself.")
    changes = audit.diff(organization, {"active": active})
    if changes:
        action = "organization.reactivated" if active else "organization.deactivated"
        audit.record(action, organization, changes=changes)
        db.session.commit()


@dataclass(frozen=True)
class VendorSettings:
    name: str
    currency: str
    payment_terms_days: int
    tax_rate: Decimal
    invoice_prefix: str
    terms_text: str
    terms_version: str


def update_vendor_settings(actor: Actor, values: VendorSettings) -> Organization:
    require(actor, Role.ADMIN)
    vendor = db.session.get(Organization, actor.vendor_id)
    if vendor is None:
        raise NotFound("Vendor not found.")
    changes: dict[str, Any] = audit.diff(vendor, vars(values))
    if changes:
        audit.record("organization.settings_updated", vendor, changes=changes)
        db.session.commit()
    return vendor


# --- set-up -------------------------------------------------------------------------------


def create_vendor_admin(vendor_name: str, email: str, password: str, name: str = "") -> Membership:
    """A new vendor with its first admin, for ``flask users create`` on a real deployment."""
    with all_tenants():
        if find_user(email) is not None:
            raise Conflict(f"A user with the email {normalise_email(email)} already exists.")
        vendor = Organization(kind=OrgKind.VENDOR, name=vendor_name.strip())
        user = User(email=normalise_email(email), name=name.strip())
        user.set_password(password)
        db.session.add_all([vendor, user])
        db.session.flush()
        membership = Membership(
            user=user, organization=vendor, role=Role.ADMIN, vendor_id=vendor.id
        )
        db.session.add(membership)
        db.session.flush()
        audit.record("user.created", user, vendor_id=vendor.id, changes={"role": "admin"})
        db.session.commit()
    return membership
