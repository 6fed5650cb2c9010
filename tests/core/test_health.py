def test_healthz_reports_the_database_as_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_ping_answers_without_the_database(client):
    response = client.get("/ping")
    assert (response.status_code, response.data) == (200, b"pong")
