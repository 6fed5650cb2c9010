"""Work on the engagement page: ticking tasks, progress updates (internal ones never reach
the customer), deliverable files checked by content and served only within reach."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.permissions import Role
from delivery import files
from delivery.models import DeliverableFile, EngagementState, EngagementUpdate, Task
from tests.conftest import sign_in
from tests.delivery import factories

E = EngagementState
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _upload(client, engagement_id, content: bytes, name: str):
    return client.post(
        f"/engagements/{engagement_id}/files",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _files() -> list[DeliverableFile]:
    return list(db.session.scalars(select(DeliverableFile).order_by(DeliverableFile.id)))


def test_those_who_work_on_it_tick_tasks_and_the_bar_moves(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
        task_id = db.session.scalar(select(Task.id).where(Task.engagement_id == engagement_id))
    url = f"/engagements/{engagement_id}/tasks"
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert client.post(url, data={"task": task_id, "done": "1"}).status_code == 302
    assert b"1 of 1 tasks" in client.get(f"/engagements/{engagement_id}").data
    again = client.post(url, data={"task": task_id, "done": "1"})
    assert again.status_code == 400
    assert b"already done" in again.data
    for role in (Role.BUYER, Role.ADMIN, Role.PARTNER_CONSULTANT):
        sign_in(client, tenant_a.people[role])
        assert client.post(url, data={"task": task_id, "done": "0"}).status_code == 404
    sign_in(client, tenant_a.people[Role.DELIVERY_MANAGER])
    assert client.post(url, data={"task": task_id, "done": "0"}).status_code == 302
    with unscoped():
        assert db.session.get(Task, task_id).done_at is None
        factories.put_in_state(engagement_id, E.DELIVERED)
    frozen = client.post(url, data={"task": task_id, "done": "1"})
    assert frozen.status_code == 400
    assert b"only while it is scheduled or in progress" in frozen.data


def test_a_customer_never_sees_an_internal_update(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    url = f"/engagements/{engagement_id}/updates"
    for body, visibility in [("Kick-off held", "customer"), ("Their admin is slow", "internal")]:
        assert client.post(url, data={"body": body, "visibility": visibility}).status_code == 302
    for role in (Role.DELIVERY_MANAGER, Role.CSM, Role.CONSULTANT):
        sign_in(client, tenant_a.people[role])
        page = client.get(f"/engagements/{engagement_id}").data
        assert b"Their admin is slow" in page, role
        assert b"Kick-off held" in page
    for role in (Role.BUYER, Role.APPROVER, Role.VIEWER):
        sign_in(client, tenant_a.people[role])
        page = client.get(f"/engagements/{engagement_id}").data
        assert b"Kick-off held" in page, role
        assert b"Their admin is slow" not in page, role
        assert b'data-testid="time"' not in page  # nor time, nor its cost
        for asked in ("?visibility=internal", "?internal=1", "/updates"):
            response = client.get(f"/engagements/{engagement_id}{asked}")
            assert b"Their admin is slow" not in response.data, asked


def test_updates_are_refused_empty_too_long_or_by_a_customer(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    url = f"/engagements/{engagement_id}/updates"
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert client.post(url, data={"body": " ", "visibility": "customer"}).status_code == 400
    long = client.post(url, data={"body": "x" * 5001, "visibility": "customer"})
    assert long.status_code == 400
    assert client.post(url, data={"body": "Hi", "visibility": "secret"}).status_code == 400
    sign_in(client, tenant_a.people[Role.BUYER])
    assert client.post(url, data={"body": "Hi", "visibility": "customer"}).status_code == 404
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(EngagementUpdate)) == 0


@pytest.mark.parametrize(
    ("content", "name", "kept", "mime"),
    [
        (PDF, "report.pdf", "report.pdf", "application/pdf"),
        (PNG, "chart.PNG", "chart.png", "image/png"),
        (PDF, "report.docx", "report.pdf", "application/pdf"),  # the content decides
        (_docx(), "plan.docx", "plan.docx", "wordprocessingml"),
        (b"Name;Score\nSSO;3\n", "scores.csv", "scores.csv", "text/csv"),
        ("# Findings\n\nÉtat: bon\n".encode(), "notes.md", "notes.md", "text/markdown"),
        (b"plain words", "notes", "notes.txt", "text/plain"),
        (PDF, "../../etc/passwd.pdf", "passwd.pdf", "application/pdf"),
        (PDF, "/var/www/report.pdf", "report.pdf", "application/pdf"),
    ],
)
def test_allowed_files_are_stored_under_a_random_name(
    client, app, tenant_a, unscoped, content, name, kept, mime
):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert _upload(client, engagement_id, content, name).status_code == 302
    with unscoped():
        (stored,) = _files()
        assert stored.filename == kept
        assert mime in stored.content_type
        assert len(stored.sha256) == 64
        assert kept not in stored.stored_name
        assert (app.instance_path + "/deliverables/" + stored.stored_name).startswith(
            app.instance_path
        )
        file_id = stored.id
    download = client.get(f"/deliverables/{file_id}")
    assert download.status_code == 200
    assert download.data == content
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert kept in download.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (EXE, "invoice.pdf", b"not accepted"),
        (ELF, "report.pdf", b"not accepted"),
        (b"\xff\xfe\x00\x01binary", "data.txt", b"could not be recognised"),
        (b"text\x00with nul", "notes.txt", b"NUL"),
        (b"", "empty.pdf", b"is empty"),
    ],
)
def test_refused_files_say_why_and_store_nothing(
    client, tenant_a, unscoped, content, name, message
):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    response = _upload(client, engagement_id, content, name)
    assert response.status_code == 400
    assert message in response.data
    with unscoped():
        assert _files() == []


@pytest.mark.parametrize("app_config", [{"DELIVERABLE_MAX_MB": 0.001}])
def test_an_oversized_file_is_refused_with_the_limit(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    response = _upload(client, engagement_id, PDF + b"0" * 2000, "big.pdf")
    assert response.status_code == 400
    assert b"larger than 0.001 MB" in response.data
    with unscoped():
        assert _files() == []


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 1000}])
def test_a_body_over_the_request_limit_says_so_on_the_engagement_page(client, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    response = _upload(client, engagement_id, PDF + b"0" * 5000, "big.pdf")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/engagements/{engagement_id}#files")
    page = client.get(response.headers["Location"]).data
    assert b"is larger than" in page


def test_files_are_served_only_within_the_engagements_reach(client, tenant_a, unscoped, app):
    with unscoped():
        theirs = factories.working(tenant_a, roles=(Role.PARTNER_CONSULTANT,))
        other = factories.working(tenant_a, roles=(Role.CONSULTANT,))
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert _upload(client, other, PDF, "other.pdf").status_code == 302
    with unscoped():
        (stored,) = _files()
    for role in Role:
        sign_in(client, tenant_a.people[role])
        status = client.get(f"/deliverables/{stored.id}").status_code
        sees = role not in (Role.PARTNER_MANAGER, Role.PARTNER_CONSULTANT)
        assert status == (200 if sees else 404), role
    sign_in(client, tenant_a.neighbours[Role.BUYER])
    assert client.get(f"/deliverables/{stored.id}").status_code == 404
    sign_in(client, tenant_a.people[Role.PARTNER_CONSULTANT])
    assert _upload(client, other, PDF, "sneaky.pdf").status_code == 404
    assert _upload(client, theirs, PDF, "mine.pdf").status_code == 302
    sign_in(client, tenant_a.people[Role.BUYER])
    assert _upload(client, theirs, PDF, "buyer.pdf").status_code == 404
    with unscoped():
        assert len(_files()) == 2


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("../../../etc/passwd", "passwd.pdf"),
        ("..", "deliverable.pdf"),
        ("rapport final (v2).PDF", "rapport_final_v2.pdf"),
    ],
)
def test_a_file_name_loses_its_path_and_keeps_the_contents_extension(name, cleaned):
    assert files.clean_name(name, "pdf") == cleaned


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 2 * 1024 * 1024}])
def test_the_limit_named_is_never_above_what_a_request_may_carry(app):
    with app.app_context():
        assert files.max_bytes() == 2 * 1024 * 1024
        assert "larger than 2 MB" in files.too_large_message()


def test_a_file_lost_from_storage_is_a_404_that_says_so(client, app, tenant_a, unscoped):
    with unscoped():
        engagement_id = factories.working(tenant_a)
    sign_in(client, tenant_a.people[Role.CONSULTANT])
    assert _upload(client, engagement_id, PDF, "report.pdf").status_code == 302
    with unscoped():
        (stored,) = _files()
    Path(app.instance_path, "deliverables", stored.stored_name).unlink()
    response = client.get(f"/deliverables/{stored.id}")
    assert response.status_code == 404
    assert b"report.pdf is listed but its file is missing from storage" in response.data
