"""Roles and the one way to say who may act: ``@requires(...)`` on views, ``require(...)`` in
services, and ``get_or_404`` to load an object within the caller's reach."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, Protocol, TypeVar

from flask import abort, request
from flask_login import current_user
from sqlalchemy import Select, select

from core.audit import record_denied
from core.db import LabelledEnum
from core.errors import NotAllowed
from core.extensions import db, login_manager
from core.tenancy import holds_tenant_data


class OrgKind(StrEnum):
    VENDOR = "vendor"
    CUSTOMER = "customer"
    PARTNER = "partner"


class Role(LabelledEnum):
    """The roles of DESIGN.md. A partner's consultant is ``partner_consultant`` so that a role
    alone says which kind of organisation it belongs to."""

    ADMIN = "admin"
    CSM = "csm"
    DELIVERY_MANAGER = "delivery_manager"
    CONSULTANT = "consultant"
    FINANCE = "finance"
    BUYER = "buyer"
    APPROVER = "approver"
    VIEWER = "viewer"
    PARTNER_MANAGER = "partner_manager"
    PARTNER_CONSULTANT = "partner_consultant"

    @property
    def label(self) -> str:
        return "CSM" if self is Role.CSM else super().label

    @property
    def org_kind(self) -> OrgKind:
        return next(kind for kind, roles in ROLES_BY_KIND.items() if self in roles)


ROLES_BY_KIND: dict[OrgKind, tuple[Role, ...]] = {
    OrgKind.VENDOR: (Role.ADMIN, Role.CSM, Role.DELIVERY_MANAGER, Role.CONSULTANT, Role.FINANCE),
    OrgKind.CUSTOMER: (Role.BUYER, Role.APPROVER, Role.VIEWER),
    OrgKind.PARTNER: (Role.PARTNER_MANAGER, Role.PARTNER_CONSULTANT),
}
VENDOR_ROLES = ROLES_BY_KIND[OrgKind.VENDOR]
CUSTOMER_ROLES = ROLES_BY_KIND[OrgKind.CUSTOMER]
PARTNER_ROLES = ROLES_BY_KIND[OrgKind.PARTNER]


class Actor(Protocol):
    """What services need to know about who acts: accounts' Membership satisfies it."""

    id: int
    user_id: int
    organization_id: int
    vendor_id: int
    role: Role


def current_actor() -> Actor | None:
    if not current_user.is_authenticated:
        return None
    return current_user.membership


def require(actor: Actor | None, *roles: Role) -> Actor:
    """Refuse (``NotAllowed``) unless ``actor`` holds one of ``roles``; services call this."""
    if actor is None or (roles and actor.role not in roles):
        raise NotAllowed("You do not have permission to do that.")
    return actor


F = TypeVar("F", bound=Callable[..., Any])


def requires(*roles: Role) -> Callable[[F], F]:
    """View decorator: signed in, with one of ``roles`` (any role when none are given)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            actor = current_actor()
            if kwargs and roles and actor is not None and actor.role not in roles:
                # A route about one object hides whether it exists from those who may not see it.
                endpoint = request.endpoint or request.path
                object_type, object_id = _object_in_route(kwargs) or (endpoint, None)
                record_denied(object_type, object_id, {"endpoint": endpoint})
                abort(404)
            require(actor, *roles)
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def _object_in_route(view_args: dict[str, Any]) -> tuple[str, int] | None:
    """The object a route is about, read from its first ``<table>_id`` argument (``order_id``
    → order #id), for the audit trail; ``None`` when no argument names a tenant's table."""
    for name, value in view_args.items():
        table = name.removesuffix("_id")
        if table != name and isinstance(value, int) and holds_tenant_data(table):
            return table, value
    return None


M = TypeVar("M")


def scoped(model: type[M]) -> Select[tuple[M]]:
    """``select(model)`` narrowed to what the current actor may see inside its tenant.

    The tenant filter is added by ``core.tenancy``; a model that narrows further by role
    (a buyer sees only its own organisation's orders) defines ``reach(stmt, actor)``.
    """
    stmt = select(model)
    reach = getattr(model, "reach", None)
    if reach is not None:
        stmt = reach(stmt, current_actor())
    return stmt


def get_or_404(model: type[M], object_id: int, *options: Any) -> M:
    """Load one object within the caller's reach; anything else is a 404, never a 403."""
    obj = db.session.scalar(scoped(model).where(model.id == object_id).options(*options))
    if obj is None:
        record_denied(model.__tablename__, object_id)
        abort(404)
    return obj
