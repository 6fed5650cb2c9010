def test_healthz_reports_the_database_as_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_ping_answers_without_the_database(client):
    response = client.get("/ping")
    assert (response.status_code, response.data) == (200, b"pong")


def test_pages_render_outside_a_request_for_jobs_and_pdfs(app):
    from flask import render_template_string

    with app.app_context():
        assert render_template_string("{{ nav_items|length }}") == "0"
