"""Where evidence files are kept: outside the web root, readable by the service user only
(files 0600 in folders 0700), under generated names, served only as downloads."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.attachments.checks import AttachmentRefused, check_file, safe_name
from core.config import AttachmentRules, environment

DOWNLOAD_MIME = "application/octet-stream"  # served as a download, never shown inline
FOLDER_MODE = 0o700
FILE_MODE = 0o600

CONTENT_TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "txt": "text/plain", "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

@dataclass(frozen=True)
class StoredFile:
    original_name: str
    stored_path: str  # relative to the attachments directory
    content_type: str
    size_bytes: int
    sha256: str


def attachments_dir() -> Path:
    """Where evidence files are kept (NEARMISS_DATA_DIR/attachments, outside the web root)."""
    return environment().data_dir / "attachments"


def _private_folder(folder: Path) -> None:
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(folder, FOLDER_MODE)  # mkdir's mode is cut by the umask; an old folder is tightened


def write_private(directory: Path, relative: str | Path, data: bytes) -> Path:
    """Write `data` at `directory/relative`, readable by the service user only (file 0600 in
    folders 0700, the store's own folder included)."""
    target = directory / relative
    _private_folder(directory)
    for parent in reversed(target.relative_to(directory).parents[:-1]):
        _private_folder(directory / parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    handle = os.open(target, flags, FILE_MODE)
    try:
        os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, "wb", closefd=False) as out:
            out.write(data)
    finally:
        os.close(handle)
    return target


def tighten_store(directory: Path) -> int:
    """Make an existing store private (folders 0700, files 0600); returns how many changed."""
    if not directory.is_dir():
        return 0
    changed = 0
    for path in [directory, *directory.rglob("*")]:
        if path.is_symlink():
            continue
        mode = FOLDER_MODE if path.is_dir() else FILE_MODE
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)
            changed += 1
    return changed


def store_file(name: str, data: bytes, rules: AttachmentRules, directory: Path) -> StoredFile:
    """Check and write a file under `directory` with a generated name; nothing user-given
    becomes part of the path."""
    extension = check_file(name, data, rules)
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(digest[:2]) / f"{uuid.uuid4().hex}.{extension}"
    write_private(directory, relative, data)
    return StoredFile(safe_name(name), str(relative), CONTENT_TYPES.get(extension, DOWNLOAD_MIME),
                      len(data), digest)


def read_file(stored_path: str, directory: Path) -> bytes:
    """The bytes of a stored file (refusing any path that leaves the directory)."""
    target = (directory / stored_path).resolve()
    if directory.resolve() not in target.parents:
        raise AttachmentRefused("That file is not in the attachments store.")
    return target.read_bytes()
