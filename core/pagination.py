"""The one way to page a list: the page number from the query string, and a count that may
come from a cheaper statement than the one that loads the page."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination, SelectPagination

from core import params
from core.extensions import db

MAX_PAGE = 10_000


def page_number() -> int:
    """``?page=`` from 1 to ``MAX_PAGE``; anything else is page 1 (and said so)."""
    return params.integer("page", 1, MAX_PAGE, default=1)


class _CountedPagination(SelectPagination):
    def _query_count(self) -> int:
        count_select = self._query_args.get("count_select")
        if count_select is None:
            return super()._query_count()
        counted = sa.select(sa.func.count()).select_from(count_select.order_by(None).subquery())
        return self._query_args["session"].execute(counted).scalar()


def paginate(select: sa.Select[Any], per_page: int, count_select: Any = None) -> Pagination:
    """One page of ``select``; ``count_select`` (the same rows, without what only ordering
    needs) counts them when that is cheaper."""
    return _CountedPagination(
        select=select,
        count_select=count_select,
        session=db.session(),
        page=page_number(),
        per_page=per_page,
        error_out=False,
    )
