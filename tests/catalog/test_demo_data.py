"""The demo seed gives each vendor a catalog worth browsing (issue: demo data)."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Organization
from catalog.models import (
    Catalog,
    LifecycleStage,
    Recommendation,
    RecommendationState,
    ServletKind,
    ServletVersion,
    VersionState,
)
from core.demo import run_seeders
from core.extensions import db
from core.permissions import OrgKind


def test_each_demo_vendor_has_servlets_of_every_kind_and_stage_catalogs_and_recommendations(
    app, unscoped
):
    with unscoped():
        run_seeders()
        vendors = db.session.scalars(
            select(Organization).where(Organization.kind == OrgKind.VENDOR)
        ).all()
        assert len(vendors) == 2
        for vendor in vendors:
            published = db.session.scalars(
                select(ServletVersion).where(
                    ServletVersion.vendor_id == vendor.id,
                    ServletVersion.state == VersionState.PUBLISHED,
                )
            ).all()
            catalogs = db.session.scalars(
                select(Catalog).where(Catalog.vendor_id == vendor.id)
            ).all()
            states = set(
                db.session.scalars(
                    select(Recommendation.state).where(Recommendation.vendor_id == vendor.id)
                )
            )
            assert 15 <= len(published) <= 30, vendor.name
            assert {v.kind for v in published} == set(ServletKind), vendor.name
            assert {v.stage for v in published} == set(LifecycleStage), vendor.name
            assert 2 <= len(catalogs) <= 3, vendor.name
            assert states == set(RecommendationState), vendor.name
