"""Every state change of servlets: drafting, publishing, retiring and duplicating.

Catalog and recommendation changes live in ``catalog.catalogs`` and
``catalog.recommendations``. Each public function checks the actor's role, validates, changes,
audits and commits; the ``_``-prefixed helpers do the change without committing so an import
can apply many rows in one transaction.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select

from catalog.content import ServletContent, problems
from catalog.models import Servlet, ServletVersion, VersionState
from core import audit
from core.db import utcnow
from core.errors import InvalidTransition, ServiceError
from core.extensions import db
from core.permissions import Actor, Role, require

AUTHORS = (Role.ADMIN,)


def check(content: ServletContent) -> None:
    errors = problems(content)
    if errors:
        raise ServiceError(" ".join(errors))


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:70].strip("-") or "servlet"


def _free_slug(vendor_id: int, wanted: str, taken: set[str] | None = None) -> str:
    """``wanted`` or ``wanted-2``, ``wanted-3``… whichever the vendor does not use yet."""
    base = slugify(wanted)
    used = set(
        db.session.scalars(
            select(Servlet.slug).where(
                Servlet.vendor_id == vendor_id,
                (Servlet.slug == base) | Servlet.slug.like(f"{base}-%"),
            )
        )
    ) | (taken or set())
    slug, number = base, 2
    while slug in used:
        slug, number = f"{base}-{number}", number + 1
    return slug


def _new_servlet(actor: Actor, content: ServletContent, slug: str) -> Servlet:
    check(content)
    servlet = Servlet(vendor_id=actor.vendor_id, slug=slug)
    db.session.add(servlet)
    version = ServletVersion(vendor_id=actor.vendor_id, servlet=servlet, number=1)
    for name, value in content.column_values().items():
        setattr(version, name, value)
    version.state = VersionState.DRAFT
    db.session.add(version)
    db.session.flush()
    audit.record("servlet.created", servlet, changes={"title": content.title, "slug": servlet.slug})
    return servlet


def create_servlet(actor: Actor, content: ServletContent) -> Servlet:
    """A new servlet with its first draft version."""
    require(actor, *AUTHORS)
    servlet = _new_servlet(actor, content, _free_slug(actor.vendor_id, content.title))
    db.session.commit()
    return servlet


def _open_versions(servlet: Servlet) -> tuple[ServletVersion | None, ServletVersion | None]:
    """(draft, published), read afresh: callers may have just changed them."""
    rows = db.session.scalars(
        select(ServletVersion).where(
            ServletVersion.servlet_id == servlet.id,
            ServletVersion.state.in_([VersionState.DRAFT, VersionState.PUBLISHED]),
        )
    )
    by_state = {version.state: version for version in rows}
    return by_state.get(VersionState.DRAFT), by_state.get(VersionState.PUBLISHED)


def _save_draft(actor: Actor, servlet: Servlet, content: ServletContent) -> ServletVersion:
    check(content)
    draft, _ = _open_versions(servlet)
    if draft is None:
        number = db.session.scalar(
            select(func.max(ServletVersion.number)).where(ServletVersion.servlet_id == servlet.id)
        )
        draft = ServletVersion(
            vendor_id=servlet.vendor_id, servlet_id=servlet.id, number=(number or 0) + 1
        )
        for name, value in content.column_values().items():
            setattr(draft, name, value)
        draft.state = VersionState.DRAFT
        db.session.add(draft)
        db.session.flush()
        audit.record("servlet.draft_started", servlet, changes={"version": draft.number})
        return draft
    changes = audit.diff(draft, content.column_values())
    changes.pop("search_text", None)
    audit.record("servlet.draft_saved", servlet, changes={"version": draft.number, **changes})
    return draft


def save_draft(actor: Actor, servlet: Servlet, content: ServletContent) -> ServletVersion:
    """Edit the draft; a servlet with only a published version gets the next draft version
    (the published one never changes: orders point at it)."""
    require(actor, *AUTHORS)
    draft = _save_draft(actor, servlet, content)
    db.session.commit()
    return draft


def _publish(actor: Actor, servlet: Servlet) -> ServletVersion:
    if servlet.retired_at is not None:
        raise InvalidTransition("This servlet is retired. Reinstate it before publishing.")
    draft, previous = _open_versions(servlet)
    if draft is None:
        raise InvalidTransition("There is no draft to publish: edit the servlet first.")
    check(ServletContent.of(draft))
    if previous is not None:
        previous.state = VersionState.SUPERSEDED
        db.session.flush()  # at most one published version per servlet, checked per row
    draft.state = VersionState.PUBLISHED
    draft.published_at = utcnow()
    draft.published_by_id = actor.user_id
    db.session.flush()
    audit.record(
        "servlet.published",
        servlet,
        changes={
            "version": draft.number,
            "superseded": previous.number if previous is not None else None,
        },
    )
    return draft


def publish_servlet(actor: Actor, servlet: Servlet) -> ServletVersion:
    """Freeze the draft as the version customers see and order."""
    require(actor, *AUTHORS)
    version = _publish(actor, servlet)
    db.session.commit()
    return version


def discard_draft(actor: Actor, servlet: Servlet) -> None:
    """Throw away unpublished changes; a servlet that was never published keeps its draft."""
    require(actor, *AUTHORS)
    draft, published = _open_versions(servlet)
    if draft is None or published is None:
        raise InvalidTransition("Only the changes to a published servlet can be discarded.")
    audit.record("servlet.draft_discarded", servlet, changes={"version": draft.number})
    db.session.delete(draft)
    db.session.commit()


def retire_servlet(actor: Actor, servlet: Servlet) -> None:
    """Hide the servlet from every catalog; orders keep pointing at the version they bought."""
    require(actor, *AUTHORS)
    if servlet.retired_at is not None:
        raise InvalidTransition("This servlet is already retired.")
    servlet.retired_at = utcnow()
    audit.record("servlet.retired", servlet)
    db.session.commit()


def reinstate_servlet(actor: Actor, servlet: Servlet) -> None:
    require(actor, *AUTHORS)
    if servlet.retired_at is None:
        raise InvalidTransition("This servlet is not retired.")
    servlet.retired_at = None
    audit.record("servlet.reinstated", servlet)
    db.session.commit()


def duplicate_servlet(actor: Actor, servlet: Servlet) -> Servlet:
    """A new draft servlet with the same content, titled as a copy."""
    require(actor, *AUTHORS)
    content = ServletContent.of(servlet.latest)
    title = f"Copy of {content.title}"[:120]
    copy = _new_servlet(
        actor, content.copy(title=title), _free_slug(actor.vendor_id, content.title + " copy")
    )
    audit.record("servlet.duplicated", copy, changes={"from": servlet.id})
    db.session.commit()
    return copy
