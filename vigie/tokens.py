"""API tokens: how a program signs in to `vigie serve` as one user.

A token reads `vigie_<id>_<secret>`. It is shown once, when it is made; the file keeps
its id, owner, name, expiry and the SHA-256 of its secret (a token is 32 random bytes,
so a fast hash is enough: there is nothing to guess). Each request sends it as
`Authorization: Bearer ...`; the user it names then acts with their own role,
clearance and audit trail, exactly as in the CLI or the UI.

The file (`VIGIE_HOME/tokens.sqlite3`) is private to its owner, like the users file.
This module is part of the core: it imports nothing from the rooms above it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vigie.errors import InputError, NotFound, PermissionDenied

PREFIX = "vigie_"
_TOKEN_RE = re.compile(r"vigie_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# The same words however a token failed, so that nobody learns which ids exist.
BAD_TOKEN = "invalid, expired or revoked API token"
MAX_DAYS = 3650

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    revoked REAL,
    last_used REAL
)
"""


class TokenError(PermissionDenied):
    """A token that does not sign anyone in (unknown, wrong, expired or revoked)."""


@dataclass(frozen=True)
class TokenInfo:
    """What is known of a token besides its secret."""

    id: str
    owner: str
    name: str
    created: float
    expires: float
    revoked: float | None
    last_used: float | None

    def state(self, now: float) -> str:
        if self.revoked is not None:
            return "revoked"
        return "expired" if now >= self.expires else "active"

    def to_dict(self, now: float | None = None) -> dict:
        def when(moment: float | None) -> str | None:
            if moment is None:
                return None
            return datetime.fromtimestamp(moment, tz=UTC).isoformat(timespec="seconds")

        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "created": when(self.created),
            "expires": when(self.expires),
            "revoked": when(self.revoked),
            "last_used": when(self.last_used),
            "state": self.state(time.time() if now is None else now),
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class TokenStore:
    """The tokens file: one connection, shared by the server's threads under a lock."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        os.chmod(self.path, 0o600)
        self._conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        with self._lock, self._conn:
            self._conn.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> TokenStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @staticmethod
    def _info(row: sqlite3.Row) -> TokenInfo:
        return TokenInfo(row["id"], row["owner"], row["name"], row["created"], row["expires"],
                         row["revoked"], row["last_used"])  # fmt: skip

    def create(self, owner: str, name: str, days: float) -> tuple[TokenInfo, str]:
        """A new token for `owner`, valid `days` days: its record and the token itself,
        which is never stored and cannot be shown again."""
        name = " ".join(name.split())[:80]
        if not name:
            raise InputError("a token needs a name (what program uses it)")
        if not 0 < days <= MAX_DAYS:
            raise InputError(f"a token lasts between 1 and {MAX_DAYS} days, not {days:g}")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO tokens (id, owner, name, secret_sha256, created, expires)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, owner, name, _digest(secret), now, now + days * 86400),
            )
        info = TokenInfo(token_id, owner, name, now, now + days * 86400, None, None)
        return info, f"{PREFIX}{token_id}_{secret}"

    def list(self, owner: str | None = None) -> list[TokenInfo]:
        """Tokens, newest first: `owner`'s, or everyone's."""
        with self._lock:
            if owner is None:
                rows = self._conn.execute("SELECT * FROM tokens ORDER BY created DESC")
            else:
                rows = self._conn.execute(
                    "SELECT * FROM tokens WHERE owner = ? ORDER BY created DESC", (owner,)
                )
            return [self._info(row) for row in rows.fetchall()]

    def get(self, token_id: str) -> TokenInfo | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return None if row is None else self._info(row)

    def revoke(self, token_id: str, owner: str | None) -> TokenInfo:
        """Revoke a token of `owner` (or anyone's, with None: an administrator)."""
        found = self.get(token_id.strip())
        if found is None or (owner is not None and found.owner != owner):
            raise NotFound(f"no token {token_id!r} of yours")
        if found.revoked is None:
            with self._lock, self._conn:
                self._conn.execute(
                    "UPDATE tokens SET revoked = ? WHERE id = ?", (self._clock(), found.id)
                )
        return self.get(found.id) or found

    @staticmethod
    def parts(presented: object) -> tuple[str, str] | None:
        """The id and secret of a presented token, when it has a token's shape."""
        match = _TOKEN_RE.fullmatch(presented.strip()) if isinstance(presented, str) else None
        return (match.group(1), match.group(2)) if match else None

    def verify(self, presented: str) -> TokenInfo:
        """The token's record, when it is a live token; `TokenError` otherwise."""
        parts = self.parts(presented)
        row = None
        if parts is not None:
            with self._lock:
                row = self._conn.execute(
                    "SELECT * FROM tokens WHERE id = ?", (parts[0],)
                ).fetchone()
        given = _digest(parts[1] if parts else "")
        stored = row["secret_sha256"] if row is not None else _digest("-")
        now = self._clock()
        if row is None or not hmac.compare_digest(given, stored):
            raise TokenError(BAD_TOKEN)
        found = self._info(row)
        if found.state(now) != "active":
            raise TokenError(BAD_TOKEN)
        with self._lock, self._conn:
            self._conn.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, found.id))
        return found
