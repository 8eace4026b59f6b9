"""The ledger: what became of every file, by content SHA-256 (SQLite in VIGIE_HOME).

Chunks are written to the store first, then the ledger says "ingested": a
run killed in between re-writes the same deterministic chunk ids, so nothing
is duplicated and nothing is lost.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

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
"""


@dataclass
class LedgerEntry:
    sha256: str
    path: str
    file_name: str
    state: str
    reason: str
    pages: int
    chunks: int
    ocr_pages: int
    level: int | None


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def get(self, sha256: str) -> LedgerEntry | None:
        row = self._db.execute(
            "SELECT sha256, path, file_name, state, reason, pages, chunks, ocr_pages, level "
            "FROM files WHERE sha256 = ?",
            (sha256,),
        ).fetchone()
        return LedgerEntry(*row) if row else None

    def ingested_at_path(self, path: str) -> list[LedgerEntry]:
        rows = self._db.execute(
            "SELECT sha256, path, file_name, state, reason, pages, chunks, ocr_pages, level "
            "FROM files WHERE path = ? AND state = 'ingested'",
            (path,),
        ).fetchall()
        return [LedgerEntry(*row) for row in rows]

    def record(self, entry: LedgerEntry) -> None:
        self._db.execute(
            "INSERT INTO files (sha256, path, file_name, state, reason, pages, chunks, "
            "ocr_pages, level, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET path=excluded.path, "
            "file_name=excluded.file_name, state=excluded.state, reason=excluded.reason, "
            "pages=excluded.pages, chunks=excluded.chunks, ocr_pages=excluded.ocr_pages, "
            "level=excluded.level, updated_at=excluded.updated_at",
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
                time.time(),
            ),
        )

    def mark_replaced(self, sha256: str) -> None:
        self._db.execute(
            "UPDATE files SET state = 'replaced', updated_at = ? WHERE sha256 = ?",
            (time.time(), sha256),
        )

    def totals(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall()
        return {state: count for state, count in rows}

    def close(self) -> None:
        self._db.close()
