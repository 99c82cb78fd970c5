"""Secrets at rest: what is stored for a token or an invite code is its SHA-256, never the
secret itself, so that a copy of the database (or a backup) signs no one in and links no one.

An invite code is normalised first (spaces, dashes and case do not matter when it is typed), so
the hash of what a person types matches the hash stored when the code was made.
"""

from __future__ import annotations

import hashlib

MAX_CODE_LENGTH = 64


def normalize_code(code: str) -> str:
    """An invite code as typed → its canonical form ("abcd-2345 " → "ABCD2345")."""
    return "".join(ch for ch in code.strip().upper() if ch.isalnum())


def invite_code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()
