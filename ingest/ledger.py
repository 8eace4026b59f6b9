"""The ledger: what became of every file, by content SHA-256 (SQLite in VIGIE_HOME).

States:
- "writing": its chunks are being written to the store, still invisible
  (pending). A batch that finds this state at start was killed mid-file: it
  deletes those chunks (`Ledger.interrupted`) and the file is read again;
- "ingested": its chunks are published and searchable;
- "interrupted": found in "writing" by a later batch, its partial chunks
  deleted; read again by the next batch that includes it;
- "quarantined": it could not be read; `reason` says why. Not retried unless
  asked (`vigie ingest --retry-quarantined`);
- "refused": it was read but carries no classification marking and had no
  declared level; retried on every batch that includes it;
- "replaced": an older version of a file now ingested from the same path;
- "removed": taken out by `vigie remove`.

Every entry a batch records carries the batch's id (`batch`, its UTC start time,
e.g. "2026-11-26T09:48:12Z") and the user who ran it (`fed_by`); entries recorded
before batches had ids carry "".

Every change is one SQLite transaction with `synchronous=FULL`, so a power
cut leaves the ledger at the last committed state.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vigie.contracts import FileState, PendingMarking
from vigie.errors import Unavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    sha256     TEXT PRIMARY KEY,
    path       TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    pages      INTEGER NOT NULL DEFAULT 0,
    chunks     INTEGER NOT NULL DEFAULT 0,
    ocr_pages  INTEGER NOT NULL DEFAULT 0,
    level      INTEGER,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_path ON files(path);
CREATE INDEX IF NOT EXISTS files_state ON files(state);
"""
# Columns added after the first release, with their SQL type and default (a ledger
# opened for writing gains them; one opened read-only reads their default).
_ADDED_COLUMNS = {
    "caveats": ("TEXT NOT NULL DEFAULT '[]'", "'[]'"),
    "seconds": ("REAL NOT NULL DEFAULT 0", "0"),
    "rescan_pages": ("TEXT NOT NULL DEFAULT '[]'", "'[]'"),
    "batch": ("TEXT NOT NULL DEFAULT ''", "''"),
    "fed_by": ("TEXT NOT NULL DEFAULT ''", "''"),
    "audio_seconds": ("REAL NOT NULL DEFAULT 0", "0"),
    "review": ("TEXT NOT NULL DEFAULT ''", "''"),
    "to_confirm": ("TEXT NOT NULL DEFAULT '[]'", "'[]'"),
}
# In `LedgerEntry`'s field order.
_NAMES = (
    "sha256", "path", "file_name", "state", "reason", "pages", "chunks", "ocr_pages", "level",
    "caveats", "seconds", "rescan_pages", "updated_at", "batch", "fed_by", "audio_seconds",
    "review", "to_confirm",
)  # fmt: skip
_COLUMNS = ", ".join(_NAMES)

STATES = (
    FileState.INGESTED,
    FileState.WRITING,
    FileState.INTERRUPTED,
    FileState.QUARANTINED,
    FileState.REFUSED,
    FileState.REPLACED,
    FileState.REMOVED,
)


class LedgerError(Unavailable):
    """The ledger cannot be opened or written; the message says why and what to do."""


@dataclass
class LedgerEntry:
    sha256: str
    path: str
    file_name: str
    state: str
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    ocr_pages: int = 0
    level: int | None = None
    caveats: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rescan_pages: list[int] = field(default_factory=list)
    updated_at: float = 0.0
    batch: str = ""  # the id of the batch that recorded it ("" before batches had ids)
    fed_by: str = ""  # the user who ran that batch ("" before it was recorded)
    audio_seconds: float = 0.0  # a recording's length
    review: str = ""  # why a person should listen to a recording again ("" if not)
    to_confirm: list[PendingMarking] = field(default_factory=list)  # weak markings left out

    @classmethod
    def from_row(cls, row: tuple) -> LedgerEntry:
        values = list(row)
        values[9] = json.loads(values[9] or "[]")
        values[11] = json.loads(values[11] or "[]")
        values[17] = [PendingMarking.from_json(m) for m in json.loads(values[17] or "[]")]
        return cls(*values)


def _pending_json(pending: Sequence[PendingMarking]) -> str:
    return json.dumps([m.to_json() for m in pending], ensure_ascii=False)


def _batch_order(row: tuple[str, int]) -> tuple[str, int]:
    """A batch id's place in time: its start time, then its "-2", "-3"... suffix."""
    start, _, suffix = row[0].partition("Z-")
    return start.removesuffix("Z"), int(suffix) if suffix.isdigit() else 1


