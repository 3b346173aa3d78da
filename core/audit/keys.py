"""The audit key: the secret the audit chain is signed with (HMAC-SHA256), kept outside the
database so that someone who can rewrite the audit table still cannot re-sign it.

Where it comes from (one of the two, never both):

* `NEARMISS_AUDIT_KEY_FILE`: a keyring file readable by the service user only (the portal
  refuses it when the group or others have any access to it). One key a line, `ID:SECRET`;
  `#` starts a comment. The **last** line is the current key: new events are signed with it,
  the lines above only verify the events they signed.
* `NEARMISS_AUDIT_KEY`: the same entries separated by commas (or one bare `SECRET`, whose id
  is `1`), for deployments that pass secrets through the environment.

Rotation is adding a line; a key is never removed while events it signed are kept.
With `NEARMISS_ENV=demo` and no key configured, a built-in demo key is used (it is public, so a
demo trail can be forged by anyone: it is for trying the portal out). Outside demo mode there is
no default: signing and verifying refuse, naming the settings.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from core.config import environment
from core.errors import DomainError

KEY_ENV = "NEARMISS_AUDIT_KEY"
KEY_FILE_ENV = "NEARMISS_AUDIT_KEY_FILE"
# How the events written before the audit key existed are named (stored as key_id NULL).
LEGACY_KEY_ID = "legacy-sha256"
DEMO_KEY_ID = "demo"
# Public on purpose: demo mode only. Its events never verify outside demo mode.
DEMO_SECRET = "nearmiss-demo-audit-key-public-not-for-production"
MIN_SECRET_LENGTH = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_RESERVED_IDS = {LEGACY_KEY_ID, DEMO_KEY_ID}
HOW_TO = (f"Put a key in a file only the service user can read and name it in {KEY_FILE_ENV}: "
          "`(umask 077; nearmiss audit new-key > /etc/nearmiss/audit-keys)`, or set "
          f"{KEY_ENV}. See \"Audit key\" in docs/DEPLOYMENT.md.")


class AuditKeyProblem(DomainError):
    """No usable audit key: the message names the setting and what to do."""


@dataclass(frozen=True)
class AuditKey:
    """One key of the keyring (the secret is never shown)."""

    key_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class Keyring:
    """Every key that verifies events; the last one signs new events."""

    keys: tuple[AuditKey, ...]
    source: str  # where the keys came from, for messages

    @property
    def current(self) -> AuditKey:
        return self.keys[-1]

    def secret(self, key_id: str) -> bytes | None:
        for key in self.keys:
            if key.key_id == key_id:
                return key.secret
        return None


def parse_keys(text: str, *, setting: str, allow_bare: bool) -> tuple[AuditKey, ...]:
    """The keys in a keyring text (file lines or comma-separated entries); refuses bad ones.

    Messages name the setting and the entry's position, never the secret.
    """
    entries = [e for line in text.splitlines() for e in line.split("#", 1)[0].split(",")]
    entries = [e.strip() for e in entries if e.strip()]
    if not entries:
        raise AuditKeyProblem(f"{setting} holds no key. " + HOW_TO)
    keys: list[AuditKey] = []
    for number, entry in enumerate(entries, start=1):
        if ":" in entry:
            key_id, secret = (part.strip() for part in entry.split(":", 1))
        elif allow_bare and len(entries) == 1:
            key_id, secret = "1", entry
        else:
            raise AuditKeyProblem(f"{setting}: key {number} is not written as ID:SECRET.")
        if not KEY_ID_PATTERN.match(key_id) or key_id in _RESERVED_IDS:
            raise AuditKeyProblem(
                f"{setting}: key {number} has the id {key_id!r}; use letters, digits, dots, "
                f"dashes or underscores (up to 32), other than {' and '.join(_RESERVED_IDS)}.")
        if any(k.key_id == key_id for k in keys):
            raise AuditKeyProblem(f"{setting}: the key id {key_id!r} appears twice.")
        if len(secret) < MIN_SECRET_LENGTH:
            raise AuditKeyProblem(f"{setting}: key {key_id!r} is shorter than "
                                  f"{MIN_SECRET_LENGTH} characters. " + HOW_TO)
        keys.append(AuditKey(key_id, secret.encode("utf-8")))
    return tuple(keys)


def _file_keys(path: Path) -> tuple[AuditKey, ...]:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise AuditKeyProblem(f"{KEY_FILE_ENV} names {path}, which does not exist. "
                              + HOW_TO) from None
    except OSError as exc:
        raise AuditKeyProblem(f"{KEY_FILE_ENV}: cannot read {path} ({exc.strerror}).") from None
    if not stat.S_ISREG(info.st_mode):
        raise AuditKeyProblem(f"{KEY_FILE_ENV} names {path}, which is not a file.")
    if info.st_mode & 0o077:
        raise AuditKeyProblem(
            f"The audit key file {path} can be read or changed by other users (mode "
            f"{stat.S_IMODE(info.st_mode):04o}): the portal uses it only when the service user "
            f"alone has access. Run `chmod 600 {path}` (and chown it to the service user).")
    return _cached_file_keys(str(path), info.st_mtime_ns, info.st_size)


@lru_cache(maxsize=8)
def _cached_file_keys(path: str, _mtime_ns: int, _size: int) -> tuple[AuditKey, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyProblem(f"{KEY_FILE_ENV}: cannot read {path} ({exc}).") from None
    return parse_keys(text, setting=f"{KEY_FILE_ENV} ({path})", allow_bare=False)


@lru_cache(maxsize=8)
def _env_keys(value: str) -> tuple[AuditKey, ...]:
    return parse_keys(value, setting=KEY_ENV, allow_bare=True)


def load_keyring() -> Keyring:
    """The configured keyring (re-read when the key file changes); refuses when there is none.

    In demo mode the demo key is always on the keyring, to verify what it signed; it signs new
    events only when no key is configured.
    """
    env = environment()
    value = os.environ.get(KEY_ENV, "").strip()
    path = os.environ.get(KEY_FILE_ENV, "").strip()
    if value and path:
        raise AuditKeyProblem(f"Both {KEY_ENV} and {KEY_FILE_ENV} are set: keep one, so there is "
                              "no doubt which key signs the audit trail.")
    configured: tuple[AuditKey, ...] = ()
    source = ""
    if path:
        configured, source = _file_keys(Path(path)), f"{KEY_FILE_ENV} ({path})"
    elif value:
        configured, source = _env_keys(value), KEY_ENV
    if env.is_demo:
        demo = AuditKey(DEMO_KEY_ID, DEMO_SECRET.encode("utf-8"))
        return Keyring((demo, *configured), source or "the built-in demo key")
    if not configured:
        raise AuditKeyProblem("No audit key is set, so the audit trail can be neither signed nor "
                              "verified (there is no default key outside demo mode). " + HOW_TO)
    return Keyring(configured, source)


def signing_key() -> AuditKey:
    """The key new audit events are signed with."""
    return load_keyring().current


def audit_key_problem() -> str | None:
    """Why the portal cannot sign its audit trail, or None when a key is in place."""
    try:
        load_keyring()
    except AuditKeyProblem as exc:
        return str(exc)
    return None
