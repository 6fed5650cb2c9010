"""Rendered card grids of the catalog page, cached in each process.

A grid depends on the catalog's contents and the query string, never on who looks, so it is
cached under (catalog id, catalog revision, query string). Every flush that touches a vendor's
servlets, versions, catalogs or catalog items bumps the revision of all that vendor's catalogs
in the same transaction, so no process can serve a grid older than the data it shows. The
cache lives on the app, so two apps (tests) never share entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any

from flask import current_app
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import Session

from catalog.models import Catalog, CatalogItem, Servlet, ServletVersion

ENTRIES = 512
_WATCHED = (Catalog, CatalogItem, Servlet, ServletVersion)


class GridCache:
    """A small thread-safe LRU of rendered grids."""

    def __init__(self, size: int = ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, Markup] = OrderedDict()
        self._lock = Lock()
        self._size = size

    def get_or_render(self, key: Hashable, render: Callable[[], Markup]) -> Markup:
        with self._lock:
            grid = self._entries.get(key)
            if grid is not None:
                self._entries.move_to_end(key)
                return grid
        grid = render()
        with self._lock:
            self._entries[key] = grid
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return grid


def grid_cache() -> GridCache:
    return current_app.extensions.setdefault("catalog_grid_cache", GridCache())


@event.listens_for(Session, "before_flush")
def _bump_catalog_revisions(session: Session, flush_context: Any, instances: Any) -> None:
    vendor_ids = {
        obj.vendor_id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, _WATCHED) and obj.vendor_id is not None
    }
    if vendor_ids:
        catalogs = Catalog.__table__
        session.connection().execute(
            catalogs.update()
            .where(catalogs.c.vendor_id.in_(vendor_ids))
            .values(revision=catalogs.c.revision + 1)
        )
