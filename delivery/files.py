"""Deliverable files: the type read from the content (never the name), a size limit, stored
in the instance folder under a random name, and served only as attachments.

Allowed: PDF, PNG, JPEG, Office Open XML documents (Word, Excel, PowerPoint), and plain text,
CSV or Markdown (valid UTF-8 without NUL). Anything else, an executable renamed ``.pdf``
included, is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from core import audit
from core.bounds import has_nul
from core.errors import NotAllowed, NotFound, ServiceError
from core.extensions import db
from core.permissions import Actor
from delivery import moves, policies
from delivery.models import DeliverableFile, Engagement

_OFFICE = "application/vnd.openxmlformats-officedocument"
# Content type sniffed → the extensions a name may keep for it (the first is the default).
BINARY_TYPES = {
    "application/pdf": ("pdf",),
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    f"{_OFFICE}.wordprocessingml.document": ("docx",),
    f"{_OFFICE}.spreadsheetml.sheet": ("xlsx",),
    f"{_OFFICE}.presentationml.presentation": ("pptx",),
}
TEXT_TYPES = {"txt": "text/plain", "csv": "text/csv", "md": "text/markdown"}
ALLOWED_WORDS = "PDF, PNG, JPEG, Word, Excel, PowerPoint, or plain text, CSV or Markdown"


def _max_mb() -> float:
    """``DELIVERABLE_MAX_MB``, but never more than the app accepts in one request
    (``MAX_CONTENT_LENGTH``), so the limit the message names is the one that applies."""
    configured = current_app.config["DELIVERABLE_MAX_MB"]
    request_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request_limit is None:
        return configured
    return min(configured, request_limit / (1024 * 1024))


def max_bytes() -> int:
    """The largest deliverable accepted (15 MB by default, within the request limit)."""
    return int(_max_mb() * 1024 * 1024)


def too_large_message() -> str:
    return (
        f"The file is larger than {_max_mb():g} MB, the limit for a deliverable. "
        "Compress it or split it, and upload it again."
    )


def storage_dir() -> Path:
    path = Path(current_app.instance_path) / "deliverables"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str


def sniff(content: bytes, name: str) -> Sniffed:
    """The file's type from its first bytes, with the extension its cleaned name keeps; a
    type that is not allowed is refused, whatever the name says."""
    given = Path(name).suffix.lower().lstrip(".")
    kind = filetype.guess(content)
    if kind is not None:
        extensions = BINARY_TYPES.get(kind.mime)
        if extensions is None:
            raise ServiceError(f"Files of this type are not accepted; upload {ALLOWED_WORDS}.")
        return Sniffed(kind.mime, given if given in extensions else extensions[0])
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ServiceError(
            f"The type of this file could not be recognised; upload {ALLOWED_WORDS}."
        ) from error
    if has_nul(text):
        raise ServiceError(f"This text file holds a NUL character; upload {ALLOWED_WORDS}.")
    extension = given if given in TEXT_TYPES else "txt"
    return Sniffed(TEXT_TYPES[extension], extension)


def clean_name(name: str, extension: str) -> str:
    """The uploader's name without any path, made safe, ending in the content's extension."""
    base = secure_filename(Path((name or "").replace("\\", "/")).name)
    stem = Path(base).stem[:150] or "deliverable"
    return f"{stem}.{extension}"


def upload(actor: Actor, engagement: Engagement, file: FileStorage | None) -> DeliverableFile:
    """Store ``file`` as a deliverable of ``engagement`` (assignees and the delivery manager,
    while it is scheduled or in progress)."""
    engagement = moves.lock(engagement)
    if not policies.may_work(actor, engagement):
        raise NotAllowed("You do not have permission to do that.")
    if not policies.may_upload(actor, engagement):
        raise ServiceError(
            f"Engagement {engagement.reference} is {engagement.state.label.lower()}: "
            "deliverables are uploaded while it is scheduled or in progress."
        )
    if file is None or not file.filename:
        raise ServiceError("Choose a file to upload.")
    content = file.stream.read(max_bytes() + 1)
    if len(content) > max_bytes():
        raise ServiceError(too_large_message())
    if not content:
        raise ServiceError("The file is empty.")
    sniffed = sniff(content, file.filename)
    stored_name = secrets.token_hex(16)
    (storage_dir() / stored_name).write_bytes(content)
    deliverable = DeliverableFile(
        vendor_id=engagement.vendor_id,
        engagement_id=engagement.id,
        uploaded_by_id=actor.id,
        filename=clean_name(file.filename, sniffed.extension),
        stored_name=stored_name,
        content_type=sniffed.content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    db.session.add(deliverable)
    db.session.flush()
    audit.record(
        "deliverable_file.uploaded",
        deliverable,
        changes={
            "engagement_id": engagement.id,
            "filename": deliverable.filename,
            "sha256": deliverable.sha256,
        },
    )
    db.session.commit()
    return deliverable


def path_of(deliverable: DeliverableFile) -> Path:
    """Where the file's bytes are; ``NotFound`` (said to the person, logged for whoever runs
    the app) when storage lost them: a restored database without its instance folder."""
    path = storage_dir() / deliverable.stored_name
    if not path.is_file():
        current_app.logger.error("Deliverable file %s is missing at %s", deliverable.id, path)
        raise NotFound(
            f"{deliverable.filename} is listed but its file is missing from storage. Ask the "
            "delivery team to upload it again."
        )
    return path
