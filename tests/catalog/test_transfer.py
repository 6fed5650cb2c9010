"""Import and export of servlets as CSV and JSON: round trips, per-row errors, all or nothing."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from catalog.content import ServletContent
from catalog.models import Servlet, ServletVersion, VersionState
from core.extensions import db
from core.money import Money
from core.permissions import Role
from tests.catalog import factories
from tests.conftest import sign_in


def contents_of(vendor_id: int) -> dict[str, ServletContent]:
    rows = db.session.execute(
        select(Servlet.slug, ServletVersion)
        .join(ServletVersion, ServletVersion.servlet_id == Servlet.id)
        .where(Servlet.vendor_id == vendor_id)
    )
    return {slug: ServletContent.of(version) for slug, version in rows}


def upload(client, body: bytes, name: str, publish: bool = False):
    data = {"file": (io.BytesIO(body), name)}
    if publish:
        data["publish"] = "y"
    return client.post("/admin/servlets/import", data=data, content_type="multipart/form-data")


def servlet_count(vendor_id: int) -> int:
    return db.session.scalar(select(func.count(Servlet.id)).where(Servlet.vendor_id == vendor_id))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_into_another_vendor_reproduces_every_field(
    client, tenant_a, tenant_b, unscoped, fmt
):
    with unscoped():
        factories.servlet(
            tenant_a,
            title='Onboarding, "quoted" & ünïcödé',
            description="Line one\n\n* bullet, with comma\n* second",
            deliverables=[
                {"title": "Kick-off", "description": "With sponsor"},
                {"title": "Workshop", "description": ""},
            ],
            intake_questions=[
                {"label": "Team size", "type": "number", "required": True, "choices": []},
                {
                    "label": "Format",
                    "type": "choice",
                    "required": False,
                    "choices": ["Remote", "On-site"],
                },
            ],
            price=Money(123_450, "USD"),
        )
        factories.servlet(tenant_a, title="Second", publish=False)
        original = contents_of(tenant_a.vendor_id)
    sign_in(client, tenant_a.people[Role.ADMIN])
    exported = client.get(f"/admin/servlets/export.{fmt}")
    assert exported.status_code == 200
    sign_in(client, tenant_b.people[Role.ADMIN])
    response = upload(client, exported.data, f"servlets.{fmt}", publish=True)
    assert response.status_code == 302, response.data.decode()[-2000:]
    with unscoped():
        assert contents_of(tenant_b.vendor_id) == original
        states = set(
            db.session.scalars(
                select(ServletVersion.state).where(ServletVersion.vendor_id == tenant_b.vendor_id)
            )
        )
    assert states == {VersionState.PUBLISHED}


def test_importing_a_known_slug_saves_a_new_draft_of_that_servlet(client, tenant_a, unscoped):
    with unscoped():
        servlet_id = factories.servlet(tenant_a, title="SSO Deployment")
    sign_in(client, tenant_a.people[Role.ADMIN])
    exported = json.loads(client.get("/admin/servlets/export.json").data)
    exported["servlets"][0]["title"] = "SSO Deployment (Okta)"
    response = upload(client, json.dumps(exported).encode(), "servlets.json")
    assert response.status_code == 302
    with unscoped():
        versions = db.session.scalars(
            select(ServletVersion)
            .where(ServletVersion.servlet_id == servlet_id)
            .order_by(ServletVersion.number)
        ).all()
        assert [(v.title, v.state) for v in versions] == [
            ("SSO Deployment", VersionState.PUBLISHED),
            ("SSO Deployment (Okta)", VersionState.DRAFT),
        ]


def csv_file(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


GOOD_ROW = {
    "title": "Health Check",
    "kind": "health_check",
    "stage": "adoption",
    "outcome": "A scored review.",
    "deliverables": "Report | Scored\nRead-out",
    "delivery_mode": "remote",
    "duration_days": "5",
    "effort_hours": "20",
    "price": "5000",
    "currency": "USD",
    "billing_policy": "prepaid",
}


def test_bad_rows_are_reported_each_and_nothing_is_imported(client, tenant_a, unscoped):
    rows = [
        GOOD_ROW,
        {**GOOD_ROW, "price": "12.345"},
        {**GOOD_ROW, "kind": "magic", "duration_days": "-4"},
        {**GOOD_ROW, "price": "-100"},
        {**GOOD_ROW, "title": "", "deliverables": ""},
        {**GOOD_ROW, "effort_hours": "lots", "currency": "XXX1"},
    ]
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = upload(client, csv_file(rows), "servlets.csv")
    page = response.data.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in page
    assert "Row 2" not in page
    for row, fragment in [
        (3, "at most 2 decimals"),
        (4, "“magic” is not one of"),
        (5, "cannot be negative"),
        (6, "Title: enter a title"),
        (7, "“lots” is not a whole number"),
    ]:
        assert f"Row {row}:" in page
        assert fragment in page
    with unscoped():
        assert servlet_count(tenant_a.vendor_id) == 0


@pytest.mark.parametrize(
    ("body", "name", "message"),
    [
        (b"title;price\nA;1", "x.csv", "Missing columns"),
        (csv_file([{**GOOD_ROW, "colour": "red"}]), "x.csv", "Unknown columns: colour"),
        (
            csv_file([{**GOOD_ROW, "title": "Café Überprüfung"}]).decode().encode("latin-1"),
            "x.csv",
            "not UTF-8",
        ),
        (b"\xff\xfe\x00\x00garbage", "x.csv", "not UTF-8"),
        (b'{"servlets": [1, 2]', "x.json", "not valid JSON"),
        (b'{"servlets": "no"}', "x.json", "Expected a list"),
        (b"[]", "x.json", "no servlets"),
        (b"", "x.csv", "no servlets"),
        (csv_file([{**GOOD_ROW, "title": "Health\x00Check"}]), "x.csv", "NUL character"),
        (json.dumps([{**GOOD_ROW, "title": "Health\x00Check"}]).encode(), "x.json", "NUL"),
        (json.dumps([{**GOOD_ROW, "a\x00": "1"}]).encode(), "x.json", "NUL character"),
        (b"[" * 100_000 + b"]" * 100_000, "x.json", "nested more than 10 levels"),
        (b'{"servlets": [' + b"[" * 20 + b"]" * 20 + b"]}", "x.json", "nested more than"),
        (b'[{"duration_days": ' + b"9" * 5000 + b"}]", "x.json", "number too long"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(
    client, tenant_a, unscoped, body, name, message
):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = upload(client, body, name)
    assert response.status_code == 200
    assert message in response.data.decode()
    with unscoped():
        assert servlet_count(tenant_a.vendor_id) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "1e999999", "“1e999999” is not an amount"),
        ("price", "9" * 5000, "is not an amount"),
        ("price", "1" + "0" * 15, "too large an amount"),
        ("csat_target", "1e-1000020", "is not a plain number"),
        ("duration_days", "9" * 5000, "is not a whole number"),
        ("effort_hours", "1_000", "is not a whole number"),
    ],
)
def test_numbers_in_a_file_are_read_plainly_and_bounded(
    client, tenant_a, unscoped, field, value, message
):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = upload(client, csv_file([{**GOOD_ROW, field: value}]), "x.csv")
    assert response.status_code == 200
    assert message in response.data.decode()
    with unscoped():
        assert servlet_count(tenant_a.vendor_id) == 0


def test_the_csv_export_neutralises_formulas_and_reads_back_the_same(
    client, tenant_a, tenant_b, unscoped
):
    with unscoped():
        factories.servlet(
            tenant_a,
            title='=HYPERLINK("http://evil.example")',
            outcome="+cmd|' /C calc'!A0",
            summary="-2+3",
            description="@SUM(A1:A2)",
            prerequisites=["=1+1", "Admin account"],
        )
        original = contents_of(tenant_a.vendor_id)
    sign_in(client, tenant_a.people[Role.ADMIN])
    exported = client.get("/admin/servlets/export.csv")
    row = next(csv.DictReader(io.StringIO(exported.data.decode())))
    assert row["title"] == '\'=HYPERLINK("http://evil.example")'
    assert row["outcome"] == "'+cmd|' /C calc'!A0"
    assert row["summary"] == "'-2+3"
    assert row["description"] == "'@SUM(A1:A2)"
    assert row["prerequisites"] == "'=1+1\nAdmin account"
    sign_in(client, tenant_b.people[Role.ADMIN])
    assert upload(client, exported.data, "servlets.csv").status_code == 302
    with unscoped():
        assert contents_of(tenant_b.vendor_id) == original


def test_only_admins_export_or_import(client, tenant_a):
    for role in (Role.CSM, Role.BUYER, Role.FINANCE):
        sign_in(client, tenant_a.people[role])
        assert client.get("/admin/servlets/export.csv").status_code in (403, 404)
        assert upload(client, csv_file([GOOD_ROW]), "x.csv").status_code == 403
