"""Usage signals through the API: 10,000 rows in one request and one upsert, every row checked
by the CSV's rules with a pointer per problem and nothing stored when one is wrong, a row key
sent again updated and never duplicated, and only the vendor's admins and CSMs (with a write
scope) sending them, for the accounts they reach."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.db import utcnow
from core.extensions import db
from core.permissions import Role
from success.models import SuccessSettings
from success.signal_models import SignalImport, SignalSource, UsageSignal
from tests.api import factories

URL = "/api/v1/signals"
KEYS = ("active_users", "licences_used", "tickets_open", "escalations", "nps")
WRITE = ("write:success",)


def _day(days_ago: int) -> str:
    return (utcnow().date() - timedelta(days=days_ago)).isoformat()


def _stored() -> list[tuple[int, str, float]]:
    from success.signal_models import SignalType

    return [
        tuple(row)
        for row in db.session.execute(
            select(UsageSignal.customer_id, SignalType.key, UsageSignal.value)
            .join(SignalType, SignalType.id == UsageSignal.signal_type_id)
            .order_by(UsageSignal.customer_id, SignalType.key, UsageSignal.day)
        )
    ]


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_ten_thousand_rows_go_in_one_request_and_again_as_updates(
    client, tenant_a, unscoped, count_queries
):
    with unscoped():
        csm = factories.personal(tenant_a.people[Role.CSM], WRITE)
    rows = [
        {"account": customer, "signal": key, "date": _day(days), "value": days % 9}
        for customer in (tenant_a.customer_id, tenant_a.neighbour_id)
        for key in KEYS
        for days in range(1_000)
    ]
    assert len(rows) == 10_000
    began = time.perf_counter()
    with count_queries() as statements:
        first = client.post(URL, json={"rows": rows}, headers=csm.headers)
    elapsed = time.perf_counter() - began
    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    assert first.json["rows"] == 10_000
    assert (first.json["new"], first.json["updated"]) == (10_000, 0)
    inserts = [s for s in statements if "INSERT INTO usage_signal" in s]
    assert len(inserts) == 1  # one executemany statement for every row
    assert elapsed < 15

    for row in rows[:10]:
        row["value"] = 7.5
    again = client.post(URL, json={"rows": rows}, headers=csm.headers)
    assert (again.json["new"], again.json["updated"]) == (0, 10_000)
    with unscoped():
        assert _count(UsageSignal) == 10_000
        assert [value for _, _, value in _stored()].count(7.5) == 10
        batches = db.session.scalars(select(SignalImport).order_by(SignalImport.id)).all()
        assert [b.source for b in batches] == [SignalSource.API, SignalSource.API]
        assert batches[0].imported_by_id == tenant_a.people[Role.CSM].user_id
        audited = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "success.signals_imported")
            .order_by(AuditEvent.id)
        ).all()
        assert [event.changes["api_token_id"] for event in audited] == [csm.id, csm.id]


def test_one_wrong_row_refuses_the_request_with_a_pointer_per_problem(client, tenant_a, unscoped):
    with unscoped():
        admin = factories.personal(tenant_a.people[Role.ADMIN], WRITE)
    good = {"account": tenant_a.customer_id, "signal": "active_users", "date": _day(1), "value": 3}
    rows = [
        good,
        {**good, "signal": "page_views"},
        {**good, "date": _day(-1)},
        {**good, "date": _day(6 * 366)},
        {**good, "date": "30/11/2026"},
        {**good, "value": -2},
        {**good, "value": 2e9},
        {**good, "signal": "nps", "value": 11},
        {**good, "account": 999_999},
        {**good, "account": tenant_a.vendor_id, "value": -1},
        good,
        {**good, "date": _day(2), "value": 4.25},
    ]
    answer = client.post(URL, json={"rows": rows}, headers=admin.headers)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert answer.json["detail"].startswith("10 of 12 rows are wrong")
    pointers = [error["pointer"] for error in answer.json["errors"]]
    assert pointers == [
        "#/rows/1/signal",
        "#/rows/2/date",
        "#/rows/3/date",
        "#/rows/4/date",
        "#/rows/5/value",
        "#/rows/6/value",
        "#/rows/7/value",
        "#/rows/8/account",
        "#/rows/9/account",
        "#/rows/9/value",
        "#/rows/10",
    ]
    details = {error["pointer"]: error["detail"] for error in answer.json["errors"]}
    assert "in the future" in details["#/rows/2/date"]
    assert "#/rows/0" in details["#/rows/10"]
    with unscoped():
        assert _count(UsageSignal) == 0
        assert _count(SignalImport) == 0


def test_wrong_types_and_too_many_rows_are_refused_before_any_row_is_checked(
    client, tenant_a, unscoped
):
    with unscoped():
        admin = factories.personal(tenant_a.people[Role.ADMIN], WRITE)
    good = {"account": tenant_a.customer_id, "signal": "active_users", "date": _day(1), "value": 3}
    for body, pointer in (
        ({"rows": [{**good, "value": "42"}]}, "#/rows/0/value"),
        ({"rows": [{**good, "value": True}]}, "#/rows/0/value"),
        ({"rows": [{**good, "account": "Blue"}]}, "#/rows/0/account"),
        ({"rows": [{**good, "colour": "red"}]}, "#/rows/0/colour"),
        ({"rows": []}, "#/rows"),
        ({"rows": [good] * 10_001}, "#/rows"),
        ({}, "#/rows"),
    ):
        answer = client.post(URL, json=body, headers=admin.headers)
        assert answer.status_code == 422, body if len(str(body)) < 300 else pointer
        assert [e["pointer"] for e in answer.json["errors"]] == [pointer]
    too_many = client.post(URL, json={"rows": [good] * 10_001}, headers=admin.headers)
    assert "at most 10,000 per request" in too_many.json["errors"][0]["detail"]
    huge = {"rows": [{**good, "signal": "x" * 500}] * 9_000}
    assert client.post(URL, json=huge, headers=admin.headers).status_code == 413
    with unscoped():
        assert _count(UsageSignal) == 0


def test_another_vendors_or_another_csms_account_is_an_unknown_row(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        customer = db.session.get(Organization, tenant_a.customer_id)
        customer.csm_id = tenant_a.people[Role.CSM].membership_id
        db.session.add(
            SuccessSettings(vendor_id=tenant_a.vendor_id, csms_see_own_accounts_only=True)
        )
        db.session.commit()
        csm = factories.personal(tenant_a.people[Role.CSM], WRITE)
        admin = factories.personal(tenant_a.people[Role.ADMIN], WRITE)
    row = {"signal": "active_users", "date": _day(1), "value": 3}
    for token, account in (
        (admin, tenant_b.customer_id),
        (csm, tenant_b.customer_id),
        (csm, tenant_a.neighbour_id),
    ):
        answer = client.post(
            URL, json={"rows": [{**row, "account": account}]}, headers=token.headers
        )
        assert answer.status_code == 422
        assert answer.json["errors"][0]["pointer"] == "#/rows/0/account"
        assert "unknown account" in answer.json["errors"][0]["detail"]
    mine = client.post(
        URL, json={"rows": [{**row, "account": tenant_a.customer_id}]}, headers=csm.headers
    )
    assert mine.status_code == 200
    with unscoped():
        assert [customer_id for customer_id, _, _ in _stored()] == [tenant_a.customer_id]


@pytest.mark.parametrize(
    "role",
    [
        Role.DELIVERY_MANAGER,
        Role.CONSULTANT,
        Role.FINANCE,
        Role.BUYER,
        Role.VIEWER,
        Role.PARTNER_MANAGER,
        Role.PARTNER_CONSULTANT,
    ],
)
def test_only_admins_and_csms_send_signals(client, tenant_a, unscoped, role):
    with unscoped():
        token = factories.personal(tenant_a.people[role], WRITE)
    row = {"account": tenant_a.customer_id, "signal": "nps", "date": _day(1), "value": 9}
    answer = client.post(URL, json={"rows": [row]}, headers=token.headers)
    assert answer.status_code == 403
    with unscoped():
        assert _count(UsageSignal) == 0


def test_sending_needs_the_write_success_scope_and_a_repeat_key_answers_once(
    client, tenant_a, unscoped
):
    with unscoped():
        reader = factories.personal(tenant_a.people[Role.ADMIN], ["read:success"])
        other = factories.personal(tenant_a.people[Role.ADMIN], ["write:catalog"])
        service = factories.service(tenant_a.people[Role.ADMIN], Role.CSM, WRITE)
    body = {
        "rows": [{"account": tenant_a.customer_id, "signal": "nps", "date": _day(1), "value": 9}]
    }
    for token in (reader, other):
        refused = client.post(URL, json=body, headers=token.headers)
        assert refused.status_code == 403
        assert "write:success" in refused.json["detail"]
    keyed = {**service.headers, "Idempotency-Key": "nightly-2026-12-01"}
    first = client.post(URL, json=body, headers=keyed)
    repeat = client.post(URL, json=body, headers=keyed)
    assert first.status_code == repeat.status_code == 200
    assert repeat.json == first.json
    assert repeat.headers["Idempotent-Replayed"] == "true"
    body["rows"][0]["value"] = 8
    assert client.post(URL, json=body, headers=keyed).status_code == 422
    with unscoped():
        assert _count(SignalImport) == 1
