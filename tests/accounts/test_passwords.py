import itsdangerous
import pytest

from accounts import tokens
from tests.accounts.helpers import audit_actions, emails_to, link_path
from tests.factories import PASSWORD

NEW_PASSWORD = "a much better password"


def ask_for_reset(client, email):
    return client.post("/password/forgot", data={"email": email}, follow_redirects=True)


def test_reset_link_sets_a_new_password_that_signs_in(client, tenant_a, unscoped):
    person = tenant_a.people["approver"]
    response = ask_for_reset(client, person.email)
    assert b"a reset link is on its way" in response.data
    [email] = emails_to(unscoped, person.email)
    path = link_path(email.body)
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    signed_in = client.post("/sign-in", data={"email": person.email, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert "user.password_reset" in audit_actions(unscoped)


def test_a_reset_link_works_only_once(client, tenant_a, unscoped):
    person = tenant_a.people["buyer"]
    ask_for_reset(client, person.email)
    path = link_path(emails_to(unscoped, person.email)[0].body)
    client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    reused = client.post(
        path, data={"password": "attacker password 1", "confirm": "attacker password 1"}
    )
    assert reused.status_code == 400
    assert b"expired or was already used" in reused.data
    assert (
        client.post("/sign-in", data={"email": person.email, "password": NEW_PASSWORD}).status_code
        == 302
    )


def test_an_expired_reset_link_is_refused(client, app, tenant_a, unscoped, monkeypatch):
    person = tenant_a.people["buyer"]
    ask_for_reset(client, person.email)
    path = link_path(emails_to(unscoped, person.email)[0].body)
    hours = app.config["TOKEN_MAX_AGE_HOURS"]
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + hours * 3600 + 5)
    response = client.get(path)
    assert response.status_code == 400
    assert b"expired or was already used" in response.data


def test_a_tampered_token_is_refused(client):
    assert client.get("/password/reset/not-a-token").status_code == 400
    assert (
        client.post("/password/reset/abc.def.ghi", data={"password": NEW_PASSWORD}).status_code
        == 400
    )


def test_an_invitation_token_does_not_reset_a_password(client, app, tenant_a, unscoped):
    from accounts.models import User
    from core.extensions import db

    with unscoped():
        user = db.session.get(User, tenant_a.people["viewer"].user_id)
        with app.test_request_context():
            token = tokens.make_token(user, tokens.Purpose.INVITE)
    assert client.get(f"/password/reset/{token}").status_code == 400


def test_asking_for_an_unknown_address_says_the_same_and_sends_nothing(client, unscoped):
    response = ask_for_reset(client, "stranger@nowhere.example")
    assert b"a reset link is on its way" in response.data
    assert emails_to(unscoped, "stranger@nowhere.example") == []


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", b"Use between 10 and 128 characters."),
        ("x" * 200, "x" * 200, b"Use between 10 and 128 characters."),
        ("long enough one", "different one!!", b"The passwords differ."),
    ],
)
def test_a_weak_or_mistyped_new_password_is_explained(
    client, tenant_a, unscoped, password, confirm, message
):
    person = tenant_a.people["buyer"]
    ask_for_reset(client, person.email)
    path = link_path(emails_to(unscoped, person.email)[0].body)
    response = client.post(path, data={"password": password, "confirm": confirm})
    assert response.status_code == 200
    assert message in response.data
    assert (
        client.post("/sign-in", data={"email": person.email, "password": PASSWORD}).status_code
        == 302
    )
