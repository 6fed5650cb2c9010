"""Tenant scoping by construction.

Every ORM statement that reads tenant data (models with ``TenantMixin``, and organisations)
gets a ``vendor_id`` filter added here, from the scope of the current request or of an explicit
``tenant_scope`` block. A statement with no scope at all fails loudly instead of reading every
tenant's rows: code that really needs all tenants (sign-in, CLI, jobs) says so with
``all_tenants()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Final

from flask import g, has_request_context
from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from core.db import Base, TenantMixin
from core.extensions import db


class TenancyError(RuntimeError):
    """Tenant data was queried with no tenant scope: a bug, never a user error."""


class _AllTenants:
    def __repr__(self) -> str:
        return "ALL_TENANTS"


ALL_TENANTS: Final = _AllTenants()
_explicit: ContextVar[int | _AllTenants | None] = ContextVar("tenant_scope", default=None)

# Organisation is the tenant itself, so it cannot carry TenantMixin; core registers it here
# without importing accounts (imports flow upwards only).
_scoped_roots: list[type] = []


def register_tenant_root(model: type) -> None:
    """Scope ``model`` by ``id == vendor`` or ``vendor_id == vendor`` (the organisation table)."""
    _scoped_roots.append(model)


@contextmanager
def tenant_scope(scope: int | _AllTenants) -> Iterator[None]:
    token = _explicit.set(scope)
    try:
        yield
    finally:
        _explicit.reset(token)


def all_tenants() -> AbstractContextManager[None]:
    return tenant_scope(ALL_TENANTS)


def set_request_scope(vendor_id: int | None) -> None:
    g.tenant_scope = vendor_id


def current_scope() -> int | _AllTenants | None:
    explicit = _explicit.get()
    if explicit is not None:
        return explicit
    if has_request_context():
        return g.get("tenant_scope")
    return None


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    for mapper in state.all_mappers:
        cls = mapper.class_
        if issubclass(cls, TenantMixin) or cls in _scoped_roots:
            return True
    return False


@event.listens_for(Session, "do_orm_execute")
def _apply_tenant_scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    scope = current_scope()
    if scope is ALL_TENANTS:
        return
    if scope is None:
        if _touches_tenant_data(state):
            raise TenancyError("tenant data queried outside a tenant scope")
        return
    state.statement = state.statement.options(*_scope_options(scope))


@lru_cache(maxsize=4096)
def _scope_options(vendor_id: int) -> tuple[Any, ...]:
    """The loader criteria for one vendor, built once: they are immutable and hashable."""
    tenant_data = with_loader_criteria(
        TenantMixin, lambda cls: cls.vendor_id == vendor_id, include_aliases=True
    )
    roots = [
        with_loader_criteria(
            root,
            lambda cls: or_(cls.id == vendor_id, cls.vendor_id == vendor_id),
            include_aliases=True,
        )
        for root in _scoped_roots
    ]
    return (tenant_data, *roots)


def owning_vendor(table_name: str, object_id: int) -> int | None:
    """The vendor whose data the row ``object_id`` of ``table_name`` is, across all tenants;
    ``None`` when there is no such row or the table holds no tenant data. For the audit trail
    of refused access: the tenant whose object was probed should see the attempt."""
    owner = _owner_columns().get(table_name)
    if owner is None:
        return None
    table, column = owner
    with tenant_scope(ALL_TENANTS):
        return db.session.scalar(select(column).where(table.c.id == object_id))


def holds_tenant_data(table_name: str) -> bool:
    return table_name in _owner_columns()


@lru_cache(maxsize=1)
def _owner_columns() -> dict[str, tuple[Any, Any]]:
    """Table name → (table, the column naming its vendor), for every tenant-owned table."""
    owners: dict[str, tuple[Any, Any]] = {}
    for mapper in Base.registry.mappers:
        cls, table = mapper.class_, mapper.local_table
        if issubclass(cls, TenantMixin):
            owners[table.name] = (table, table.c.vendor_id)
        elif cls in _scoped_roots:  # a vendor owns itself
            owners[table.name] = (table, func.coalesce(table.c.vendor_id, table.c.id))
    return owners
