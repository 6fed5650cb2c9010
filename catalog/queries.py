"""Read paths of the catalog pages. Each page runs a fixed number of statements whatever the
number of servlets: lists are paginated and what a page shows is loaded with it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, and_, func, literal_column, or_, select
from sqlalchemy.orm import aliased, contains_eager, joinedload, selectinload

from catalog.models import (
    Catalog,
    CatalogAssignment,
    CatalogItem,
    CatalogState,
    DeliveryMode,
    LifecycleStage,
    Recommendation,
    RecommendationState,
    Servlet,
    ServletKind,
    ServletVersion,
    VersionState,
    pg_search_document,
)
from core.db import utcnow
from core.extensions import db
from core.money import Money
from core.permissions import Actor

# --- full-text search ------------------------------------------------------------------------

_fts = sa.table("servlet_version_fts", sa.column("rowid"))


def search_terms(text: str) -> list[str]:
    """The words of a search box, lower-cased; punctuation and operators are dropped so no
    input can break the query syntax of either database."""
    return re.findall(r"\w+", text.lower())[:12]


@dataclass(frozen=True)
class Search:
    """A search applied to a statement selecting from ``ServletVersion``.

    ``matching`` only filters (cheap to count); ``ranked`` also carries what ordering by
    ``relevance`` (smaller is better) needs. On SQLite a join to the FTS5 table ranks well but
    counts badly (the MATCH runs once per joined row: 50 ms at 1,000 servlets), while an
    ``IN (matching rowids)`` filter counts in well under a millisecond; so each is used for
    what it does well.
    """

    matching: Select[Any]
    ranked: Select[Any]
    relevance: Any


def search_servlets(stmt: Select[Any], text: str) -> Search:
    """Narrow ``stmt`` to versions matching every word of ``text`` (as a prefix) in the title,
    outcome, summary, description or deliverables.

    One behaviour, two engines: FTS5 (bm25, title weighted 10:1) on SQLite, the weighted
    tsvector of ``catalog.models.pg_search_document`` (GIN-indexed) on PostgreSQL.
    """
    terms = search_terms(text)
    if not terms:
        return Search(stmt, stmt, None)
    if db.session.get_bind().dialect.name == "postgresql":
        document = literal_column(pg_search_document("servlet_version."))
        query = func.to_tsquery(literal_column("'english'"), " & ".join(f"{t}:*" for t in terms))
        matching = stmt.where(document.op("@@")(query))
        return Search(matching, matching, -func.ts_rank(document, query))
    match = literal_column("servlet_version_fts").op("MATCH")(
        " ".join(f'"{term}"*' for term in terms)
    )
    matching = stmt.where(ServletVersion.id.in_(select(_fts.c.rowid).where(match)))
    ranked = stmt.join(_fts, _fts.c.rowid == ServletVersion.id).where(match)
    return Search(matching, ranked, literal_column("bm25(servlet_version_fts, 10.0, 1.0)"))


# --- customer browsing -----------------------------------------------------------------------

SORTS = {
    "relevance": "Best match",
    "catalog": "Featured",
    "title": "Title A to Z",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "duration": "Shortest first",
    "newest": "Newest",
}


@dataclass
class BrowseFilters:
    q: str = ""
    kinds: list[ServletKind] = field(default_factory=list)
    stages: list[LifecycleStage] = field(default_factory=list)
    modes: list[DeliveryMode] = field(default_factory=list)
    min_price_minor: int | None = None
    max_price_minor: int | None = None
    max_days: int | None = None
    sort: str = "catalog"

    @property
    def narrowed(self) -> bool:
        """Whether anything hides part of the catalog (the sort alone does not)."""
        return bool(
            self.q
            or self.kinds
            or self.stages
            or self.modes
            or self.max_days
            or self.min_price_minor is not None
            or self.max_price_minor is not None
        )


def assigned_catalogs(actor: Actor) -> list[Catalog]:
    """The published catalogs of the customer's organisation, by name."""
    return list(
        db.session.scalars(
            select(Catalog)
            .join(CatalogAssignment, CatalogAssignment.catalog_id == Catalog.id)
            .where(
                CatalogAssignment.customer_id == actor.organization_id,
                Catalog.state == CatalogState.PUBLISHED,
            )
            .order_by(Catalog.name, Catalog.id)
        )
    )


