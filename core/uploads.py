"""Uploaded files read as text: UTF-8, without NUL, and JSON no deeper than a record can be.

Form fields and the query string are checked for NUL before any view runs; a file's
contents are bytes that only the code reading them can check. So every upload read as text
comes through here, and what no spreadsheet or export could have produced is refused with a
message about the file, never a 500 (PostgreSQL refuses NUL in text; ``json`` raises
``RecursionError`` on deep nesting).
"""

from __future__ import annotations

import json
from typing import Any

from core.bounds import has_nul

MAX_JSON_DEPTH = 10


class UploadRefused(ValueError):
    """A file that cannot be read as text; ``str()`` tells the person what to do."""


def upload_text(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadRefused(
            "The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8” and "
            "import it again."
        ) from error
    if has_nul(text):
        raise UploadRefused(_NUL)
    return text


def upload_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The document in ``text``; refused when invalid, nested deeper than ``max_depth``
    arrays and objects, or holding NUL (a ``\\u0000`` escape) in a key or a string."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UploadRefused(
            f"This is not valid JSON: {error.msg} at line {error.lineno}."
        ) from error
    except RecursionError as error:
        raise UploadRefused(_too_deep(max_depth)) from error
    except ValueError as error:  # an integer of more than 4,300 digits
        raise UploadRefused("This JSON holds a number too long to read.") from error
    _check_json(data, max_depth)
    return data


def _check_json(data: Any, max_depth: int) -> None:
    pending = [(data, 0)]
    while pending:  # not recursive: the depth is what is being checked
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth >= max_depth:
                raise UploadRefused(_too_deep(max_depth))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and has_nul(key):
                    raise UploadRefused(_NUL)
                pending.append((item, depth + 1))
        elif isinstance(value, str) and has_nul(value):
            raise UploadRefused(_NUL)


_NUL = (
    "The file contains a NUL character (a zero byte), which no text can hold. Save it "
    "again as “CSV UTF-8” or JSON text and import it again."
)


def _too_deep(max_depth: int) -> str:
    return f"The JSON is nested more than {max_depth} levels deep, deeper than its records are."
