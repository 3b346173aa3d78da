"""Evidence files: size and type limits, safe names, storage outside the web root."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath

from core.config import AttachmentRules

# The first bytes each binary type must start with; text types are checked as UTF-8.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
}
_TEXT_TYPES = {"txt", "csv"}
_CONTENT_TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "txt": "text/plain", "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class AttachmentRefused(ValueError):
    """The file cannot be kept; the message says why in words a user understands."""


@dataclass(frozen=True)
class StoredFile:
    original_name: str
    stored_path: str  # relative to the attachments directory
    content_type: str
    size_bytes: int
    sha256: str


def safe_name(name: str) -> str:
    """The file's own name without any folders, control or odd characters (max 120)."""
    base = PurePath(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .") or "file"
    return base[-120:]


def check_file(name: str, data: bytes, rules: AttachmentRules) -> str:
    """The file's type (extension) if it may be kept; AttachmentRefused otherwise."""
    limit = int(rules.max_megabytes * 1024 * 1024)
    if len(data) > limit:
        raise AttachmentRefused(f"The file is {len(data) / 1048576:.1f} MB; the limit is "
                                f"{rules.max_megabytes:g} MB.")
    if not data:
        raise AttachmentRefused("The file is empty.")
    extension = PurePath(safe_name(name)).suffix.lower().lstrip(".")
    if extension not in rules.allowed_types:
        allowed = ", ".join(rules.allowed_types)
        raise AttachmentRefused(f"Files of type “.{extension or '?'}” cannot be attached. "
                                f"Allowed: {allowed}.")
    if extension in _TEXT_TYPES:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AttachmentRefused("That text file is not readable text (UTF-8).") from exc
    elif not data.startswith(_SIGNATURES.get(extension, (b"",))):
        raise AttachmentRefused(f"The file's content is not a real .{extension} file.")
    return extension


def store_file(name: str, data: bytes, rules: AttachmentRules, directory: Path) -> StoredFile:
    """Check and write a file under `directory` with a generated name; nothing user-given
    becomes part of the path."""
    extension = check_file(name, data, rules)
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(digest[:2]) / f"{uuid.uuid4().hex}.{extension}"
    target = directory / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return StoredFile(safe_name(name), str(relative), _CONTENT_TYPES[extension], len(data),
                      digest)


def read_file(stored_path: str, directory: Path) -> bytes:
    """The bytes of a stored file (refusing any path that leaves the directory)."""
    target = (directory / stored_path).resolve()
    if directory.resolve() not in target.parents:
        raise AttachmentRefused("That file is not in the attachments store.")
    return target.read_bytes()
