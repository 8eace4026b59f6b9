"""Who may use Vigie, and what each user may read and do.

Users live in one small SQLite file (by default `VIGIE_HOME/users.sqlite3`) so that
the CLI, the Streamlit app and an operator's shell all see the same accounts without a
server. Passwords are stored only as Argon2id hashes. A user's clearance (level and
caveats) is what every read of the store is filtered with, so this module is part of
the core: it imports nothing from `retrieval`, `ingest` or `ui`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from vigie.contracts import Clearance, Level
from vigie.errors import InputError, PermissionDenied, Unavailable

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
# Lower-case only, so that "Alice" and "alice" can never be two accounts.
NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
_NAME_RE = re.compile(NAME_PATTERN)

SCHEMA_VERSION = 1
# The same words whichever way a login failed, so that nobody learns which names exist.
BAD_LOGIN = "unknown user or wrong password"


class Role(StrEnum):
    ANALYST = "analyst"
    OPERATOR = "operator"
    ADMIN = "admin"


class Action(StrEnum):
    ASK = "ask"  # questions, search, translate, summarize, open a source page, evaluation
    INGEST = "ingest"  # ingest, status, remove, quarantine
    MANAGE_USERS = "manage_users"
    READ_AUDIT = "read_audit"
    DECIDE_MARKINGS = "decide_markings"  # confirm or dismiss a weak marking (admins)


# Operators feed the archive but do not read it: ingesting is not a need to know.
# The admin may do everything, reading included, but always within their own clearance.
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ANALYST: frozenset({Action.ASK}),
    Role.OPERATOR: frozenset({Action.INGEST}),
    Role.ADMIN: frozenset(Action),
}


class UserError(InputError):
    """A user's mistake: the message is one clear line, shown as is."""


class UserStoreError(Unavailable):
    """The users database cannot be written (a read-only or full home)."""


class AuthenticationError(UserError, PermissionDenied):
    """A failed login; the message never tells whether the name exists."""


@dataclass(frozen=True)
class User:
    """An account as the rest of Vigie sees it: never with its password hash."""

    name: str
    role: Role
    level: Level
    caveats: frozenset[str]
    active: bool

    @property
    def clearance(self) -> Clearance:
        return Clearance(self.level, self.caveats)

    def may(self, action: Action) -> bool:
        """Whether this user may do `action`; a disabled account may do nothing."""
        return self.active and Action(action) in PERMISSIONS[self.role]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role.value,
            "level": self.level.label,
            "caveats": sorted(self.caveats),
            "active": self.active,
        }


def parse_role(role: Role | str) -> Role:
    """A role from its name, or a UserError listing the valid ones."""
    if isinstance(role, Role):
        return role
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise UserError(f"unknown role {role!r} (valid roles: {valid})") from None


def parse_level(level: Level | int | str) -> Level:
    """A level given as a Level, its rank or its name (as a CLI passes it)."""
    try:
        if isinstance(level, str):
            return Level.parse(level)
        return Level(level)
    except ValueError as error:
        raise UserError(str(error)) from None


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise UserError(
            f"invalid user name {name!r}: 1 to 64 characters among lower-case letters, "
            "digits, '.', '_' and '-', starting with a letter or a digit"
        )
    return name


def normalise_caveats(caveats: Iterable[str]) -> frozenset[str]:
    """Caveats stripped, empty ones dropped; spelling is kept (canonicalising is the caller's).

    A bare string is refused: iterating it would silently store one caveat per letter.
    """
    if isinstance(caveats, str | bytes):
        raise UserError(f"caveats must be a list of names, not one string ({caveats!r})")
    result = set()
    for caveat in caveats:
        if not isinstance(caveat, str):
            raise UserError(f"a caveat must be text, not {caveat!r}")
        if caveat.strip():
            result.add(caveat.strip())
    return frozenset(result)


def check_password(name: str, password: str) -> None:
    """Refuse passwords an attacker would try first; the password itself is never shown."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if password.casefold() == name.casefold():
        raise UserError("the password must not be the user name")


def _utc_time(moment: float, now: float) -> str:
    """HH:MM UTC, with the date only when the moment is not today (a long lockout)."""
    when = datetime.fromtimestamp(moment, tz=UTC)
    today = datetime.fromtimestamp(now, tz=UTC).date()
    return f"{when:%H:%M}" if when.date() == today else f"{when:%Y-%m-%d %H:%M}"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    level INTEGER NOT NULL,
    caveats TEXT NOT NULL,
    active INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_failure REAL,
    locked_until REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
)
"""

