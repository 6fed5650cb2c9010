"""Sessions live on the server: signing out, a password change or the session's age ends them,
whatever copies of the cookie exist; the next page after sign-in stays on this site."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from accounts.models import Membership, User, UserSession
from accounts.services import end_stale_sessions
from core.db import utcnow
from core.extensions import db
from tests.conftest import sign_in
from tests.factories import PASSWORD


def post_sign_in(client, email, password=PASSWORD, next_path=None):
    url = "/sign-in" if next_path is None else f"/sign-in?next={next_path}"
    return client.post(url, data={"email": email, "password": password})


def session_cookie(client) -> str:
    return client.get_cookie("session", domain="desk.test").value


def with_cookie(app, value: str):
    """Another browser holding a copy of someone's session cookie."""
    other = app.test_client()
    other.set_cookie("session", value, domain="desk.test")
    return other


def refused(response) -> bool:
    return response.status_code == 302 and "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize(
    "next_path",
    [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0d/evil.example",
        "/%0d%0a/evil.example",
        "%09//evil.example",
        "/%5Cevil.example",
        "/%5C/evil.example",
        "%5C%5Cevil.example",
        "https://evil.example",
        "https:/evil.example",
        "//evil.example",
        "%2F%2Fevil.example",
        "///evil.example",
        "javascript:alert(1)",
        "/%E2%80%AE/evil.example",
        "/%C2%A0/evil.example",
    ],
)
def test_next_cannot_leave_the_site_however_it_is_encoded(client, tenant_a, next_path):
    response = post_sign_in(client, tenant_a.people["admin"].email, next_path=next_path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_keeps_a_path_of_this_site_with_its_query(client, tenant_a):
    response = post_sign_in(client, tenant_a.people["buyer"].email, next_path="/orders%3Fpage%3D2")
    assert response.headers["Location"] == "/orders?page=2"


def test_a_cookie_copied_before_sign_out_opens_nothing_afterwards(app, client, tenant_a):
    post_sign_in(client, tenant_a.people["buyer"].email)
    copied = session_cookie(client)
    assert with_cookie(app, copied).get("/orders").status_code == 200

    client.post("/sign-out")

    assert refused(with_cookie(app, copied).get("/orders"))
    assert refused(client.get("/orders"))


def test_signing_out_leaves_the_users_other_browsers_signed_in(app, tenant_a):
    email = tenant_a.people["buyer"].email
    laptop, shared_computer = app.test_client(), app.test_client()
    post_sign_in(laptop, email)
    post_sign_in(shared_computer, email)

    shared_computer.post("/sign-out")

    assert laptop.get("/orders").status_code == 200
    assert refused(shared_computer.get("/orders"))


def test_a_session_ends_when_it_expires(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people["buyer"])
    assert client.get("/orders").status_code == 200
    with unscoped():
        db.session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert refused(client.get("/orders"))


def test_a_password_change_ends_every_session_of_the_user(app, tenant_a, unscoped):
    person = tenant_a.people["csm"]
    first, second = app.test_client(), app.test_client()
    post_sign_in(first, person.email)
    post_sign_in(second, person.email)
    with unscoped():
        db.session.get(User, person.user_id).set_password("a brand new password")
        db.session.commit()
    assert refused(first.get("/"))
    assert refused(second.get("/"))


def test_a_forged_or_unknown_session_key_is_refused(app, client, tenant_a):
    with client.session_transaction() as session:
        session["_user_id"] = "x" * 43
    assert refused(client.get("/orders"))
    with client.session_transaction() as session:
        session["_user_id"] = f"{tenant_a.people['buyer'].user_id}.anything"
    assert refused(client.get("/orders"))


def test_the_cookie_carries_a_session_key_not_the_user_id(client, tenant_a):
    person = tenant_a.people["buyer"]
    post_sign_in(client, person.email)
    with client.session_transaction() as session:
        key = session["_user_id"]
    assert str(person.user_id) not in key.split(".")
    assert len(key) >= 43


def test_sessions_that_cannot_be_used_again_are_cleared_from_the_table(app, tenant_a, unscoped):
    people = tenant_a.people
    with unscoped():
        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == people["buyer"].user_id)
            .values(expires_at=utcnow() - timedelta(days=1))
        )
        db.session.get(User, people["finance"].user_id).set_password("another new password")
        db.session.get(User, people["viewer"].user_id).active = False
        db.session.commit()
        before = db.session.scalar(select(func.count()).select_from(UserSession))
        assert end_stale_sessions() == 3
        assert db.session.scalar(select(func.count()).select_from(UserSession)) == before - 3
        assert end_stale_sessions() == 0


def test_a_session_whose_access_was_removed_is_ended_on_the_server(app, client, tenant_a, unscoped):
    person = tenant_a.people["finance"]
    sign_in(client, person)
    copied = session_cookie(client)
    with unscoped():
        db.session.execute(
            update(Membership).where(Membership.id == person.membership_id).values(active=False)
        )
        db.session.commit()
    assert refused(client.get("/"))
    with unscoped():
        db.session.execute(
            update(Membership).where(Membership.id == person.membership_id).values(active=True)
        )
        db.session.commit()
    assert refused(with_cookie(app, copied).get("/"))
