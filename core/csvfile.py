"""Reading a CSV file someone saved from a spreadsheet: what the report import and the activity
import share (the text decoded with a clear message, and how a problem is named)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import DomainError


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (unreadable, no header, unknown columns...)."""


@dataclass(frozen=True)
class RowError:
    """One problem with one cell (or with the whole row, column "row")."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.reason}"


def decode(data: bytes, source: str) -> str:
    """The file's text; a clear ImportFileError when it is not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            f"{source} is saved as UTF-16 (\"Unicode text\"). Save it as \"CSV UTF-8\" and "
            "import it again.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(
            f"{source} is not UTF-8 text (line {line} has a byte that is not UTF-8; the file "
            "was probably saved as Windows-1252 or Latin-1). In Excel choose \"CSV UTF-8\" "
            "when saving, then import it again.") from exc
    if "\x00" in text:
        raise ImportFileError(f"{source} contains NUL bytes: it does not look like a CSV file.")
    return text


def read_file(path: Path | str) -> bytes:
    """The bytes of an import file, or ImportFileError naming it and why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path} cannot be read ({exc.strerror}).") from exc