_COLUMNS = "name, role, level, caveats, active"


class UserStore:
    """The accounts file: one connection, shared by the app's threads under a lock.

    Every read-check-write (the last-admin rule, the failure counter) runs in a
    `BEGIN IMMEDIATE` transaction, so that two processes using the same file (the CLI
    while the app runs) cannot both pass a check the other one is about to break.
    Argon2 work is done outside the lock: a slow login must not stall everyone else.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_failures: int = 5,
        lockout_seconds: float = 900.0,
        clock: Callable[[], float] = time.time,
        hasher: argon2.PasswordHasher | None = None,
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.path = Path(path)
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        # argon2-cffi's defaults are Argon2id with its recommended costs; tests inject cheaper.
        self._hasher = hasher or argon2.PasswordHasher()
        self._dummy_hash: str | None = None
        self._lock = threading.RLock()
        self._create_private_file()
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE) below.
        self._conn = sqlite3.connect(
            self.path, timeout=5.0, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._migrate()

    # -- setup -------------------------------------------------------------------------

    def _create_private_file(self) -> None:
        """Create the file readable by its owner only, before SQLite ever opens it."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        try:
            os.fchmod(fd, 0o600)  # exactly 0o600, whatever the umask
        finally:
            os.close(fd)

    def _migrate(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise UserError(
                    f"{self.path} has user schema version {version}; this Vigie knows "
                    f"only up to {SCHEMA_VERSION}: upgrade Vigie"
                )
            if version < SCHEMA_VERSION:
                conn.execute(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, exclusive among this process's threads and other processes."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise UserStoreError(f"cannot write the users database {self.path}: {exc}") from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.rollback()
                raise
            try:
                self._conn.commit()
            except sqlite3.OperationalError as exc:
                self._conn.rollback()
                raise UserStoreError(f"cannot write the users database {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> UserStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            name=row["name"],
            role=Role(row["role"]),
            level=Level(row["level"]),
            caveats=frozenset(json.loads(row["caveats"])),
            active=bool(row["active"]),
        )

    def _row(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
        return conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()

    def _existing(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = self._row(conn, name) if isinstance(name, str) else None
        if row is None:
            raise UserError(f"no user named {name!r}")
        return row

    def get(self, name: str) -> User | None:
        with self._lock:
            row = self._row(self._conn, name) if isinstance(name, str) else None
        return None if row is None else self._user(row)

    def list(self) -> list[User]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name").fetchall()
        return [self._user(row) for row in rows]

    def count_admins(self, active_only: bool = True) -> int:
        with self._lock:
            return self._count_admins(self._conn, active_only)

    @staticmethod
    def _count_admins(conn: sqlite3.Connection, active_only: bool = True) -> int:
        sql = "SELECT COUNT(*) FROM users WHERE role = ?" + (
            " AND active = 1" if active_only else ""
        )
        return conn.execute(sql, (Role.ADMIN.value,)).fetchone()[0]

    # -- changing accounts -------------------------------------------------------------

    def add(
        self,
        name: str,
        role: Role | str,
        level: Level | int | str,
        caveats: Iterable[str],
        password: str,
    ) -> User:
        check_name(name)
        user = User(name, parse_role(role), parse_level(level), normalise_caveats(caveats), True)
        check_password(name, password)
        password_hash = self._hasher.hash(password)
        now = self._clock()
        with self._write() as conn:
            if self._row(conn, name) is not None:
                raise UserError(f"a user named {name!r} already exists")
            conn.execute(
                "INSERT INTO users (name, role, level, caveats, active, password_hash, failures,"
                " last_failure, locked_until, created, updated)"
                " VALUES (?, ?, ?, ?, 1, ?, 0, NULL, NULL, ?, ?)",
                (
                    name,
                    user.role.value,
                    int(user.level),
                    json.dumps(sorted(user.caveats)),
                    password_hash,
                    now,
                    now,
                ),
            )
        return user

    def set(
        self,
        name: str,
        *,
        role: Role | str | None = None,
        level: Level | int | str | None = None,
        caveats: Iterable[str] | None = None,
        active: bool | None = None,
    ) -> User:
        """Change what is given, leave the rest; never leaves Vigie without an active admin."""
        new_role = None if role is None else parse_role(role)
        new_level = None if level is None else parse_level(level)
        new_caveats = None if caveats is None else normalise_caveats(caveats)
        with self._write() as conn:
            before = self._user(self._existing(conn, name))
            after = User(
                name=before.name,
                role=before.role if new_role is None else new_role,
                level=before.level if new_level is None else new_level,
                caveats=before.caveats if new_caveats is None else new_caveats,
                active=before.active if active is None else bool(active),
            )
            if after == before:
                return before
            self._keep_an_admin(conn, before, after)
            conn.execute(
                "UPDATE users SET role = ?, level = ?, caveats = ?, active = ?, updated = ?"
                " WHERE name = ?",
                (
                    after.role.value,
                    int(after.level),
                    json.dumps(sorted(after.caveats)),
                    int(after.active),
                    self._clock(),
                    name,
                ),
            )
        return after

    def disable(self, name: str) -> User:
        return self.set(name, active=False)

    def remove(self, name: str) -> None:
        """Delete an account (disable() keeps it for the record; prefer it)."""
        with self._write() as conn:
            before = self._user(self._existing(conn, name))
            self._keep_an_admin(conn, before, None)
            conn.execute("DELETE FROM users WHERE name = ?", (name,))

    def _keep_an_admin(self, conn: sqlite3.Connection, before: User, after: User | None) -> None:
        """Refuse the change that would leave no active admin to manage users."""
        was_admin = before.active and before.role is Role.ADMIN
        stays_admin = after is not None and after.active and after.role is Role.ADMIN
        if was_admin and not stays_admin and self._count_admins(conn) <= 1:
            raise UserError(
                f"{before.name!r} is the last active admin: add or enable another admin first"
            )

    def set_password(self, name: str, password: str) -> None:
        """A new password; it also lifts a lockout (an admin's reset after one)."""
        check_password(name, password)
        password_hash = self._hasher.hash(password)
        with self._write() as conn:
            self._existing(conn, name)
            conn.execute(
                "UPDATE users SET password_hash = ?, failures = 0, last_failure = NULL,"
                " locked_until = NULL, updated = ? WHERE name = ?",
                (password_hash, self._clock(), name),
            )

    # -- logging in --------------------------------------------------------------------

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _waste_a_verify(self, password: str) -> None:
        """As long as a real check, so that timing does not tell which names exist."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))
        self._verify(self._dummy_hash, password)

    def authenticate(self, name: str, password: str) -> User:
        """The user, if the password is right and the account neither disabled nor locked.

        A lock is not lifted by its expiry alone: failures are reset only by a successful
        login or a new password, so after a lockout each further failure locks again.
        """
        with self._lock:
            row = self._row(self._conn, name) if isinstance(name, str) else None
        if row is None or not row["active"]:
            # Unknown or disabled: nothing stored, nothing said, same time spent.
            self._waste_a_verify(password if isinstance(password, str) else "")
            raise AuthenticationError(BAD_LOGIN)
        now = self._clock()
        if row["locked_until"] is not None and now < row["locked_until"]:
            raise AuthenticationError(self._locked_message(row, now))
        password_hash = row["password_hash"]
        if not isinstance(password, str) or not self._verify(password_hash, password):
            self._record_failure(name, password_hash, now)
            raise AuthenticationError(BAD_LOGIN)
        new_hash = None
        if self._hasher.check_needs_rehash(password_hash):
            new_hash = self._hasher.hash(password)  # the costs were raised since it was set
        if new_hash is None and not row["failures"] and row["locked_until"] is None:
            return self._user(row)  # nothing to reset: a login writes nothing
        with self._write() as conn:
            # `password_hash = ?`: a password changed meanwhile is not undone by this login.
            conn.execute(
                "UPDATE users SET failures = 0, last_failure = NULL, locked_until = NULL,"
                " password_hash = ? WHERE name = ? AND password_hash = ?",
                (new_hash or password_hash, name, password_hash),
            )
        return self._user(row)

    def _record_failure(self, name: str, password_hash: str, now: float) -> None:
        with self._write() as conn:
            row = self._row(conn, name)
            if row is None or row["password_hash"] != password_hash:
                return  # removed or given a new password while we checked: nothing to count
            failures = row["failures"] + 1
            locked_until = row["locked_until"]
            if failures >= self.max_failures:
                locked_until = now + self.lockout_seconds
                log.warning("user %s locked after %d failed logins", name, failures)
            conn.execute(
                "UPDATE users SET failures = ?, last_failure = ?, locked_until = ? WHERE name = ?",
                (failures, now, locked_until, name),
            )

    @staticmethod
    def _locked_message(row: sqlite3.Row, now: float) -> str:
        until = _utc_time(row["locked_until"], now)
        return (
            f"account {row['name']} is locked until {until} UTC "
            f"after {row['failures']} failed logins"
        )
