"""Who is told about the customer's decisions, change orders and SLA breaches, and the links
their notifications carry."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from accounts.models import Membership, Organization, User
from core.extensions import db
from core.permissions import Role


def link(endpoint: str, **values: Any) -> str:
    """An absolute link when a host is known (a request or SERVER_NAME), else empty: jobs
    and the seed may run without one."""
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:
        return ""


def users(*conditions: Any) -> list[User]:
    """Active users of active memberships matching ``conditions``, once each."""
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.active.is_(True), User.active.is_(True), *conditions)
            .distinct()
            .order_by(User.id)
        )
    )


def with_roles(organization_id: int, *roles: Role) -> list[User]:
    return users(Membership.organization_id == organization_id, Membership.role.in_(roles))


def members(*membership_ids: int | None) -> list[User]:
    """The users behind these memberships (``None`` ignored)."""
    ids = {i for i in membership_ids if i is not None}
    return users(Membership.id.in_(ids)) if ids else []


def account_csm(customer_id: int) -> list[User]:
    """The CSM who owns the customer's account, when one is named."""
    return members(db.session.get(Organization, customer_id).csm_id)
