"""Password hashing with bcrypt (the same scheme streamlit-authenticator uses)."""

from __future__ import annotations

import secrets
from functools import lru_cache

import bcrypt

from core.i18n import N_

BCRYPT_MAX_BYTES = 72


@lru_cache(maxsize=4)
def dummy_hash(rounds: int) -> str:
    """A hash of a random password nobody knows, made once per cost: checked when there is no
    real hash (an unknown username), so that check takes as long as a real one."""
    return bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(rounds=rounds)).decode()


def hash_password(password: str, rounds: int = 12) -> str:
    """A bcrypt hash of `password` (which must fit bcrypt's 72-byte limit)."""
    encoded = password.encode("utf-8")
    if len(encoded) > BCRYPT_MAX_BYTES:
        raise ValueError("password is longer than 72 bytes")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=rounds)).decode()


def password_matches(password: str, hashed: str | None, *, rounds: int = 12) -> bool:
    """Check `password` against a stored hash with one bcrypt run whatever the input.

    `hashed` None (an unknown user) or an over-long password is checked against the dummy
    hash of cost `rounds` (give the configured cost), and never matches.
    """
    encoded = password.encode("utf-8", "surrogatepass")
    if len(encoded) > BCRYPT_MAX_BYTES:
        encoded = encoded[:BCRYPT_MAX_BYTES]
        hashed = None
    try:
        ok = bcrypt.checkpw(encoded, (hashed or dummy_hash(rounds)).encode())
    except ValueError:
        return False
    return ok and hashed is not None


def password_problem(password: str, *, username: str, min_length: int) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < min_length:
        return f"Use at least {min_length} characters."
    if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        return N_("Use at most 72 bytes (about 72 letters).")
    if password.strip().lower() == username.strip().lower():
        return N_("The password must not be the username.")
    if len(set(password)) < 4:
        return N_("Use a less repetitive password.")
    return None