def _add_column(db: sqlite3.Connection, name: str, kind: str) -> None:
    try:
        db.execute(f"ALTER TABLE files ADD COLUMN {name} {kind}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):  # another process added it just now
            raise


def _check_writable(folder: Path) -> None:
    """Fail early, in words, when Vigie's home cannot be written."""
    probe = folder / ".write-test"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise LedgerError(
            f"VIGIE_HOME {folder} cannot be written: {exc.strerror or exc} "
            "(choose a writable folder with VIGIE_HOME, or free some disk space)"
        ) from exc


class Ledger:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        if not read_only:
            _check_writable(path.parent)
        try:
            if read_only:
                self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            else:
                # Used from the UI's script threads too, one batch at a time (Services).
                self._db = sqlite3.connect(
                    str(path), isolation_level=None, timeout=30, check_same_thread=False
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(files)")}
            for name, (kind, _) in _ADDED_COLUMNS.items():
                if name not in present and not read_only:
                    _add_column(self._db, name, kind)
                    present.add(name)
            # What reads select: a column an old, read-only ledger lacks reads as its default.
            self._select = ", ".join(
                f"{_ADDED_COLUMNS[name][1]} AS {name}"
                if name in _ADDED_COLUMNS and name not in present
                else name
                for name in _NAMES
            )
            self._has_batch = "batch" in present
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(
                f"cannot open the ledger {path}: {exc} (is VIGIE_HOME writable, "
                "and is there free disk space?)"
            ) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(
                f"cannot write the ledger {self.path}: {exc} (disk full or read-only?)"
            ) from exc

    # -- reads ---------------------------------------------------------------------------

    def get(self, sha256: str) -> LedgerEntry | None:
        row = self._db.execute(f"SELECT {self._select} FROM files WHERE sha256 = ?", (sha256,))
        found = row.fetchone()
        return LedgerEntry.from_row(found) if found else None

    def at_path(self, path: str, states: Iterable[str] = STATES) -> list[LedgerEntry]:
        wanted = tuple(states)
        marks = ", ".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT {self._select} FROM files WHERE path = ? AND state IN ({marks})",
            (path, *wanted),
        ).fetchall()
        return [LedgerEntry.from_row(row) for row in rows]

    def in_state(self, state: str) -> list[LedgerEntry]:
        rows = self._db.execute(
            f"SELECT {self._select} FROM files WHERE state = ? ORDER BY path", (state,)
        ).fetchall()
        return [LedgerEntry.from_row(row) for row in rows]

    def all_entries(self) -> list[LedgerEntry]:
        rows = self._db.execute(f"SELECT {self._select} FROM files ORDER BY path").fetchall()
        return [LedgerEntry.from_row(row) for row in rows]

    def find(self, key: str) -> list[LedgerEntry]:
        """Entries whose path is `key`, or whose SHA-256 starts with it (8 characters or more)."""
        select = f"SELECT {self._select} FROM files"
        rows = self._db.execute(f"{select} WHERE path = ?", (key,)).fetchall()
        if not rows and len(key) >= 8:
            rows = self._db.execute(
                f"{select} WHERE sha256 LIKE ?", (key.lower() + "%",)
            ).fetchall()
        return [LedgerEntry.from_row(row) for row in rows]

    def summary(self) -> dict[str, dict[str, int]]:
        """Per state: files, pages, chunks, OCRed pages."""
        rows = self._db.execute(
            "SELECT state, COUNT(*), SUM(pages), SUM(chunks), SUM(ocr_pages) "
            "FROM files GROUP BY state"
        ).fetchall()
        return {
            state: {"files": n, "pages": pages or 0, "chunks": chunks or 0, "ocr_pages": ocr or 0}
            for state, n, pages, chunks, ocr in rows
        }

    def totals(self) -> dict[str, int]:
        return {state: values["files"] for state, values in self.summary().items()}

    def batches(self) -> list[tuple[str, int]]:
        """Every batch that recorded a file, newest first, with how many of its files are
        ingested now (0 when all were quarantined, refused, replaced or removed since)."""
        if not self._has_batch:
            return []
        rows = self._db.execute(
            "SELECT batch, SUM(state = 'ingested') FROM files WHERE batch != '' GROUP BY batch"
        ).fetchall()
        return sorted(((batch, n or 0) for batch, n in rows), key=_batch_order, reverse=True)

    def in_batch(self, batch: str) -> list[LedgerEntry]:
        """Every entry `batch` recorded, in any state, by path (keep the "ingested" ones
        for the documents it put in the store)."""
        if not self._has_batch or not batch:
            return []
        rows = self._db.execute(
            f"SELECT {self._select} FROM files WHERE batch = ? ORDER BY path", (batch,)
        ).fetchall()
        return [LedgerEntry.from_row(row) for row in rows]

    def batch_exists(self, batch: str) -> bool:
        if not self._has_batch:
            return False
        found = self._db.execute("SELECT 1 FROM files WHERE batch = ? LIMIT 1", (batch,))
        return found.fetchone() is not None

    # -- writes --------------------------------------------------------------------------

    def record(self, entry: LedgerEntry, replaced: Iterable[str] = ()) -> None:
        """Write `entry`; in the same transaction, mark the `replaced` SHA-256s as replaced."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO files ({_COLUMNS}) "
                f"VALUES ({', '.join('?' * len(_NAMES))})",
                (
                    entry.sha256,
                    entry.path,
                    entry.file_name,
                    entry.state,
                    entry.reason,
                    entry.pages,
                    entry.chunks,
                    entry.ocr_pages,
                    entry.level,
                    json.dumps(entry.caveats, ensure_ascii=False),
                    round(entry.seconds, 3),
                    json.dumps(entry.rescan_pages),
                    now,
                    entry.batch,
                    entry.fed_by,
                    round(entry.audio_seconds, 2),
                    entry.review,
                    _pending_json(entry.to_confirm),
                ),
            )
            for sha256 in replaced:
                db.execute(
                    "UPDATE files SET state = 'replaced', updated_at = ? WHERE sha256 = ?",
                    (now, sha256),
                )

    def set_state(self, sha256: str, state: str, reason: str = "") -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE files SET state = ?, reason = ?, updated_at = ? WHERE sha256 = ?",
                (state, reason, time.time(), sha256),
            )

    def set_classification(self, sha256: str, level: int, caveats: list[str]) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE files SET level = ?, caveats = ?, updated_at = ? WHERE sha256 = ?",
                (level, json.dumps(caveats, ensure_ascii=False), time.time(), sha256),
            )

    def set_to_confirm(self, sha256: str, pending: Sequence[PendingMarking]) -> None:
        """The weak markings still to confirm (none once a person has decided)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE files SET to_confirm = ?, updated_at = ? WHERE sha256 = ?",
                (_pending_json(pending), time.time(), sha256),
            )

    def close(self) -> None:
        self._db.close()
