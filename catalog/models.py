"""Servlets and their versions, catalogs and CSM recommendations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, validates

from accounts.models import Organization, User
from core.db import (
    IdMixin,
    LabelledEnum,
    TenantMixin,
    TimestampMixin,
    enum_column,
    relationship,
    unmanaged_schema_objects,
)
from core.errors import InvalidTransition
from core.extensions import db
from core.money import Money
from core.permissions import CUSTOMER_ROLES, VENDOR_ROLES, Actor


class CatalogEnum(LabelledEnum):
    """Catalog vocabulary, with the few labels the generic rule gets wrong (``LABELS``)."""

    @property
    def label(self) -> str:
        return LABELS.get(self.value, super().label)


class ServletKind(CatalogEnum):
    DEPLOYMENT = "deployment"
    ONBOARDING = "onboarding"
    HEALTH_CHECK = "health_check"
    ADOPTION = "adoption"
    TRAINING = "training"
    EXPANSION = "expansion"


class LifecycleStage(CatalogEnum):
    """The customer life-cycle stage a servlet serves (the same stages as customer accounts)."""

    ONBOARDING = "onboarding"
    ADOPTION = "adoption"
    EXPANSION = "expansion"
    RENEWAL = "renewal"


class DeliveryMode(CatalogEnum):
    REMOTE = "remote"
    ON_SITE = "on_site"
    WEB = "web"
    CLASSROOM = "classroom"


class BillingPolicy(CatalogEnum):
    PREPAID = "prepaid"
    ON_ACCEPTANCE = "on_acceptance"
    MILESTONES = "milestones_50_50"


class QuestionType(CatalogEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    YES_NO = "yes_no"


class VersionState(CatalogEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class CatalogState(CatalogEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class RecommendationState(CatalogEnum):
    PROPOSED = "proposed"
    VIEWED = "viewed"
    ORDERED = "ordered"
    DECLINED = "declined"
    EXPIRED = "expired"


LABELS = {
    "health_check": "Health check",
    "adoption": "Adoption / optimisation",
    "on_site": "On-site",
    "web": "Web (self-paced)",
    "prepaid": "Prepaid",
    "on_acceptance": "On acceptance",
    "milestones_50_50": "50/50 milestones",
    "yes_no": "Yes / no",
}

# The fields a version carries; only a draft may change them (see ``ServletVersion._frozen``).
CONTENT_FIELDS = (
    "title",
    "kind",
    "stage",
    "outcome",
    "summary",
    "description",
    "prerequisites",
    "in_scope",
    "out_of_scope",
    "deliverables",
    "constraints",
    "delivery_mode",
    "duration_days",
    "effort_hours",
    "required_skills",
    "price_minor",
    "currency",
    "delivery_cost_minor",
    "billing_policy",
    "start_within_days",
    "deliver_within_days",
    "csat_target",
    "intake_questions",
    "search_text",
)


class FrozenVersion(InvalidTransition):
    """A published version was about to change: orders point at it, so it never does."""


class Servlet(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """The stable identity of a servlet; what it says lives in its versions."""

    __tablename__ = "servlet"
    __table_args__ = (sa.UniqueConstraint("vendor_id", "slug"),)

    slug: Mapped[str] = mapped_column(sa.String(80))
    retired_at: Mapped[datetime | None]

    versions: Mapped[list[ServletVersion]] = relationship(
        back_populates="servlet", order_by="ServletVersion.number"
    )
    published: Mapped[ServletVersion | None] = relationship(
        primaryjoin="and_(ServletVersion.servlet_id == Servlet.id,"
        " ServletVersion.state == 'published')",
        viewonly=True,
        uselist=False,
    )
    draft: Mapped[ServletVersion | None] = relationship(
        primaryjoin="and_(ServletVersion.servlet_id == Servlet.id,"
        " ServletVersion.state == 'draft')",
        viewonly=True,
        uselist=False,
    )

    @property
    def status(self) -> str:
        if self.retired_at is not None:
            return "retired"
        return "published" if self.published is not None else "draft"

    @property
    def latest(self) -> ServletVersion:
        """The version an author works on: the draft if there is one, else the published."""
        return self.draft or self.published  # type: ignore[return-value]

    @classmethod
    def reach(cls, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
        """Vendor staff see every servlet of the tenant; a customer only the published,
        unretired servlets of published catalogs assigned to its organisation."""
        if actor is not None and actor.role in VENDOR_ROLES:
            return stmt
        if actor is None or actor.role not in CUSTOMER_ROLES:
            return stmt.where(sa.false())
        return stmt.where(
            cls.retired_at.is_(None), cls.id.in_(visible_servlet_ids(actor.organization_id))
        )


class ServletVersion(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One numbered version of a servlet. A draft is editable; publishing freezes it."""

    __tablename__ = "servlet_version"
    __table_args__ = (
        sa.UniqueConstraint("servlet_id", "number"),
        sa.Index(
            "uq_servlet_version_one_published",
            "servlet_id",
            unique=True,
            sqlite_where=sa.text("state = 'published'"),
            postgresql_where=sa.text("state = 'published'"),
        ),
        sa.Index(
            "uq_servlet_version_one_draft",
            "servlet_id",
            unique=True,
            sqlite_where=sa.text("state = 'draft'"),
            postgresql_where=sa.text("state = 'draft'"),
        ),
        sa.CheckConstraint("price_minor >= 0", name="price_not_negative"),
        sa.CheckConstraint("delivery_cost_minor >= 0", name="cost_not_negative"),
        sa.CheckConstraint("duration_days > 0", name="duration_positive"),
    )

    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"), index=True)
    number: Mapped[int]
    state: Mapped[VersionState] = mapped_column(
        enum_column(VersionState, 16), default=VersionState.DRAFT
    )
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    title: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[ServletKind] = mapped_column(enum_column(ServletKind, 24))
    stage: Mapped[LifecycleStage] = mapped_column(enum_column(LifecycleStage, 16))
    outcome: Mapped[str] = mapped_column(sa.String(400))
    summary: Mapped[str] = mapped_column(sa.String(1000), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    prerequisites: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    in_scope: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    out_of_scope: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Ordered: each becomes a task of the engagement. [{"title": ..., "description": ...}]
    deliverables: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    constraints: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    delivery_mode: Mapped[DeliveryMode] = mapped_column(enum_column(DeliveryMode, 16))
    duration_days: Mapped[int]
    effort_hours: Mapped[int]
    required_skills: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    delivery_cost_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    billing_policy: Mapped[BillingPolicy] = mapped_column(enum_column(BillingPolicy, 24))
    start_within_days: Mapped[int]
    deliver_within_days: Mapped[int]
    csat_target: Mapped[Decimal] = mapped_column(sa.Numeric(2, 1))
    # [{"label": ..., "type": QuestionType value, "required": bool, "choices": [...]}]
    intake_questions: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # Outcome, summary, description and deliverables as plain text, for full-text search.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")

    servlet: Mapped[Servlet] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()

    @validates(*CONTENT_FIELDS)
    def _frozen(self, key: str, value: Any) -> Any:
        if self.state not in (None, VersionState.DRAFT):
            raise FrozenVersion(
                f"Version {self.number} is published and cannot change; edit creates a new draft."
            )
        return value

    @property
    def price(self) -> Money:
        return Money(self.price_minor, self.currency)

    @property
    def delivery_cost(self) -> Money:
        return Money(self.delivery_cost_minor, self.currency)


class Catalog(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A named selection of servlets for a segment of customers, with its own prices."""

    __tablename__ = "catalog"
    __table_args__ = (sa.UniqueConstraint("vendor_id", "name"),)

    name: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    state: Mapped[CatalogState] = mapped_column(
        enum_column(CatalogState, 16), default=CatalogState.DRAFT
    )

    items: Mapped[list[CatalogItem]] = relationship(
        back_populates="catalog",
        order_by="CatalogItem.position",
        cascade="all, delete-orphan",
    )
    assignments: Mapped[list[CatalogAssignment]] = relationship(
        back_populates="catalog", cascade="all, delete-orphan"
    )

    @classmethod
    def reach(cls, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
        if actor is not None and actor.role in VENDOR_ROLES:
            return stmt
        if actor is None or actor.role not in CUSTOMER_ROLES:
            return stmt.where(sa.false())
        return stmt.where(
            cls.state == CatalogState.PUBLISHED,
            cls.id.in_(
                sa.select(CatalogAssignment.catalog_id).where(
                    CatalogAssignment.customer_id == actor.organization_id
                )
            ),
        )


class CatalogItem(IdMixin, TenantMixin, db.Model):
    __tablename__ = "catalog_item"
    __table_args__ = (
        sa.UniqueConstraint("catalog_id", "servlet_id"),
        sa.CheckConstraint(
            "price_override_minor IS NULL OR price_override_minor >= 0",
            name="override_not_negative",
        ),
        # The catalog page reads one page of a catalog in its order: this index serves the
        # filter and the ORDER BY, so LIMIT stops after one page instead of sorting them all.
        sa.Index("ix_catalog_item_catalog_position", "catalog_id", "position"),
    )

    catalog_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog.id"))
    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    price_override_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    price_override_currency: Mapped[str | None] = mapped_column(sa.String(3))

    catalog: Mapped[Catalog] = relationship(back_populates="items")
    servlet: Mapped[Servlet] = relationship()

    @property
    def price_override(self) -> Money | None:
        if self.price_override_minor is None or self.price_override_currency is None:
            return None
        return Money(self.price_override_minor, self.price_override_currency)

    def price_of(self, version: ServletVersion) -> Money:
        """The catalog's price: its override when it has one, else the version's list price."""
        return self.price_override or version.price


class CatalogAssignment(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A customer organisation sees this catalog."""

    __tablename__ = "catalog_assignment"
    __table_args__ = (sa.UniqueConstraint("catalog_id", "customer_id"),)

    catalog_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)

    catalog: Mapped[Catalog] = relationship(back_populates="assignments")
    customer: Mapped[Organization] = relationship(foreign_keys=[customer_id])


def visible_servlet_ids(customer_id: int) -> sa.Select[tuple[int]]:
    """Servlets in a published catalog assigned to the customer (retired ones filtered by the
    caller, which holds the servlet table)."""
    return (
        sa.select(CatalogItem.servlet_id)
        .join(Catalog, Catalog.id == CatalogItem.catalog_id)
        .join(CatalogAssignment, CatalogAssignment.catalog_id == Catalog.id)
        .where(
            Catalog.state == CatalogState.PUBLISHED,
            CatalogAssignment.customer_id == customer_id,
        )
    )


class Recommendation(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A CSM proposes a servlet to a customer, with a reason the customer reads."""

    __tablename__ = "recommendation"

    servlet_id: Mapped[int] = mapped_column(sa.ForeignKey("servlet.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    recommended_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(2000))
    state: Mapped[RecommendationState] = mapped_column(
        enum_column(RecommendationState, 16), default=RecommendationState.PROPOSED, index=True
    )
    expires_at: Mapped[datetime | None]
    viewed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    decline_reason: Mapped[str] = mapped_column(sa.String(1000), default="")

    servlet: Mapped[Servlet] = relationship()
    customer: Mapped[Organization] = relationship(foreign_keys=[customer_id])
    recommended_by: Mapped[User] = relationship()

    @property
    def is_open(self) -> bool:
        return self.state in (RecommendationState.PROPOSED, RecommendationState.VIEWED)

    @classmethod
    def reach(cls, stmt: sa.Select[Any], actor: Actor | None) -> sa.Select[Any]:
        """Vendor staff see the tenant's recommendations; a customer's buyers see their own."""
        if actor is not None and actor.role in VENDOR_ROLES:
            return stmt
        if actor is None or actor.role not in CUSTOMER_ROLES:
            return stmt.where(sa.false())
        return stmt.where(cls.customer_id == actor.organization_id)


# --- full-text search objects ---------------------------------------------------------------
# SQLite: an FTS5 index over (title, search_text) kept in step by triggers, so every write
# path (services, imports, test clean-up) updates it. PostgreSQL: a GIN index over the same
# weighted tsvector expression that ``catalog.queries.search_servlets`` matches against.
# Created here for ``create_all`` (tests) and by the migration for real databases.

SQLITE_FTS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS servlet_version_fts USING fts5("
    "title, search_text, content='servlet_version', content_rowid='id',"
    " tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS servlet_version_fts_insert AFTER INSERT ON servlet_version"
    " BEGIN INSERT INTO servlet_version_fts(rowid, title, search_text)"
    " VALUES (new.id, new.title, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS servlet_version_fts_delete AFTER DELETE ON servlet_version"
    " BEGIN INSERT INTO servlet_version_fts(servlet_version_fts, rowid, title, search_text)"
    " VALUES ('delete', old.id, old.title, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS servlet_version_fts_update AFTER UPDATE ON servlet_version"
    " BEGIN INSERT INTO servlet_version_fts(servlet_version_fts, rowid, title, search_text)"
    " VALUES ('delete', old.id, old.title, old.search_text);"
    " INSERT INTO servlet_version_fts(rowid, title, search_text)"
    " VALUES (new.id, new.title, new.search_text); END",
)
SQLITE_FTS_DROP = ("DROP TABLE IF EXISTS servlet_version_fts",)


def pg_search_document(prefix: str = "") -> str:
    """The weighted tsvector the GIN index holds; queries must use the same expression."""
    return (
        f"setweight(to_tsvector('english', coalesce({prefix}title, '')), 'A') || "
        f"setweight(to_tsvector('english', coalesce({prefix}search_text, '')), 'B')"
    )


PG_FTS_DDL = (
    "CREATE INDEX IF NOT EXISTS ix_servlet_version_search ON servlet_version"
    f" USING gin (({pg_search_document()}))",
)

unmanaged_schema_objects("servlet_version_fts", "ix_servlet_version_search")

for statement in SQLITE_FTS_DDL:
    sa.event.listen(
        ServletVersion.__table__, "after_create", sa.DDL(statement).execute_if(dialect="sqlite")
    )
for statement in SQLITE_FTS_DROP:
    sa.event.listen(
        ServletVersion.__table__, "before_drop", sa.DDL(statement).execute_if(dialect="sqlite")
    )
for statement in PG_FTS_DDL:
    sa.event.listen(
        ServletVersion.__table__,
        "after_create",
        sa.DDL(statement).execute_if(dialect="postgresql"),
    )
