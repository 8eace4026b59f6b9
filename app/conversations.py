"""Conversations: each user's questions and answers, kept so that a follow-up can be asked.

Stored in `VIGIE_HOME/conversations.sqlite3` (owner-only, like the ledger), one row
per conversation and one per turn: the question as typed, the standalone question it
was asked as, the answer, its label and the passages it cited (document, chunk, place,
level, caveats). Every read is by its owner only: no one, an admin included, reads
another user's conversations, and one that is not theirs is unknown, in the same words
as one that never existed. Reading a conversation again is `Session.conversation`'s
job: it re-checks each cited passage against the reader's current clearance.

A conversation untouched for `conversation_retention_days` is deleted when the store
opens; a deleted one is gone from the file (the database is vacuumed), not only marked.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from vigie.contracts import Level
from vigie.errors import NotFound, Unavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id       TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    title    TEXT NOT NULL,
    created  REAL NOT NULL,
    updated  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    question     TEXT NOT NULL,
    asked        TEXT NOT NULL,
    answer       TEXT NOT NULL,
    refused      INTEGER NOT NULL,
    label        TEXT NOT NULL,
    cited        TEXT NOT NULL,
    created      REAL NOT NULL,
    PRIMARY KEY (conversation, number)
);
"""


class ConversationNotFound(NotFound):
    """No conversation of this user has that id."""


class ConversationStoreError(Unavailable):
    """The conversations file cannot be opened or written."""


@dataclass(frozen=True)
class CitedPassage:
    """A passage a stored answer cited: enough to re-check it and to show where it was."""

    document_id: str
    chunk_id: str
    file_name: str
    place: str  # "page 3", "01:21-01:35"
    level: Level
    caveats: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"document_id": self.document_id, "chunk_id": self.chunk_id,
                "file_name": self.file_name, "place": self.place, "level": int(self.level),
                "caveats": list(self.caveats)}  # fmt: skip

    @classmethod
    def from_json(cls, stored: dict) -> CitedPassage:
        return cls(stored["document_id"], stored["chunk_id"], stored["file_name"],
                   stored["place"], Level(stored["level"]), tuple(stored["caveats"]))  # fmt: skip


@dataclass
class Turn:
    number: int
    question: str  # as typed
    asked: str  # the standalone question it was answered as
    answer: str
    refused: bool
    label: str
    cited: list[CitedPassage] = field(default_factory=list)
    withdrawn: bool = False  # set on reading: a cited passage is above the reader now

    def to_dict(self) -> dict:
        return {
            "n": self.number,
            "question": self.question,
            "asked": self.asked,
            "answer": self.answer,
            "refused": self.refused,
            "label": self.label,
            "withdrawn": self.withdrawn,
            "sources": [
                {"document": c.file_name, "where": c.place, "level": c.level.label}
                for c in self.cited
            ],  # fmt: skip
        }


@dataclass
class Conversation:
    id: str
    owner: str
    title: str
    created: float
    updated: float
    turns: list[Turn] = field(default_factory=list)

    @property
    def withdrawn(self) -> bool:
        return any(turn.withdrawn for turn in self.turns)

    def listed(self) -> dict:
        """What a list of conversations shows of this one (`vigie conversations list`, the
        API's `GET /v1/conversations`)."""
        return {
            "id": self.id,
            "title": self.title,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.updated)),
        }

    def to_dict(self) -> dict:
        return self.listed() | {
            "withdrawn": self.withdrawn,
            "turns": [turn.to_dict() for turn in self.turns],
        }


class ConversationStore:
    def __init__(self, path: Path, retention_days: float) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not path.exists()
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            if fresh:
                os.chmod(path, 0o600)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConversationStoreError(f"cannot open the conversations at {path}: {exc}") from exc
        self.expired = self._expire(time.time() - retention_days * 86400)

    def close(self) -> None:
        self._db.close()

    def _expire(self, before: float) -> int:
        gone = self._db.execute("DELETE FROM conversations WHERE updated < ?", (before,)).rowcount
        if gone:
            self._db.execute("VACUUM")
        return gone

    def start(self, owner: str, title: str) -> Conversation:
        now = time.time()
        conversation = Conversation(secrets.token_hex(6), owner, title[:120], now, now)
        self._db.execute(
            "INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
            (conversation.id, owner, conversation.title, now, now),
        )
        return conversation

    def add_turn(self, conversation: Conversation, turn: Turn) -> None:
        now = time.time()
        cited = json.dumps([c.to_json() for c in turn.cited], ensure_ascii=False)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation.id, turn.number, turn.question, turn.asked, turn.answer,
                 int(turn.refused), turn.label, cited, now),
            )  # fmt: skip
            self._db.execute(
                "UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation.id)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        conversation.turns.append(turn)
        conversation.updated = now

    def owned(self, owner: str) -> list[Conversation]:
        """The owner's conversations, newest first, without their turns."""
        rows = self._db.execute(
            "SELECT id, owner, title, created, updated FROM conversations WHERE owner = ? "
            "ORDER BY updated DESC",
            (owner,),
        ).fetchall()
        return [Conversation(*row) for row in rows]

    def get(self, owner: str, conversation_id: str) -> Conversation:
        """The owner's conversation `conversation_id` ("last": their latest), with its
        turns; another user's is unknown."""
        if conversation_id == "last":
            mine = self.owned(owner)
            if not mine:
                raise ConversationNotFound("you have no conversation to continue yet")
            conversation_id = mine[0].id
        row = self._db.execute(
            "SELECT id, owner, title, created, updated FROM conversations "
            "WHERE id = ? AND owner = ?",
            (conversation_id, owner),
        ).fetchone()
        if row is None:
            raise ConversationNotFound(
                f"no conversation of yours has the id {conversation_id!r} "
                "(see `vigie conversations list`)"
            )
        conversation = Conversation(*row)
        for number, question, asked, answer, refused, label, cited in self._db.execute(
            "SELECT number, question, asked, answer, refused, label, cited FROM turns "
            "WHERE conversation = ? ORDER BY number",
            (conversation.id,),
        ):
            passages = [CitedPassage.from_json(c) for c in json.loads(cited)]
            conversation.turns.append(
                Turn(number, question, asked, answer, bool(refused), label, passages)
            )
        return conversation

    def delete(self, owner: str, conversation_id: str) -> Conversation:
        """Delete the owner's conversation for good (the file is compacted)."""
        conversation = self.get(owner, conversation_id)
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation.id,))
        self._db.execute("VACUUM")
        return conversation