def _published_join() -> Any:
    return and_(
        ServletVersion.servlet_id == Servlet.id, ServletVersion.state == VersionState.PUBLISHED
    )


# What a card shows: loading only these skips the long text and JSON columns of each version.
CARD_COLUMNS = (
    ServletVersion.title,
    ServletVersion.kind,
    ServletVersion.stage,
    ServletVersion.outcome,
    ServletVersion.duration_days,
    ServletVersion.delivery_mode,
    ServletVersion.price_minor,
    ServletVersion.currency,
    ServletVersion.published_at,
)


@dataclass(frozen=True)
class Cards:
    """The statement that loads a page of cards, and the one that counts them all."""

    items: Select[tuple[CatalogItem]]
    count: Select[Any]


def catalog_cards(catalog: Catalog, filters: BrowseFilters) -> Cards:
    """The catalog's visible items with their servlet and published version, filtered and
    sorted; paginate ``items`` counting with ``count``."""
    price = func.coalesce(CatalogItem.price_override_minor, ServletVersion.price_minor)
    stmt = (
        select(CatalogItem)
        .join(CatalogItem.servlet)
        .join(ServletVersion, _published_join())
        .where(CatalogItem.catalog_id == catalog.id, Servlet.retired_at.is_(None))
        .options(
            contains_eager(CatalogItem.servlet)
            .contains_eager(Servlet.published)
            .load_only(*CARD_COLUMNS, raiseload=True)
        )
    )
    if filters.kinds:
        stmt = stmt.where(ServletVersion.kind.in_(filters.kinds))
    if filters.stages:
        stmt = stmt.where(ServletVersion.stage.in_(filters.stages))
    if filters.modes:
        stmt = stmt.where(ServletVersion.delivery_mode.in_(filters.modes))
    if filters.min_price_minor is not None:
        stmt = stmt.where(price >= filters.min_price_minor)
    if filters.max_price_minor is not None:
        stmt = stmt.where(price <= filters.max_price_minor)
    if filters.max_days is not None:
        stmt = stmt.where(ServletVersion.duration_days <= filters.max_days)
    search = search_servlets(stmt, filters.q)
    orders = {
        "catalog": [CatalogItem.position],
        "title": [ServletVersion.title],
        "price_asc": [price],
        "price_desc": [price.desc()],
        "duration": [ServletVersion.duration_days],
        "newest": [ServletVersion.published_at.desc()],
    }
    if search.relevance is not None and filters.sort in ("relevance", "catalog"):
        items = search.ranked.order_by(search.relevance, CatalogItem.id)
    else:
        items = search.matching.order_by(
            *orders.get(filters.sort, orders["catalog"]), CatalogItem.id
        )
    return Cards(items=items, count=search.matching)


@dataclass(frozen=True)
class ServletPage:
    servlet: Servlet
    version: ServletVersion
    item: CatalogItem
    recommendation: Recommendation | None


