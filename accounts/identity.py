"""The signed-in user as plain values, read with one Core statement per request.

Every signed-in request needs its server-side session, the user, their memberships and those
memberships' organisations and vendors. Loading them as ORM objects cost more than the rest
of a cached catalog page; reading the columns with one prebuilt statement and keeping them in frozen
dataclasses costs a third of that. Nothing here is attached to a session, so nothing can be
changed through it by mistake: services that change a user or a membership load their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, bindparam, select

from accounts.models import Membership, Organization, User, UserSession
from core.db import utcnow
from core.extensions import db
from core.notifications import unread_count_column
from core.permissions import OrgKind, Role
from core.tenancy import all_tenants


@dataclass(frozen=True, slots=True)
class OrganizationSnapshot:
    id: int
    name: str
    kind: OrgKind
    active: bool
    # Vendor settings, meaningful on vendors only (see ``Organization``).
    currency: str
    catalog_revision: int


@dataclass(frozen=True, slots=True)
class MembershipSnapshot:
    """A membership as services see an actor (``core.permissions.Actor``)."""

    id: int
    user_id: int
    organization_id: int
    vendor_id: int
    role: Role
    active: bool
    organization: OrganizationSnapshot
    vendor: OrganizationSnapshot
    unread_notifications: int = 0  # the bell's count, in this membership's vendor


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """What Flask-Login keeps as ``current_user`` for a request.

    ``membership`` is the one the user acts through (chosen by ``accounts.session``),
    ``other_memberships`` the usable ones they may switch to.
    """

    id: int
    email: str
    name: str
    active: bool
    security_stamp: str
    memberships: tuple[MembershipSnapshot, ...]
    session_id: int  # the ``UserSession`` row this browser signed in with
    session_key: str
    membership: MembershipSnapshot | None = None

    @property
    def usable_memberships(self) -> list[MembershipSnapshot]:
        """Active memberships of active organisations, by organisation name."""
        usable = (m for m in self.memberships if m.active and m.organization.active)
        return sorted(usable, key=lambda m: (m.organization.name, m.id))

    @property
    def other_memberships(self) -> list[MembershipSnapshot]:
        return [m for m in self.usable_memberships if m is not self.membership]

    @property
    def display_name(self) -> str:
        return self.name or self.email

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return self.session_key


_session, _user, _membership = UserSession.__table__, User.__table__, Membership.__table__
_organization = Organization.__table__.alias("organization")
_vendor = Organization.__table__.alias("vendor")
_ORGANIZATION_COLUMNS = ("id", "name", "kind", "active", "currency", "catalog_revision")

# Built once: building a statement costs as much as running this one.
_IDENTITY = (
    select(
        _session.c.id.label("session_id"),
        _user.c.id,
        _user.c.email,
        _user.c.name,
        _user.c.active,
        _user.c.security_stamp,
        _membership.c.id.label("membership_id"),
        _membership.c.organization_id,
        _membership.c.vendor_id,
        _membership.c.role,
        _membership.c.active.label("membership_active"),
        *(_organization.c[c].label(f"org_{c}") for c in _ORGANIZATION_COLUMNS),
        *(_vendor.c[c].label(f"vendor_org_{c}") for c in _ORGANIZATION_COLUMNS),
        # The bell's unread count rides along, so it costs no statement of its own.
        unread_count_column(_user.c.id, _membership.c.vendor_id).label("unread"),
    )
    .select_from(
        # A session whose stamp is not the user's any more (the password changed) finds no one.
        _session.join(
            _user,
            and_(
                _user.c.id == _session.c.user_id,
                _user.c.security_stamp == _session.c.security_stamp,
            ),
        )
        .outerjoin(_membership, _membership.c.user_id == _user.c.id)
        .outerjoin(_organization, _organization.c.id == _membership.c.organization_id)
        .outerjoin(_vendor, _vendor.c.id == _membership.c.vendor_id)
    )
    .where(
        _session.c.key_hash == bindparam("key_hash"),
        _session.c.expires_at > bindparam("now", type_=_session.c.expires_at.type),
    )
    .order_by(_membership.c.id)
)


def load_identity(session_key: str) -> SignedInUser | None:
    """The user of this live session with all their memberships, or ``None`` when the session
    was ended (signed out, expired, password changed) or never existed."""
    values = {"key_hash": UserSession.hash_key(session_key), "now": utcnow()}
    with all_tenants():
        rows = db.session.execute(_IDENTITY, values).all()
    if not rows:
        return None
    first = rows[0]
    return SignedInUser(
        id=first.id,
        email=first.email,
        name=first.name,
        active=first.active,
        security_stamp=first.security_stamp,
        memberships=tuple(_membership_of(row) for row in rows if row.membership_id is not None),
        session_id=first.session_id,
        session_key=session_key,
    )


def _membership_of(row: Row[Any]) -> MembershipSnapshot:
    return MembershipSnapshot(
        id=row.membership_id,
        user_id=row.id,
        organization_id=row.organization_id,
        vendor_id=row.vendor_id,
        role=row.role,
        active=row.membership_active,
        organization=_organization_of(row, "org_"),
        vendor=_organization_of(row, "vendor_org_"),
        unread_notifications=row.unread,
    )


def _organization_of(row: Row[Any], prefix: str) -> OrganizationSnapshot:
    values = row._mapping
    return OrganizationSnapshot(*(values[prefix + column] for column in _ORGANIZATION_COLUMNS))
