"""Stored credentials: viewer tokens and display keys, created once (the raw key is shown once and never
stored), listed, and revoked.

A key is 32 random bytes, URL-safe, prefixed by its kind (`hbv_`, `hbd_`) so a leaked one is recognisable.
Only SHA-256 digests are stored: random keys of that length need no slow hash, and a digest lets the
request path find a credential with one dictionary lookup. A display's cookie holds `cookie_value(key)`, a
second one-way digest of the key (a viewer's browser likewise), so neither the cookie nor the database holds
the key itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from heartbeat_core import clock

CredentialKind = Literal["viewer", "display"]
KINDS: tuple[CredentialKind, ...] = ("viewer", "display")
PREFIX: dict[CredentialKind, str] = {"viewer": "hbv_", "display": "hbd_"}
MAX_NAME = 80


class CredentialError(ValueError):
    """A credential command got something it cannot use; the message names the parameter."""


@dataclass(frozen=True)
class Credential:
    credential_id: int
    kind: CredentialKind
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode()).hexdigest()


def cookie_value(key: str) -> str:
    """What a browser's cookie holds: derived from the key one way, so the cookie never carries the key."""
    return "hbc_" + hashlib.sha256(b"heartbeat-display-cookie:" + key.strip().encode()).hexdigest()


def _check(kind: str, name: str) -> tuple[CredentialKind, str]:
    if kind not in KINDS:
        raise CredentialError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME:
        raise CredentialError(f"--name {name!r}: expected 1 to {MAX_NAME} characters")
    return kind, clean  # type: ignore[return-value]


def create_credential(conn: psycopg.Connection[Any], kind: str, name: str) -> tuple[Credential, str]:
    """A new credential and its raw key (shown once); a live credential of that name is an error."""
    checked_kind, clean = _check(kind, name)
    key = PREFIX[checked_kind] + secrets.token_urlsafe(32)
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                """INSERT INTO heartbeat.credential (kind, name, key_hash, cookie_hash, created_at)
                   VALUES (%s, %s, %s, %s, %s)
                   RETURNING credential_id, kind, name, created_at, revoked_at""",
                (checked_kind, clean, hash_secret(key), hash_secret(cookie_value(key)), clock.now()),
            )
            row = cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise CredentialError(f"--name {clean!r}: a live credential has that name; revoke it first") from None
    assert row is not None
    return Credential(**row), key


def list_credentials(conn: psycopg.Connection[Any], include_revoked: bool = True) -> list[Credential]:
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT credential_id, kind, name, created_at, revoked_at FROM heartbeat.credential {where}"
            " ORDER BY revoked_at IS NOT NULL, kind, name, credential_id"
        )
        return [Credential(**r) for r in cur.fetchall()]


def revoke_credential(conn: psycopg.Connection[Any], name_or_id: str) -> Credential:
    """Revoke the live credential of that name (or id); the running servers stop accepting it within seconds."""
    ref = name_or_id.strip()
    by_id = ref.isdigit()
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "UPDATE heartbeat.credential SET revoked_at = %s WHERE revoked_at IS NULL AND "
            + ("credential_id = %s" if by_id else "name = %s")
            + " RETURNING credential_id, kind, name, created_at, revoked_at",
            (clock.now(), int(ref) if by_id else ref),
        )
        row = cur.fetchone()
    if row is None:
        raise CredentialError(
            f"{name_or_id!r}: no live credential has that name or id (see `heartbeat keys list`)"
        )
    return Credential(**row)