def servlet_page(actor: Actor, servlet_id: int, catalog_id: int | None) -> ServletPage | None:
    """The servlet as the customer sees it, priced by the chosen catalog if it is one of the
    customer's, else by the first of its catalogs that holds the servlet. The caller has
    checked the servlet is within the actor's reach."""
    servlet = db.session.scalar(
        select(Servlet).where(Servlet.id == servlet_id).options(selectinload(Servlet.published))
    )
    if servlet is None or servlet.published is None:
        return None
    items = list(
        db.session.scalars(
            select(CatalogItem)
            .join(Catalog, Catalog.id == CatalogItem.catalog_id)
            .join(CatalogAssignment, CatalogAssignment.catalog_id == Catalog.id)
            .where(
                CatalogItem.servlet_id == servlet.id,
                CatalogAssignment.customer_id == actor.organization_id,
                Catalog.state == CatalogState.PUBLISHED,
            )
            .options(contains_eager(CatalogItem.catalog))
            .order_by(Catalog.name, Catalog.id)
        )
    )
    if not items:
        return None
    item = next((i for i in items if i.catalog_id == catalog_id), items[0])
    recommendation = db.session.scalar(
        select(Recommendation)
        .where(
            Recommendation.servlet_id == servlet.id,
            Recommendation.customer_id == actor.organization_id,
        )
        .options(joinedload(Recommendation.recommended_by))
        .order_by(Recommendation.id.desc())
        .limit(1)
    )
    return ServletPage(servlet, servlet.published, item, recommendation)


def open_recommendation(actor: Actor, servlet_id: int) -> Recommendation | None:
    """The customer's newest open recommendation of this servlet, if any."""
    return db.session.scalar(
        select(Recommendation)
        .where(
            Recommendation.servlet_id == servlet_id,
            Recommendation.customer_id == actor.organization_id,
            Recommendation.state.in_([RecommendationState.PROPOSED, RecommendationState.VIEWED]),
        )
        .order_by(Recommendation.id.desc())
        .limit(1)
    )


def recommended_for(actor: Actor, limit: int = 6) -> list[Recommendation]:
    """Open, unexpired recommendations to the actor's organisation, newest first."""
    return list(
        db.session.scalars(
            select(Recommendation)
            .join(Recommendation.servlet)
            .join(ServletVersion, _published_join())
            .where(
                Recommendation.customer_id == actor.organization_id,
                Recommendation.state.in_(
                    [RecommendationState.PROPOSED, RecommendationState.VIEWED]
                ),
                or_(Recommendation.expires_at.is_(None), Recommendation.expires_at > utcnow()),
                Servlet.retired_at.is_(None),
            )
            .options(
                contains_eager(Recommendation.servlet).contains_eager(Servlet.published),
                joinedload(Recommendation.recommended_by),
            )
            .order_by(Recommendation.id.desc())
            .limit(limit)
        )
    )


# --- vendor pages ----------------------------------------------------------------------------

SERVLET_STATUSES = ("draft", "published", "changes", "retired")


def authored_servlets(status: str = "", q: str = "") -> Select[tuple[Servlet]]:
    """The vendor's servlets for the authoring list, newest first."""
    latest = (
        select(ServletVersion.servlet_id, func.max(ServletVersion.number).label("number"))
        .group_by(ServletVersion.servlet_id)
        .subquery()
    )
    stmt = (
        select(Servlet)
        .join(latest, latest.c.servlet_id == Servlet.id)
        .join(
            ServletVersion,
            and_(
                ServletVersion.servlet_id == Servlet.id,
                ServletVersion.number == latest.c.number,
            ),
        )
        .options(selectinload(Servlet.published), selectinload(Servlet.draft))
    )
    if status == "retired":
        stmt = stmt.where(Servlet.retired_at.is_not(None))
    elif status in ("draft", "published", "changes"):
        stmt = stmt.where(Servlet.retired_at.is_(None))
        published = aliased(ServletVersion)
        has_published = select(published.id).where(
            published.servlet_id == Servlet.id, published.state == VersionState.PUBLISHED
        )
        if status == "draft":
            stmt = stmt.where(~has_published.exists())
        elif status == "published":
            stmt = stmt.where(has_published.exists())
        else:
            stmt = stmt.where(has_published.exists(), ServletVersion.state == VersionState.DRAFT)
    search = search_servlets(stmt, q)
    if search.relevance is not None:
        return search.ranked.order_by(search.relevance, Servlet.id)
    return stmt.order_by(ServletVersion.title, Servlet.id)


