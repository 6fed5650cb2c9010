"""Reading the API's answers in tests: a list's ids, a problem, its field pointers."""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse


def ids(answer: TestResponse) -> list[int]:
    """The ids of a cursor page's ``data``, once the answer is a 200."""
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [item["id"] for item in answer.json["data"]]


def problem(answer: TestResponse, status: int, pointer: str | None = None) -> dict[str, Any]:
    """The problem body, once the answer is one with ``status`` (and an error at ``pointer``)."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    if pointer is not None:
        assert pointer in [error.get("pointer") for error in answer.json["errors"]], answer.json
    return answer.json


def pointers(answer: TestResponse, status: int = 422) -> dict[str, str]:
    """A problem's errors as pointer → detail."""
    problem(answer, status)
    return {error.get("pointer"): error["detail"] for error in answer.json.get("errors", [])}
