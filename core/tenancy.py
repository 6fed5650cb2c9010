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
from sqlalchemy import event, or_
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from core.db import TenantMixin


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
