"""Uploaded files read as text: refused with a message about the file, never an exception."""

from __future__ import annotations

import pytest

from core.uploads import UploadRefused, upload_json, upload_text


def test_uploaded_text_is_utf8_without_nul():
    assert upload_text("\ufeffslug,title\n".encode()) == "slug,title\n"
    with pytest.raises(UploadRefused, match="not UTF-8"):
        upload_text(b"\xff\xfe")
    with pytest.raises(UploadRefused, match="NUL character"):
        upload_text(b"a,b\n1,\x002\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": "x\\u0000"}', "NUL character"),
        ('{"a\\u0000": 1}', "NUL character"),
        ("[" * 11 + "]" * 11, "nested more than 10 levels"),
        ("[" * 100_000, "nested more than 10 levels"),
        ("9" * 5000, "number too long"),
        ("{", "not valid JSON"),
    ],
)
def test_uploaded_json_is_refused_with_a_message_not_an_exception(text, message):
    with pytest.raises(UploadRefused, match=message):
        upload_json(text)


def test_uploaded_json_as_deep_as_a_record_is_read():
    assert upload_json('{"servlets": [{"intake_questions": [{"choices": ["a"]}]}]}')