def load_servlet_options() -> list[Any]:
    return [selectinload(Servlet.published), selectinload(Servlet.draft)]


def publishable_servlets() -> list[tuple[int, str]]:
    """Published, unretired servlets as (id, title), for pickers."""
    rows = db.session.execute(
        select(Servlet.id, ServletVersion.title)
        .join(ServletVersion, _published_join())
        .where(Servlet.retired_at.is_(None))
        .order_by(ServletVersion.title)
    )
    return [(row.id, row.title) for row in rows]


def catalog_page_options() -> list[Any]:
    """Options that load what the catalog editing page shows."""
    return [
        selectinload(Catalog.items)
        .joinedload(CatalogItem.servlet)
        .options(selectinload(Servlet.published), selectinload(Servlet.draft)),
        selectinload(Catalog.assignments).joinedload(CatalogAssignment.customer),
    ]


def catalogs_with_counts() -> list[tuple[Catalog, int, int]]:
    items = (
        select(func.count(CatalogItem.id))
        .where(CatalogItem.catalog_id == Catalog.id)
        .scalar_subquery()
    )
    customers = (
        select(func.count(CatalogAssignment.id))
        .where(CatalogAssignment.catalog_id == Catalog.id)
        .scalar_subquery()
    )
    rows = db.session.execute(select(Catalog, items, customers).order_by(Catalog.name))
    return [(row[0], row[1], row[2]) for row in rows]


def vendor_recommendations(
    state: str = "", recommended_by_id: int | None = None
) -> Select[tuple[Recommendation]]:
    stmt = select(Recommendation).options(
        joinedload(Recommendation.customer),
        joinedload(Recommendation.recommended_by),
        joinedload(Recommendation.servlet).selectinload(Servlet.published),
    )
    if state in {s.value for s in RecommendationState}:
        stmt = stmt.where(Recommendation.state == RecommendationState(state))
    if recommended_by_id is not None:
        stmt = stmt.where(Recommendation.recommended_by_id == recommended_by_id)
    return stmt.order_by(Recommendation.id.desc())


# --- offers (used by ordering) ---------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """What the customer's catalogs offer for one servlet right now: the published version and
    the catalog item that prices it."""

    servlet: Servlet
    version: ServletVersion
    item: CatalogItem

    @property
    def price(self) -> Money:
        return self.item.price_of(self.version)


def offers_for(
    customer_id: int, servlet_ids: list[int], preferred: dict[int, int | None] | None = None
) -> dict[int, Offer]:
    """The current offer per servlet, in one statement: published, unretired, in a published
    catalog assigned to the customer. Priced by the preferred catalog (servlet id → catalog
    id) while it still holds the servlet, else by the first of the customer's catalogs by
    name, as ``servlet_page`` chooses. Servlets not offered are missing from the result."""
    if not servlet_ids:
        return {}
    items = db.session.scalars(
        select(CatalogItem)
        .join(Catalog, Catalog.id == CatalogItem.catalog_id)
        .join(CatalogAssignment, CatalogAssignment.catalog_id == Catalog.id)
        .join(CatalogItem.servlet)
        .join(ServletVersion, _published_join())
        .where(
            CatalogItem.servlet_id.in_(set(servlet_ids)),
            CatalogAssignment.customer_id == customer_id,
            Catalog.state == CatalogState.PUBLISHED,
            Servlet.retired_at.is_(None),
        )
        .options(
            contains_eager(CatalogItem.catalog),
            contains_eager(CatalogItem.servlet).contains_eager(Servlet.published),
        )
        .order_by(Catalog.name, Catalog.id)
    ).unique()
    preferred = preferred or {}
    offers: dict[int, Offer] = {}
    for item in items:
        chosen = offers.get(item.servlet_id)
        if chosen is None or (
            item.catalog_id == preferred.get(item.servlet_id)
            and chosen.item.catalog_id != item.catalog_id
        ):
            offers[item.servlet_id] = Offer(item.servlet, item.servlet.published, item)
    return offers
