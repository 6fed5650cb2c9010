"""Failed sign-ins are limited per address and account, per account and per address, and a
browser the account signed in from before is never locked out by someone else's failures."""

from __future__ import annotations

from accounts.sign_in_limits import ACCOUNT_LIMIT, ADDRESS_LIMIT
from tests.factories import PASSWORD

ACCOUNT_FAILURES = int(ACCOUNT_LIMIT.split()[0])
ADDRESS_FAILURES = int(ADDRESS_LIMIT.split()[0])


def attempt(client, address, email, guess="not the password"):
    return client.post(
        "/sign-in",
        data={"email": email, "password": guess},
        environ_base={"REMOTE_ADDR": address},
    )


def test_five_failures_on_one_account_from_one_address_refuse_that_pair(app, tenant_a):
    email = tenant_a.people["admin"].email
    client = app.test_client()
    statuses = [attempt(client, "198.51.100.7", email).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert attempt(client, "198.51.100.7", email, PASSWORD).status_code == 429


def test_failures_from_an_address_do_not_lock_out_other_people_behind_it(app, tenant_a):
    office = "198.51.100.8"
    for _ in range(6):
        attempt(app.test_client(), office, tenant_a.people["admin"].email)
    colleague = app.test_client()
    assert attempt(colleague, office, tenant_a.people["buyer"].email, PASSWORD).status_code == 302


def test_a_slow_attack_on_one_account_from_many_addresses_is_refused(app, tenant_a):
    email = tenant_a.people["finance"].email
    for n in range(ACCOUNT_FAILURES):
        assert attempt(app.test_client(), f"203.0.113.{n}", email).status_code == 200
    assert attempt(app.test_client(), "203.0.113.200", email).status_code == 429
    assert attempt(app.test_client(), "203.0.113.201", email, PASSWORD).status_code == 429
    # Nobody else is touched: another account from one of those addresses signs in.
    other = tenant_a.people["csm"].email
    assert attempt(app.test_client(), "203.0.113.1", other, PASSWORD).status_code == 302


def test_the_owners_usual_browser_still_signs_in_during_an_attack_on_the_account(app, tenant_a):
    email = tenant_a.people["finance"].email
    laptop = app.test_client()
    assert attempt(laptop, "192.0.2.10", email, PASSWORD).status_code == 302
    laptop.post("/sign-out")
    for n in range(ACCOUNT_FAILURES + 1):
        attempt(app.test_client(), f"203.0.113.{n}", email)
    assert attempt(app.test_client(), "192.0.2.10", email, PASSWORD).status_code == 429
    assert attempt(laptop, "192.0.2.99", email, PASSWORD).status_code == 302


def test_one_address_trying_many_accounts_is_refused_but_known_browsers_behind_it_are_not(
    app, tenant_a
):
    shared = "198.51.100.9"
    buyer = tenant_a.people["buyer"].email
    regular = app.test_client()
    assert attempt(regular, shared, buyer, PASSWORD).status_code == 302
    regular.post("/sign-out")
    sprayer = app.test_client()
    for n in range(ADDRESS_FAILURES):
        assert attempt(sprayer, shared, f"person{n}@spray.example").status_code == 200
    assert attempt(sprayer, shared, "one-more@spray.example").status_code == 429
    newcomer = tenant_a.people["viewer"].email
    assert attempt(app.test_client(), shared, newcomer, PASSWORD).status_code == 429
    assert attempt(regular, shared, buyer, PASSWORD).status_code == 302


def test_a_forged_known_browser_cookie_changes_nothing(app, tenant_a):
    email = tenant_a.people["approver"].email
    client = app.test_client()
    client.set_cookie("known_browser", "forged.value.here", domain="desk.test", path="/sign-in")
    statuses = [attempt(client, "198.51.100.10", email).status_code for _ in range(6)]
    assert statuses[-1] == 429


def test_the_known_browser_cookie_is_sent_to_the_sign_in_page_only(app, tenant_a):
    response = attempt(app.test_client(), "192.0.2.11", tenant_a.people["buyer"].email, PASSWORD)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("known_browser=")]
    assert "Path=/sign-in" in cookie
    assert "HttpOnly" in cookie
    assert tenant_a.people["buyer"].email not in cookie
