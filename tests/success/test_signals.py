"""Usage signals: the CSV upload (every bad row reported, nothing imported, upserts), signal
types, the import history, who may do what, the account page's section and its query count,
and the demo shapes."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select

from accounts.models import Organization
from core.audit import AuditEvent
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Role
from core.tenancy import tenant_scope
from success import accounts, events, signal_csv, signal_demo, signal_types, signals
from success.models import SuccessSettings
from success.signal_models import SignalImport, SignalSource, SignalType, UsageSignal
from tests.catalog.factories import actor
from tests.conftest import sign_in
from tests.success.factories import NOT_ACCOUNT_READERS

TODAY = utcnow().date()
DAY = (TODAY - timedelta(days=10)).isoformat()
HEADER = "account,signal,date,value\n"


def upload(client, body: str | bytes, filename: str = "signals.csv"):
    raw = body.encode() if isinstance(body, str) else body
    return client.post(
        "/signals",
        data={"file": (io.BytesIO(raw), filename)},
        content_type="multipart/form-data",
    )


def stored(unscoped) -> list[tuple[int, str, date, float]]:
    with unscoped():
        return [
            tuple(row)
            for row in db.session.execute(
                select(UsageSignal.customer_id, SignalType.key, UsageSignal.day, UsageSignal.value)
                .join(SignalType, SignalType.id == UsageSignal.signal_type_id)
                .order_by(UsageSignal.customer_id, SignalType.key, UsageSignal.day)
            )
        ]


def imports(unscoped) -> int:
    with unscoped():
        return db.session.scalar(select(func.count()).select_from(SignalImport))


def customer_name(unscoped, customer_id: int) -> str:
    with unscoped():
        return db.session.get(Organization, customer_id).name


def row_errors(page: str) -> str:
    """The errors table as one string: "<row> <problem>" per line."""
    start = page.index('data-testid="upload-errors"')
    return page[start:]


# --- a good file -----------------------------------------------------------------------------


def test_a_good_file_imports_every_row_by_number_or_name(client, tenant_a, unscoped):
    name = customer_name(unscoped, tenant_a.customer_id)
    sign_in(client, tenant_a.people[Role.CSM])
    body = (
        "Account, Signal ,DATE,value\n"  # header names in any case and spacing
        f"{tenant_a.customer_id},active_users,{DAY},120\n"
        f"{name.upper()},licences_used,{DAY},130.5\n"
        "\n"  # blank rows are skipped
        f"{tenant_a.neighbour_id},nps,{DAY},9\n"
    )
    response = upload(client, body, "C:\\exports\\june.csv")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 signals: 3 new, 0 updated." in page
    assert "june.csv" in page
    assert stored(unscoped) == [
        (tenant_a.customer_id, "active_users", date.fromisoformat(DAY), 120.0),
        (tenant_a.customer_id, "licences_used", date.fromisoformat(DAY), 130.5),
        (tenant_a.neighbour_id, "nps", date.fromisoformat(DAY), 9.0),
    ]
    history = client.get("/signals/imports").get_data(as_text=True)
    assert history.count('data-testid="import-row"') == 1
    assert "june.csv" in history
    with unscoped():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "success.signals_imported")
        )
        assert event.changes["new"] == 3
        assert event.actor_id == tenant_a.people[Role.CSM].user_id


def test_a_double_submit_updates_and_never_duplicates(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    body = HEADER + f"{tenant_a.customer_id},active_users,{DAY},120\n"
    body += f"{tenant_a.customer_id},tickets_open,{DAY},3\n"
    assert upload(client, body).status_code == 302
    again = upload(client, body.replace(",120", ",125"))
    assert again.status_code == 302
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "2 signals: 0 new, 2 updated." in page
    rows = stored(unscoped)
    assert len(rows) == 2
    assert (tenant_a.customer_id, "active_users", date.fromisoformat(DAY), 125.0) in rows
    assert imports(unscoped) == 2  # each submit is on record; the figures are not doubled


def test_the_template_downloads_and_is_accepted_back(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.CSM])
    template = client.get("/signals/template.csv")
    assert template.status_code == 200
    assert template.mimetype == "text/csv"
    text = template.get_data(as_text=True)
    assert text.splitlines()[0] == "account,signal,date,value"
    own = text.replace("1042", str(tenant_a.customer_id)).replace("2025-01-31", DAY)
    assert upload(client, own).status_code == 302
    assert len(stored(unscoped)) == 1


# --- bad input -------------------------------------------------------------------------------


def test_every_bad_row_is_reported_with_its_row_and_nothing_is_imported(
    client, tenant_a, tenant_b, unscoped
):
    a = tenant_a.customer_id
    other_vendors = customer_name(unscoped, tenant_b.customer_id)
    future = (TODAY + timedelta(days=1)).isoformat()
    ancient = (TODAY - timedelta(days=6 * 366)).isoformat()
    lines = [
        f"{a},active_users,{DAY},10",  # 2: good
        f"Nobody Ltd,active_users,{DAY},10",  # 3
        f"{other_vendors},active_users,{DAY},10",  # 4: another vendor's customer
        f"{tenant_b.customer_id},active_users,{DAY},10",  # 5: another vendor's number
        f"{a},daily_logins,{DAY},10",  # 6
        f"{a},active_users,31/01/2025,10",  # 7
        f"{a},active_users,2025-02-30,10",  # 8
        f"{a},active_users,{future},10",  # 9
        f"{a},active_users,{ancient},10",  # 10
        f"{a},tickets_open,{DAY},-3",  # 11
        f"{a},tickets_open,{DAY},1e12",  # 12
        f"{a},escalations,{DAY},lots",  # 13
        f"{a},escalations,{(TODAY - timedelta(days=2)).isoformat()},NaN",  # 14
        f"{a},escalations,{(TODAY - timedelta(days=3)).isoformat()},inf",  # 15
        f"{a},active_users,{DAY},11",  # 16: the same as row 2
        f'=HYPERLINK("http://evil"),active_users,{DAY},1',  # 17
        f"{a},active_users,{(TODAY - timedelta(days=4)).isoformat()},=1+2",  # 18
        f"{a},@SUM(A1),{DAY},1",  # 19
        f"{a},licences_used,{DAY},10,extra",  # 20
        f"{a},nps,{DAY},11",  # 21
        f"{a},active_users,{(TODAY - timedelta(days=5)).isoformat()},1 000",  # 22
    ]
    sign_in(client, tenant_a.people[Role.CSM])
    response = upload(client, HEADER + "\n".join(lines) + "\n")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page
    assert "20 of 21 rows are wrong; nothing was imported." in page
    expected = {
        3: "unknown account “Nobody Ltd”",
        4: f"unknown account “{other_vendors}”",
        5: f"unknown account “{tenant_b.customer_id}”",
        6: "“daily_logins” is not a signal type",
        7: "“31/01/2025” is not a date as YYYY-MM-DD",
        8: "“2025-02-30” is not a date as YYYY-MM-DD",
        9: f"{future} is in the future",
        10: f"{ancient} is more than 5 years ago",
        11: "-3 is negative",
        12: "1e12 is too large",
        13: "“lots” is not a number",
        14: "NaN and infinity are refused",
        15: "NaN and infinity are refused",
        16: "Same account, signal and date as row 2",
        17: "Account: looks like a spreadsheet formula",
        18: "Value: looks like a spreadsheet formula",
        19: "Signal: looks like a spreadsheet formula",
        20: "5 cells; every row has 4",
        21: "11 is no NPS answer (0 to 10)",
        22: "“1 000” is not a number",
    }
    errors = row_errors(page)
    for row, reason in expected.items():
        cell = f'<td class="text-end tabular">{row}</td><td>'
        assert cell in errors, f"row {row} not reported"
        reported = errors.split(cell, 1)[1].split("</td>", 1)[0]
        assert reason.replace("“", "&#8220;").replace("”", "&#8221;") in reported or (
            reason in reported
        ), f"row {row}: {reported}"
    assert '<td class="text-end tabular">2</td>' not in errors
    assert stored(unscoped) == []
    assert imports(unscoped) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "The file is empty"),
        (b"  \r\n\r\n", "The file is empty"),
        (HEADER.encode(), "no rows below its header"),
        (b"1,active_users,2025-01-01,3\n", "names exactly the columns account,signal,date,value"),
        (b"account,signal,date,value,comment\n1,nps,2025-01-01,3,x\n", "unexpected “comment”"),
        (b"account,signal,date\n1,nps,2025-01-01\n", "missing value"),
        (b"account,signal,date,date\n", "missing value"),
        (b"account,signal,date,value,value\n", "a column is named twice"),
        ("account,signal,date,value\nCaf\u00e9,nps,2025-01-01,3\n".encode("latin-1"), "not UTF-8"),
        (b"account,signal,date,value\n\x00,nps,2025-01-01,3\n", "NUL"),
        (b'account,signal,date,value\n"unclosed' + b"x" * 200_000, "not a readable CSV"),
    ],
)
def test_a_bad_file_is_refused_as_a_whole(client, tenant_a, unscoped, body, message):
    sign_in(client, tenant_a.people[Role.CSM])
    response = upload(client, body)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page
    shown = message.replace("“", "&#8220;").replace("”", "&#8221;")
    assert message in page or shown in page
    assert imports(unscoped) == 0


def test_too_many_rows_and_too_large_files_are_refused(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.CSM])
    row = f"{tenant_a.customer_id},active_users,{DAY},1\n"
    many = upload(client, HEADER + row * (signal_csv.MAX_ROWS + 1))
    assert many.status_code == 422
    assert "The file has 100,001 rows; at most 100,000 per file: split it." in many.get_data(
        as_text=True
    )
    big = upload(client, HEADER.encode() + b"x" * signal_csv.MAX_FILE_BYTES)
    assert big.status_code == 422
    assert "The file is larger than 8 MB" in big.get_data(as_text=True)
    assert imports(unscoped) == 0


def test_a_long_list_of_errors_is_cut_at_200_and_says_how_many_more(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.CSM])
    page = upload(client, HEADER + "Nobody,active_users,2025-01-01,1\n" * 250)
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert text.count('data-testid="row-error"') == signals_view_cap()
    assert "and 50 more problems not shown." in text


def signals_view_cap() -> int:
    from success import signal_views

    return signal_views.ERRORS_SHOWN


def test_no_file_is_a_form_error(client, tenant_a):
    sign_in(client, tenant_a.people[Role.CSM])
    response = client.post("/signals", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose a CSV file to upload." in response.get_data(as_text=True)


def test_an_ambiguous_name_asks_for_the_account_number(client, tenant_a, unscoped):
    with unscoped():
        db.session.get(Organization, tenant_a.neighbour_id).name = customer_name(
            unscoped, tenant_a.customer_id
        ).lower()
        db.session.commit()
    name = customer_name(unscoped, tenant_a.customer_id)
    sign_in(client, tenant_a.people[Role.CSM])
    response = upload(client, HEADER + f"{name},active_users,{DAY},1\n")
    assert response.status_code == 422
    assert "2 customers are named" in response.get_data(as_text=True)


def test_a_csm_kept_to_own_accounts_uploads_for_those_only(client, tenant_a, unscoped):
    with unscoped():
        db.session.get(Organization, tenant_a.customer_id).csm_id = tenant_a.people[
            Role.CSM
        ].membership_id
        db.session.add(
            SuccessSettings(vendor_id=tenant_a.vendor_id, csms_see_own_accounts_only=True)
        )
        db.session.commit()
    sign_in(client, tenant_a.people[Role.CSM])
    refused = upload(client, HEADER + f"{tenant_a.neighbour_id},active_users,{DAY},1\n")
    assert refused.status_code == 422
    assert "unknown account" in refused.get_data(as_text=True)
    accepted = upload(client, HEADER + f"{tenant_a.customer_id},active_users,{DAY},1\n")
    assert accepted.status_code == 302


# --- the service ------------------------------------------------------------------------------


def test_store_signals_upserts_by_row_key_and_tells_the_area(tenant_a, unscoped):
    heard: list[tuple[int, set[int]]] = []

    def receiver(vendor_id, customer_ids):
        heard.append((vendor_id, customer_ids))

    events.signals_recorded.connect(receiver)
    try:
        with unscoped(), tenant_scope(tenant_a.vendor_id):
            days = [TODAY - timedelta(days=n) for n in (20, 10, 0)]
            rows = [signals.SignalRow(tenant_a.customer_id, "active_users", d, 5) for d in days]
            first = signals.store_signals(tenant_a.vendor_id, rows, SignalSource.API, None)
            db.session.commit()
            second = signals.store_signals(
                tenant_a.vendor_id, rows[1:], SignalSource.API, None, "again"
            )
            db.session.commit()
            assert (first.new_rows, first.updated_rows) == (3, 0)
            assert (second.new_rows, second.updated_rows) == (0, 2)
            found = signals.series(
                [tenant_a.customer_id, tenant_a.neighbour_id], "active_users", days[1]
            )
            assert found == {
                tenant_a.customer_id: [(days[1], 5.0), (days[2], 5.0)],
                tenant_a.neighbour_id: [],
            }
            assert len(signal_types.signal_types()) == 5  # built-ins made once
    finally:
        events.signals_recorded.disconnect(receiver)
    assert heard == [(tenant_a.vendor_id, {tenant_a.customer_id})] * 2


def test_a_job_across_tenants_stores_into_the_vendors_own_types(tenant_a, tenant_b, unscoped):
    with unscoped():
        with tenant_scope(tenant_b.vendor_id):
            signal_types.signal_types()  # tenant B's built-ins exist first
        row = signals.SignalRow(tenant_a.customer_id, "nps", TODAY, 7)
        signals.store_signals(tenant_a.vendor_id, [row], SignalSource.API, None)
        db.session.commit()
        owner = db.session.scalar(
            select(SignalType.vendor_id).join(
                UsageSignal, UsageSignal.signal_type_id == SignalType.id
            )
        )
    assert owner == tenant_a.vendor_id


def test_the_sidebar_offers_usage_signals_to_admins_and_csms_only(client, tenant_a):
    for role, shown in ((Role.ADMIN, True), (Role.CSM, True), (Role.FINANCE, False)):
        sign_in(client, tenant_a.people[role])
        page = client.get("/").get_data(as_text=True)
        assert ('href="/signals"' in page) is shown, role


def test_only_admins_and_csms_import_through_the_service(tenant_a, unscoped):
    with unscoped(), tenant_scope(tenant_a.vendor_id), pytest.raises(NotAllowed):
        signal_csv.import_signal_file(actor(tenant_a, Role.FINANCE), b"", "x.csv", TODAY)


# --- signal types ----------------------------------------------------------------------------


def test_an_admin_adds_a_type_that_a_file_may_then_use(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    page = client.get("/signals/types").get_data(as_text=True)
    assert page.count('data-testid="signal-type"') == 5
    assert 'data-testid="delete-type"' not in page  # built-ins cannot be deleted
    added = client.post("/signals/types", data={"key": "api_calls", "name": "API calls"})
    assert added.status_code == 302
    assert "API calls" in client.get("/signals/types").get_data(as_text=True)
    body = HEADER + f"{tenant_a.customer_id},api_calls,{DAY},15000\n"
    assert upload(client, body).status_code == 302
    assert stored(unscoped)[0][1:] == ("api_calls", date.fromisoformat(DAY), 15000.0)


@pytest.mark.parametrize(
    ("key", "name", "message"),
    [
        ("API calls", "API calls", "lower-case letters"),
        ("a", "A", "2 to 40"),
        ("x" * 41, "Long", "Key"),
        ("1st_call", "First", "starting with a letter"),
        ("double__underscore", "D", "single underscores"),
        ("active_users", "Users again", "already a signal type"),
        ("ok_key", "", "Give the name pages show."),
    ],
)
def test_a_bad_type_is_refused_with_a_reason(client, tenant_a, unscoped, key, name, message):
    sign_in(client, tenant_a.people[Role.ADMIN])
    response = client.post("/signals/types", data={"key": key, "name": name})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(SignalType)) <= 5


def test_a_type_is_deleted_only_when_unused_after_confirmation(client, tenant_a, unscoped):
    sign_in(client, tenant_a.people[Role.ADMIN])
    client.post("/signals/types", data={"key": "api_calls", "name": "API calls"})
    client.post("/signals/types", data={"key": "dashboards", "name": "Dashboards built"})
    with unscoped():
        ids = dict(db.session.execute(select(SignalType.key, SignalType.id)).all())
    upload(client, HEADER + f"{tenant_a.customer_id},dashboards,{DAY},4\n")
    confirm = client.get(f"/signals/types/{ids['api_calls']}/delete").get_data(as_text=True)
    assert "has no signals and nothing uses it" in confirm
    assert client.post(f"/signals/types/{ids['api_calls']}/delete").status_code == 302
    used = client.get(f"/signals/types/{ids['dashboards']}/delete").get_data(as_text=True)
    assert 'data-testid="type-in-use"' in used
    refused = client.post(f"/signals/types/{ids['dashboards']}/delete", follow_redirects=True)
    assert "is used by a playbook or the health model, so it stays." in refused.get_data(
        as_text=True
    )
    built_in = client.get(f"/signals/types/{ids['nps']}/delete").get_data(as_text=True)
    assert "Built-in signal types cannot be deleted." in built_in
    refused = client.post(f"/signals/types/{ids['nps']}/delete", follow_redirects=True)
    assert "Built-in signal types cannot be deleted." in refused.get_data(as_text=True)
    with unscoped():
        keys = set(db.session.scalars(select(SignalType.key)))
        assert "api_calls" not in keys
        assert {"dashboards", "nps"} <= keys
    with unscoped(), tenant_scope(tenant_a.vendor_id), pytest.raises(ServiceError):
        signal_types.add_signal_type(actor(tenant_a, Role.CSM), "x_y", "X")


def test_a_csm_reads_the_types_but_does_not_change_them(client, tenant_a, unscoped):
    with unscoped(), tenant_scope(tenant_a.vendor_id):
        signal_types.signal_types()
        db.session.commit()
        nps = db.session.scalar(select(SignalType.id).where(SignalType.key == "nps"))
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get("/signals/types").get_data(as_text=True)
    assert "Product NPS" in page
    assert 'data-testid="type-form"' not in page
    assert client.post("/signals/types", data={"key": "x_y", "name": "X"}).status_code == 403
    assert client.get(f"/signals/types/{nps}/delete").status_code == 403
    assert client.post(f"/signals/types/{nps}/delete").status_code == 403


# --- who may open what -----------------------------------------------------------------------


@pytest.mark.parametrize("role", NOT_ACCOUNT_READERS)
def test_nobody_else_opens_the_signal_pages(client, tenant_a, unscoped, role):
    batch = _one_import(tenant_a, unscoped)
    sign_in(client, tenant_a.people[role])
    for url in ("/signals", "/signals/imports", "/signals/types", "/signals/template.csv"):
        assert client.get(url).status_code == 403, url
    assert upload(client, HEADER + f"{tenant_a.customer_id},nps,{DAY},9\n").status_code == 403
    assert client.post("/signals/types", data={"key": "x_y", "name": "X"}).status_code == 403
    assert client.get(f"/signals/imports/{batch}").status_code == 404
    assert client.get(f"/signals/types/{batch}/delete").status_code == 404
    assert imports(unscoped) == 1


def _one_import(tenant, unscoped) -> int:
    with unscoped(), tenant_scope(tenant.vendor_id):
        row = signals.SignalRow(tenant.customer_id, "nps", TODAY, 9)
        made = signals.store_signals(tenant.vendor_id, [row], SignalSource.SURVEY, None)
        db.session.commit()
        return made.id


def test_the_history_pages_and_opens_each_import(client, tenant_a, unscoped):
    made = [_one_import(tenant_a, unscoped) for _ in range(27)]
    sign_in(client, tenant_a.people[Role.CSM])
    first = client.get("/signals/imports").get_data(as_text=True)
    assert first.count('data-testid="import-row"') == 25
    assert "27 imports" in first
    second = client.get("/signals/imports?page=2").get_data(as_text=True)
    assert second.count('data-testid="import-row"') == 2
    detail = client.get(f"/signals/imports/{made[0]}").get_data(as_text=True)
    assert "1 signals: 1 new, 0 updated." in detail or "1 signals: 0 new, 1 updated." in detail
    assert "Survey" in detail


# --- the account page ------------------------------------------------------------------------


def test_the_account_shows_latest_figures_change_and_trend(client, tenant_a, unscoped):
    with unscoped():
        accounts.update_account(
            actor(tenant_a),
            db.session.get(Organization, tenant_a.customer_id),
            accounts.AccountRecord("SMB", "low_touch", "adoption", None, "", 400),
        )
        with tenant_scope(tenant_a.vendor_id):
            rows = [
                signals.SignalRow(tenant_a.customer_id, key, TODAY - timedelta(days=d), v)
                for key, d, v in (
                    ("active_users", 40, 300),
                    ("active_users", 20, 280),
                    ("active_users", 0, 150),
                    ("licences_used", 0, 380),
                    ("escalations", 200, 2),  # older than the trend: latest only
                )
            ]
            signals.store_signals(tenant_a.vendor_id, rows, SignalSource.CSV, None)
            db.session.commit()
    sign_in(client, tenant_a.people[Role.CSM])
    page = client.get(f"/accounts/{tenant_a.customer_id}").get_data(as_text=True)
    section = page[page.index('data-testid="account-signals"') :]
    users = section[section.index('data-key="active_users"') :].split("</tr>")[0]
    assert "150" in users
    assert "-150 (-50 %)" in users  # against 300, forty days before the latest
    assert "<polyline" in users
    licences = section[section.index('data-key="licences_used"') :].split("</tr>")[0]
    assert "of 400 bought (95 %)" in licences
    escalations = section[section.index('data-key="escalations"') :].split("</tr>")[0]
    assert "too few figures" in escalations
    neighbour = client.get(f"/accounts/{tenant_a.neighbour_id}").get_data(as_text=True)
    assert 'data-testid="no-signals"' in neighbour
    assert "CSV upload" in neighbour


def test_the_account_page_costs_the_same_queries_with_10_and_10000_signals(
    client, tenant_a, tenant_b, unscoped, count_queries
):
    for tenant, count in ((tenant_a, 10), (tenant_b, 10_000)):
        with unscoped(), tenant_scope(tenant.vendor_id):
            type_ids = [t.id for t in signal_types.signal_types()]
            per_type = count // len(type_ids)
            db.session.execute(
                insert(UsageSignal),
                [
                    {
                        "vendor_id": tenant.vendor_id,
                        "customer_id": tenant.customer_id,
                        "signal_type_id": type_id,
                        "day": TODAY - timedelta(days=n),
                        "value": float(n % 97),
                    }
                    for type_id in type_ids
                    for n in range(per_type)
                ],
            )
            db.session.commit()
    costs = []
    for tenant in (tenant_a, tenant_b):
        sign_in(client, tenant.people[Role.ADMIN])
        client.get(f"/accounts/{tenant.customer_id}")  # warm
        with count_queries() as counted:
            page = client.get(f"/accounts/{tenant.customer_id}")
        assert page.status_code == 200
        assert page.get_data(as_text=True).count('data-testid="account-signal"') == 5
        costs.append(len(counted))
    assert costs[0] == costs[1]


# --- demo --------------------------------------------------------------------------------------


def test_the_demo_stores_a_year_with_one_account_in_distress_and_one_near_its_cap(
    tenant_a, unscoped
):
    customers = [tenant_a.customer_id, tenant_a.neighbour_id]
    with unscoped():
        signal_demo.demo(tenant_a.vendor_id, tenant_a.people[Role.CSM].user_id, customers, TODAY)
        db.session.commit()
        signal_demo.demo(tenant_a.vendor_id, tenant_a.people[Role.CSM].user_id, customers, TODAY)
        db.session.commit()
        with tenant_scope(tenant_a.vendor_id):
            users = signals.series(customers, "active_users", TODAY - timedelta(days=366))
            licences = signals.series(customers, "licences_used", TODAY - timedelta(days=40))
    distressed = users[tenant_a.customer_id]
    assert len(distressed) == signal_demo.WEEKS + 1
    assert distressed[0][0] <= TODAY - timedelta(days=360)
    month_ago = [v for d, v in distressed if d <= TODAY - timedelta(days=30)][-1]
    assert distressed[-1][1] < 0.6 * month_ago
    assert licences[tenant_a.neighbour_id][-1] == (TODAY, 380.0)
    assert len(stored(unscoped)) == 2 * (4 * 53 + 14)  # the second run added nothing
