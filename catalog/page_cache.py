"""Rendered customer catalog pages, cached in each process.

What a customer's catalog page shows depends on their organisation's catalog assignments, the
vendor's catalogs, servlets and settings (the currency price filters are read in), and the
query string; never on who in the organisation looks. So the page body is cached under
(customer organisation, vendor's catalog revision, query string). Every flush that touches a
vendor's servlets, versions, catalogs, items, assignments or settings bumps that vendor's
``catalog_revision`` in the same transaction, so no process can serve a page older than the
data it shows. The revision arrives with the signed-in user's memberships
(``accounts.session``), so a cached page runs no query of its own. The cache lives on the app,
so two apps (tests) never share entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any, Generic, TypeVar

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from accounts.models import Organization
from catalog.models import Catalog, CatalogAssignment, CatalogItem, Servlet, ServletVersion
from core.permissions import OrgKind

ENTRIES = 512
_WATCHED = (Catalog, CatalogAssignment, CatalogItem, Servlet, ServletVersion)

V = TypeVar("V")


class RenderCache(Generic[V]):
    """A small thread-safe LRU of rendered pages."""

    def __init__(self, size: int = ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = Lock()
        self._size = size

    def get_or_render(self, key: Hashable, render: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = render()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


def page_cache() -> RenderCache[Any]:
    return current_app.extensions.setdefault("catalog_page_cache", RenderCache())


@event.listens_for(Session, "before_flush")
def _bump_catalog_revisions(session: Session, flush_context: Any, instances: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    vendor_ids = {
        obj.vendor_id for obj in changed if isinstance(obj, _WATCHED) and obj.vendor_id is not None
    }
    vendor_ids.update(
        obj.id
        for obj in session.dirty
        if isinstance(obj, Organization) and obj.kind == OrgKind.VENDOR and obj.id is not None
    )
    if vendor_ids:
        organizations = Organization.__table__
        session.connection().execute(
            organizations.update()
            .where(organizations.c.id.in_(vendor_ids))
            .values(catalog_revision=organizations.c.catalog_revision + 1)
        )
