import pytest
from sqlalchemy import select

from accounts.models import Membership, User
from core.extensions import db
from tests.accounts.helpers import audit_actions
from tests.conftest import sign_in
from tests.factories import PASSWORD


def post_sign_in(client, email, password):
    return client.post("/sign-in", data={"email": email, "password": password})


def test_right_password_signs_in_and_shows_the_role_home(client, tenant_a):
    buyer = tenant_a.people["buyer"]
    response = post_sign_in(client, buyer.email, PASSWORD)
    assert response.status_code == 302
    home = client.get("/")
    assert b'data-testid="home-buyer"' in home.data
    assert b"Acme Software Customer" in home.data


def test_wrong_password_and_unknown_email_get_the_same_generic_message(client, tenant_a):
    wrong_password = post_sign_in(client, tenant_a.people["admin"].email, "not the password")
    unknown_email = post_sign_in(client, "nobody@nowhere.test", "not the password")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert b"Wrong email or password." in response.data
    assert b"Sign in" in unknown_email.data


def test_failed_sign_ins_are_audited(client, tenant_a, unscoped):
    post_sign_in(client, tenant_a.people["admin"].email, "nope")
    assert audit_actions(unscoped)[-1] == "user.sign_in_failed"


def test_the_sixth_failed_sign_in_within_a_minute_is_refused_with_429(client, tenant_a):
    email = tenant_a.people["admin"].email
    statuses = [post_sign_in(client, email, f"wrong-{n}").status_code for n in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert post_sign_in(client, email, PASSWORD).status_code == 429


def test_successful_sign_ins_do_not_count_against_the_limit(client, tenant_a):
    person = tenant_a.people["admin"]
    for _ in range(7):
        assert post_sign_in(client, person.email, PASSWORD).status_code == 302
        client.post("/sign-out")


def test_signing_in_starts_a_fresh_session(client, tenant_a):
    client.get("/sign-in")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    post_sign_in(client, tenant_a.people["admin"].email, PASSWORD)
    with client.session_transaction() as session:
        after = dict(session)
    assert "planted" not in after
    assert "_user_id" in after


def test_session_cookie_is_httponly_and_samesite_lax(client, tenant_a):
    response = post_sign_in(client, tenant_a.people["admin"].email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize("app_config", [{"SESSION_COOKIE_SECURE": True}])
def test_session_cookie_is_secure_outside_debug(client, tenant_a):
    response = post_sign_in(client, tenant_a.people["admin"].email, PASSWORD)
    assert "Secure" in response.headers["Set-Cookie"]


def test_next_parameter_cannot_send_users_to_another_site(client, tenant_a):
    response = client.post(
        "/sign-in?next=//evil.example/phish",
        data={"email": tenant_a.people["admin"].email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_a_deactivated_users_existing_session_is_signed_out(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people["csm"])
    assert client.get("/").status_code == 200
    with unscoped():
        db.session.get(User, tenant_a.people["csm"].user_id).active = False
        db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_removing_a_membership_signs_its_session_out(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people["finance"])
    with unscoped():
        db.session.get(Membership, tenant_a.people["finance"].membership_id).active = False
        db.session.commit()
    response = client.get("/", follow_redirects=True)
    assert b"Your access has been removed" in response.data
    assert client.get("/").status_code == 302


def test_changing_the_password_ends_other_sessions(client, app, tenant_a, unscoped):
    sign_in(client, tenant_a.people["buyer"])
    with unscoped():
        user = db.session.scalar(select(User).where(User.id == tenant_a.people["buyer"].user_id))
        user.set_password("a brand new password")
        db.session.commit()
    assert client.get("/").status_code == 302


def test_signing_out_needs_a_post(client, tenant_a):
    sign_in(client, tenant_a.people["buyer"])
    assert client.get("/sign-out").status_code == 405
    assert client.post("/sign-out").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "email",
    ["ü" * 5000 + "@example.com", "not-an-email", "", "a@b" + "c" * 300 + ".com", "😀@😀.😀"],
)
def test_odd_sign_in_input_gets_a_message_not_an_error(client, email):
    response = post_sign_in(client, email, "x" * 10_000)
    assert response.status_code == 200
    assert b"invalid-feedback" in response.data or b"Wrong email or password." in response.data
