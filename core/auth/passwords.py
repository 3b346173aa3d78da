"""Password hashing with bcrypt (the same scheme streamlit-authenticator uses)."""

from __future__ import annotations

import bcrypt

BCRYPT_MAX_BYTES = 72
# A fixed hash to compare against when the username is unknown, so timing does not tell.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=4)).decode()


def hash_password(password: str, rounds: int = 12) -> str:
    """A bcrypt hash of `password` (which must fit bcrypt's 72-byte limit)."""
    encoded = password.encode("utf-8")
    if len(encoded) > BCRYPT_MAX_BYTES:
        raise ValueError("password is longer than 72 bytes")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=rounds)).decode()


def password_matches(password: str, hashed: str | None) -> bool:
    """Constant-work check of `password` against a stored hash (None: unknown user)."""
    encoded = password.encode("utf-8")
    if len(encoded) > BCRYPT_MAX_BYTES:
        encoded = encoded[:BCRYPT_MAX_BYTES]
        hashed = None
    try:
        ok = bcrypt.checkpw(encoded, (hashed or _DUMMY_HASH).encode())
    except ValueError:
        return False
    return ok and hashed is not None


def password_problem(password: str, *, username: str, min_length: int) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < min_length:
        return f"Use at least {min_length} characters."
    if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        return "Use at most 72 bytes (about 72 letters)."
    if password.strip().lower() == username.strip().lower():
        return "The password must not be the username."
    if len(set(password)) < 4:
        return "Use a less repetitive password."
    return None
