def test_nul_characters_in_a_form_are_refused_with_a_clear_400(client):
    response = client.post("/sign-in", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 400
    assert b"NUL character" in response.data


def test_nul_characters_in_the_query_string_are_refused(client):
    assert client.get("/sign-in?next=%00").status_code == 400
