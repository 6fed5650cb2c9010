"""CSM recommendations: proposed, viewed, ordered, declined, expired, and the conversion rate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from catalog import recommendations, servlets
from catalog.models import Recommendation, RecommendationState, Servlet
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import InvalidTransition, NotAllowed, NotFound, ServiceError
from core.extensions import db
from core.permissions import OrgKind, Role
from tests.catalog import factories
from tests.conftest import sign_in

State = RecommendationState


def state_of(recommendation_id: int) -> RecommendationState:
    return db.session.get(Recommendation, recommendation_id).state


def test_a_csm_recommends_and_the_buyer_sees_it_opens_it_and_declines_it(
    client, tenant_a, unscoped
):
    with unscoped():
        servlet_id, _ = factories.shop(tenant_a, title="Adoption Accelerator")
    sign_in(client, tenant_a.people[Role.CSM])
    sent = client.post(
        "/recommendations/new",
        data={
            "customer_id": tenant_a.customer_id,
            "servlet_id": servlet_id,
            "reason": "Usage dropped 20% since March.",
        },
    )
    assert sent.status_code == 302
    with unscoped():
        recommendation_id = db.session.scalar(select(Recommendation.id))

    sign_in(client, tenant_a.people[Role.BUYER])
    home = client.get("/").data.decode()
    assert "Recommended for you" in home
    assert "Usage dropped 20% since March." in home
    page = client.get(f"/catalog/servlets/{servlet_id}")
    assert b"Usage dropped 20%" in page.data
    with unscoped():
        assert state_of(recommendation_id) == State.VIEWED

    refused = client.post(f"/recommendations/{recommendation_id}/decline", data={"reason": ""})
    assert refused.status_code == 302
    with unscoped():
        assert state_of(recommendation_id) == State.VIEWED
    client.post(
        f"/recommendations/{recommendation_id}/decline", data={"reason": "No budget this year."}
    )
    with unscoped():
        recommendation = db.session.get(Recommendation, recommendation_id)
        assert (recommendation.state, recommendation.decline_reason) == (
            State.DECLINED,
            "No budget this year.",
        )
        actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert [a for a in actions if a.startswith("recommendation.")] == [
        "recommendation.proposed",
        "recommendation.viewed",
        "recommendation.declined",
    ]
    assert b"Recommended for you" in client.get("/").data
    assert b"Usage dropped 20%" not in client.get("/").data


def test_the_csm_page_shows_states_and_the_conversion_rate(client, tenant_a, unscoped):
    with unscoped():
        buyer = factories.actor(tenant_a, Role.BUYER)
        ids = [factories.recommendation(tenant_a, factories.shop(tenant_a)[0]) for _ in range(5)]
        get = lambda i: db.session.get(Recommendation, i)  # noqa: E731
        recommendations.mark_ordered(buyer, get(ids[0]))
        recommendations.mark_ordered(buyer, get(ids[1]))
        recommendations.decline(buyer, get(ids[2]), "Not now")
        get(ids[3]).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert recommendations.expire_due() == 1
        figures = recommendations.conversion()
    assert figures.counts[State.ORDERED] == 2
    assert figures.closed == 4
    assert figures.rate == pytest.approx(0.5)
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get("/recommendations").data.decode()
    assert 'data-testid="conversion-rate">50%' in page
    assert 'data-testid="count-proposed">1' in page


def test_conversion_has_no_rate_before_anything_closes(app, tenant_a, unscoped):
    with unscoped():
        factories.recommendation(tenant_a, factories.shop(tenant_a)[0])
        assert recommendations.conversion().rate is None


def test_transitions_follow_the_table(app, tenant_a, unscoped):
    with unscoped():
        buyer = factories.actor(tenant_a, Role.BUYER)
        recommendation_id = factories.recommendation(tenant_a, factories.shop(tenant_a)[0])
        recommendations.decline(buyer, db.session.get(Recommendation, recommendation_id), "No")
        with pytest.raises(InvalidTransition):
            recommendations.mark_ordered(buyer, db.session.get(Recommendation, recommendation_id))
        assert recommendations.RECOMMENDATION_LIFE.terminal() == {
            State.ORDERED,
            State.DECLINED,
            State.EXPIRED,
        }


def test_an_overdue_recommendation_expires_when_opened(client, tenant_a, unscoped):
    with unscoped():
        servlet_id, _ = factories.shop(tenant_a)
        recommendation_id = factories.recommendation(
            tenant_a, servlet_id, expires_at=utcnow() + timedelta(days=1)
        )
        db.session.get(Recommendation, recommendation_id).expires_at = utcnow() - timedelta(1)
        db.session.commit()
    sign_in(client, tenant_a.people[Role.BUYER])
    assert b"Recommended for you" in client.get(f"/catalog/servlets/{servlet_id}").data
    with unscoped():
        assert state_of(recommendation_id) == State.EXPIRED


def test_recommending_is_refused_for_the_wrong_customer_or_servlet(
    app, tenant_a, tenant_b, unscoped
):
    with unscoped():
        csm = factories.actor(tenant_a, Role.CSM)
        visible, _ = factories.shop(tenant_a)
        retired, _ = factories.shop(tenant_a)
        servlets.retire_servlet(factories.actor(tenant_a), db.session.get(Servlet, retired))
        draft = factories.servlet(tenant_a, publish=False)
        unlisted = factories.servlet(tenant_a)
        foreign, _ = factories.shop(tenant_b)
        cases = [
            (visible, tenant_b.customer_id, NotFound),  # another vendor's customer
            (visible, tenant_a.partner_id, NotFound),  # not a customer
            (retired, tenant_a.customer_id, InvalidTransition),
            (draft, tenant_a.customer_id, NotFound),
            (foreign, tenant_a.customer_id, NotFound),
            (unlisted, tenant_a.customer_id, ServiceError),  # not in any of its catalogs
        ]
        for servlet_id, customer_id, error in cases:
            with pytest.raises(error):
                recommendations.recommend(csm, servlet_id, customer_id, "Because")
        with pytest.raises(ServiceError, match="Reason"):
            recommendations.recommend(csm, visible, tenant_a.customer_id, "   ")
        with pytest.raises(ServiceError, match="Expiry"):
            recommendations.recommend(
                csm, visible, tenant_a.customer_id, "Because", utcnow() - timedelta(days=1)
            )
        with pytest.raises(NotAllowed):
            recommendations.recommend(
                factories.actor(tenant_a, Role.BUYER), visible, tenant_a.customer_id, "Me"
            )
        assert db.session.scalar(select(Recommendation.id)) is None


def test_the_recommend_form_shows_refusals(client, tenant_a, tenant_b, unscoped):
    with unscoped():
        unlisted = factories.servlet(tenant_a)
    sign_in(client, tenant_a.people[Role.CSM])
    response = client.post(
        "/recommendations/new",
        data={"customer_id": tenant_a.customer_id, "servlet_id": unlisted, "reason": "Why"},
    )
    assert response.status_code == 200
    assert b"cannot see this servlet" in response.data
    other = client.post(
        "/recommendations/new",
        data={"customer_id": tenant_b.customer_id, "servlet_id": unlisted, "reason": "Why"},
    )
    assert other.status_code == 200
    with unscoped():
        assert db.session.scalar(select(Recommendation.id)) is None


def test_another_customers_buyer_cannot_act_on_a_recommendation(app, tenant_a, unscoped):
    from tests.factories import organization, person

    with unscoped():
        recommendation_id = factories.recommendation(tenant_a, factories.shop(tenant_a)[0])
        other = organization("Other Customer", OrgKind.CUSTOMER, tenant_a.vendor_id)
        stranger = person(other, Role.BUYER)
        actor = factories.Actor(
            stranger.membership_id, stranger.user_id, other.id, tenant_a.vendor_id, Role.BUYER
        )
        with pytest.raises(NotFound):
            recommendations.decline(actor, db.session.get(Recommendation, recommendation_id), "x")


def test_the_expiry_command_expires_overdue_recommendations_of_every_vendor(
    app, tenant_a, tenant_b, unscoped
):
    with unscoped():
        ids = [
            factories.recommendation(tenant, factories.shop(tenant)[0])
            for tenant in (tenant_a, tenant_b)
        ]
        for recommendation_id in ids:
            db.session.get(Recommendation, recommendation_id).expires_at = utcnow()
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["catalog", "expire-recommendations"])
    assert "Expired 2 recommendations." in result.output
    again = app.test_cli_runner().invoke(args=["catalog", "expire-recommendations"])
    assert "Expired 0 recommendations." in again.output
    with unscoped():
        assert {state_of(i) for i in ids} == {State.EXPIRED}
