"""A tamper-evident, append-only, hash-chained audit trail.

Who asked what, who logged in, who changed a user: an accreditation wants
that written down so that nobody, an administrator included, can quietly
rewrite it afterwards. A plain log file can be edited; this one cannot be
edited without `verify()` noticing, because:

* every record carries the SHA-256 of its own canonical content (`hash`),
  so a record edited by hand no longer matches its hash;
* every record carries the hash of the record before it (`prev`), so a
  record edited *and* re-hashed breaks the link from its successor, and a
  record deleted, inserted or moved breaks the links or the `seq` numbering;
* a small head anchor beside the trail (`audit.jsonl.head`) holds the seq
  and hash of the last record and is rewritten on every append, so records
  cut from the end, which leave a perfectly valid shorter chain, are caught.

What it does not do: someone able to rewrite the whole file *and* the head
(recomputing every hash) produces a trail that verifies. Catching that needs
an anchor kept elsewhere (a copy of the head on paper, in a SIEM, on
write-once media): `export()` is there for that.

The file is JSON Lines, one record per line, keys in the order
`seq, time, actor, action, details, prev, hash`. `hash` is the SHA-256 of
`json.dumps(record_without_hash, ensure_ascii=False, sort_keys=True,
separators=(",", ":"))` encoded as UTF-8, so anyone can recheck it with a
few lines of any language.

Several processes (the CLI and the UI at once) append safely: every append
holds an exclusive `fcntl.flock` on `audit.jsonl.lock`; readers take a shared
lock just long enough to snapshot the file's length and the head, then read
without blocking writers. This module imports only the standard library.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from vigie.errors import Unavailable

GENESIS = "0" * 64


class AuditAction(StrEnum):
    """Every action the trail records: the one registry (a record names one of these;
    `vigie audit export` and a SIEM can rely on the list)."""

    # signing in and out
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    SESSION_EXPIRED = "session_expired"
    DENIED = "denied"  # a role that does not allow the action
    # reading the archive
    SEARCH = "search"
    QUESTION = "question"
    ANSWER = "answer"
    TRANSLATE = "translate"
    SUMMARIZE = "summarize"
    SIMILAR = "similar"
    VIEW_PAGE = "view_page"
    VIEW_DOCUMENT = "view_document"
    TRANSCRIPT = "transcript"  # a recording's transcript printed or shown
    LISTEN = "listen"  # a recording played from a cited second
    EXPORT = "export"  # an answer saved as a file
    EVAL = "eval"
    CONVERSATIONS_LISTED = "conversations_listed"
    CONVERSATION_READ = "conversation_read"  # a stored conversation shown again, re-checked
    CONVERSATION_DELETED = "conversation_deleted"
    # feeding it
    INGEST_BATCH = "ingest_batch"
    QUARANTINE = "quarantine"
    REMOVE = "remove"
    STATUS = "status"
    CONFIRM_MARKING = "confirm_marking"  # a weak marking confirmed: the document raised
    DISMISS_MARKING = "dismiss_marking"  # a weak marking dismissed: its level stays
    # administration
    USER_ADDED = "user_added"
    USER_CHANGED = "user_changed"
    USERS_LISTED = "users_listed"
    PASSWORD_CHANGED = "password_changed"
    TOKEN_CREATED = "token_created"  # an API token made (its id, never its secret)
    TOKEN_REVOKED = "token_revoked"
    AUDIT_VERIFIED = "audit_verified"
    AUDIT_EXPORTED = "audit_exported"


ACTIONS = frozenset(str(a) for a in AuditAction)

# The keys of a record, in the order they are written.
KEYS = ("seq", "time", "actor", "action", "details", "prev", "hash")
_HEX = frozenset("0123456789abcdef")
_READ_BLOCK = 64 * 1024


class AuditError(Unavailable):
    """The trail cannot be written or read (permissions, full disk, a path that is a file).

    A separate type so that callers can tell "the audit trail is unavailable"
    (an operational fault to show to the operator) from a programming error.
    """


def canonical_json(fields: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, raw UTF-8.

    Sorted keys make the hash independent of the order in which a dict was
    built; `ensure_ascii=False` keeps the hashed bytes equal to the stored ones.
    """
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def record_hash(fields: Mapping[str, Any]) -> str:
    """The hex SHA-256 of a record's canonical JSON, its `hash` key left out."""
    content = {key: value for key, value in fields.items() if key != "hash"}
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and "Z": fixed width, so it also sorts as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken to be UTC already (as the trail is)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def jsonable(value: object) -> Any:
    """`value` as plain JSON data, so that any detail can be recorded and re-hashed.

    The conversion is deterministic, because the stored form is what gets
    hashed and must read back identically:

    * str, int, bool, None and finite floats stay as they are (subclasses
      such as IntEnum become the plain base value);
    * dicts keep their order; a non-string key becomes `str(key)`;
    * lists and tuples become lists in their own order (a tuple's order means
      something, e.g. a page range);
    * sets and frozensets become sorted lists (their iteration order is
      arbitrary; mixed types are sorted by their canonical JSON);
    * anything else (Path, datetime, bytes, NaN, infinity, objects) becomes
      `str(value)`.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Mapping):
        return {
            (str.__str__(key) if isinstance(key, str) else str(key)): jsonable(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        items = [jsonable(item) for item in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=canonical_json)
    return str(value)


@dataclass(frozen=True)
class AuditRecord:
    """One line of the trail. `details` is plain JSON data (see `jsonable`)."""

    seq: int
    time: str
    actor: str
    action: str
    details: dict
    prev: str
    hash: str

    def to_dict(self) -> dict:
        """The record as written, keys in file order."""
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "details": self.details,
            "prev": self.prev,
            "hash": self.hash,
        }

    def to_line(self) -> str:
        """The record's line in the trail (and in an export), without the newline."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @property
    def moment(self) -> datetime:
        """`time` as an aware UTC datetime, for filtering."""
        return _as_utc(datetime.fromisoformat(self.time))

    @classmethod
    def from_dict(cls, data: object) -> AuditRecord:
        """Check the shape of one parsed line; ValueError says what is wrong with it.

        Only the shape: whether the hash matches and the chain holds is
        `AuditTrail.verify()`'s business.
        """
        if not isinstance(data, dict):
            raise ValueError(f"not a JSON object but {type(data).__name__}")
        missing = [key for key in KEYS if key not in data]
        if missing:
            raise ValueError(f"missing keys: {', '.join(missing)}")
        extra = sorted(set(data) - set(KEYS))
        if extra:
            raise ValueError(f"unexpected keys: {', '.join(extra)}")
        seq = data["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"seq is not a positive integer: {seq!r}")
        for key in ("time", "actor", "action", "prev", "hash"):
            if not isinstance(data[key], str):
                raise ValueError(f"{key} is not a string")
        if not isinstance(data["details"], dict):
            raise ValueError("details is not a JSON object")
        for key in ("prev", "hash"):
            if len(data[key]) != 64 or not set(data[key]) <= _HEX:
                raise ValueError(f"{key} is not a hex SHA-256")
        try:
            _as_utc(datetime.fromisoformat(data["time"]))
        except ValueError:
            raise ValueError(f"time is not ISO 8601: {data['time']!r}") from None
        return cls(**{key: data[key] for key in KEYS})


@dataclass(frozen=True)
class Verification:
    """The outcome of `AuditTrail.verify()`.

    `first_bad` is the 1-based line of the first bad record; for records cut
    from the end it is the seq that should come next; it is None when the
    trail is intact, and also when no record is at fault but the head anchor
    is missing or unreadable.
    """

    ok: bool
    records: int
    first_bad: int | None
    reason: str


@dataclass(frozen=True)
class _Head:
    seq: int
    hash: str


class _BadLine(ValueError):
    """A line that is not a record; the message says why."""


def _parse_line(raw: bytes) -> AuditRecord:
    """One line of the file (newline included or not) as a record, or _BadLine."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadLine(f"not UTF-8 ({exc.reason})") from None
    if not text.strip():
        raise _BadLine("empty line")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"not valid JSON ({exc.msg})") from None
    try:
        return AuditRecord.from_dict(data)
    except ValueError as exc:
        raise _BadLine(str(exc)) from None


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (signals, quotas): loop until all is out."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    """Make a created or renamed entry durable: the file's fsync does not cover its name."""
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditTrail:
    """The trail at `path` (JSON Lines), with `path.head` and `path.lock` beside it.

    `clock` exists for tests (a fixed or stepping time); by default the
    current UTC time. Cheap to construct: nothing is opened until used.
    """

    def __init__(self, path: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- writing ---------------------------------------------------------

    def record(self, actor: str, action: str, /, **details: object) -> AuditRecord:
        """Append one record and return it; it is on disk (fsync) when this returns.

        `actor` and `action` are positional-only so that a detail may itself
        be called `actor` or `action`. Details are converted by `jsonable()`:
        tuples become lists, sets and frozensets sorted lists, anything that
        is not JSON its `str()`. Raises AuditError when the trail cannot be
        written: an action that must be audited should not go ahead silently.
        """
        if not isinstance(actor, str):
            raise TypeError(f"actor must be a string, got {type(actor).__name__}")
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}: add it to AuditAction")
        clean = jsonable(details)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                last_seq, last_hash, needs_newline = self._tail_state()
                fields: dict[str, Any] = {
                    "seq": last_seq + 1,
                    "time": _format_time(self._clock()),
                    "actor": str.__str__(actor),
                    "action": str.__str__(action),
                    "details": clean,
                    "prev": last_hash,
                }
                record = AuditRecord(**fields, hash=record_hash(fields))
                line = record.to_line() + "\n"
                if needs_newline:
                    # A torn or hand-edited last line: keep it on its own line
                    # (verify will name it) rather than gluing this record to it.
                    line = "\n" + line
                created = not self.path.exists()
                fd = os.open(
                    self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
                )
                try:
                    _write_all(fd, line.encode("utf-8"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if created:
                    _fsync_dir(self.path.parent)
                self._write_head(_Head(record.seq, record.hash))
            finally:
                os.close(lock_fd)  # also releases the flock
        except OSError as exc:
            raise AuditError(
                f"cannot write the audit trail {self.path}: {exc.strerror or exc}"
            ) from exc
        return record

    def _tail_state(self) -> tuple[int, str, bool]:
        """(last seq, last hash, file lacks a final newline), under the exclusive lock.

        The head is the reference. One exception: when the last line is the
        record right after the head and links to it, the previous append
        wrote its line but died before rewriting the head; carrying on from
        the head would then number two records alike. Without a head (never
        written, or removed), the last line is used; without either, genesis.
        """
        try:
            head: _Head | None = self._read_head()
        except (FileNotFoundError, ValueError):
            head = None
        last_raw, needs_newline = self._last_line()
        last: AuditRecord | None = None
        if last_raw is not None:
            try:
                last = _parse_line(last_raw)
            except _BadLine:
                last = None
        if head is not None:
            if last is not None and last.seq == head.seq + 1 and last.prev == head.hash:
                return last.seq, last.hash, needs_newline
            return head.seq, head.hash, needs_newline
        if last is not None:
            return last.seq, last.hash, needs_newline
        if last_raw is None:
            return 0, GENESIS, False
        # No head and a last line that is not a record: number after the lines
        # and link to that line's raw bytes; verify will report the bad line.
        lines = sum(1 for _ in self._lines(self.path.stat().st_size))
        return lines, hashlib.sha256(last_raw.rstrip(b"\n")).hexdigest(), needs_newline

    def _last_line(self) -> tuple[bytes | None, bool]:
        """The file's last line (None when absent or empty) and whether "\\n" is missing.

        Read backwards in blocks so that an append costs the same on a trail
        of ten records as on one of ten million.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None, False
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                return None, False
            end = size
            if os.pread(fd, 1, size - 1) == b"\n":
                end = size - 1
            needs_newline = end == size
            chunks: list[bytes] = []
            position = end
            while position > 0:
                start = max(0, position - _READ_BLOCK)
                block = os.pread(fd, position - start, start)
                cut = block.rfind(b"\n")
                if cut >= 0:
                    chunks.append(block[cut + 1 :])
                    break
                chunks.append(block)
                position = start
            return b"".join(reversed(chunks)), needs_newline
        finally:
            os.close(fd)

    def _write_head(self, head: _Head) -> None:
        """Rewrite the head atomically: a crash leaves the old head or the new, never half."""
        temporary = self.head_path.with_name(self.head_path.name + ".tmp")
        data = json.dumps({"seq": head.seq, "hash": head.hash}) + "\n"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, data.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.head_path)
        _fsync_dir(self.head_path.parent)

    # -- reading ---------------------------------------------------------

    def _read_head(self) -> _Head:
        """The head anchor; FileNotFoundError when absent, ValueError when malformed."""
        text = self.head_path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        seq, digest = data.get("seq"), data.get("hash")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError(f"seq is not a non-negative integer: {seq!r}")
        if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
            raise ValueError("hash is not a hex SHA-256")
        return _Head(seq, digest)

    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        """Hold a shared lock, if the lock file exists, so no append is half-seen.

        Readers do not create the lock file (a read-only auditor may verify a
        copy); before the first append ever there is nothing to race with.
        """
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _snapshot(self) -> tuple[int, _Head | None, str | None]:
        """(file length, head or None, why the head is unreadable or None), read together.

        Taken under the shared lock, the length covers only whole appends and
        the head matches it; the lines are then read without the lock, up to
        that length, so a long verify or export never blocks the application.
        """
        with self._shared_lock():
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            try:
                return size, self._read_head(), None
            except FileNotFoundError:
                return size, None, None
            except (ValueError, UnicodeDecodeError) as exc:
                return size, None, str(exc)

    def _lines(self, size: int) -> Iterator[bytes]:
        """The file's lines (newline kept), up to `size` bytes.

        Split on b"\\n" only: the records are written with ensure_ascii=False,
        so text-mode splitting would also cut at U+2028 inside a string.
        """
        if size <= 0:
            return
        remaining = size
        with open(self.path, "rb") as handle:
            for raw in handle:
                if len(raw) > remaining:
                    raw = raw[:remaining]
                remaining -= len(raw)
                yield raw
                if remaining <= 0:
                    return

    def records(self, since: datetime | None = None) -> Iterator[AuditRecord]:
        """The records in file order; with `since`, those whose time is at or after it.

        A naive `since` is taken as UTC. Every record is tested (no early
        stop), since a clock set back makes times non-monotonic. A line that
        is not a record raises AuditError naming it: an export must not
        silently skip what it cannot read (run `verify()` for the diagnosis).
        """
        start = _as_utc(since) if since is not None else None
        try:
            size, _, _ = self._snapshot()
            for number, raw in enumerate(self._lines(size), start=1):
                try:
                    record = _parse_line(raw)
                except _BadLine as exc:
                    raise AuditError(
                        f"{self.path} line {number} is not an audit record ({exc}); "
                        "run the verification"
                    ) from None
                if start is None or record.moment >= start:
                    yield record
        except OSError as exc:
            raise AuditError(
                f"cannot read the audit trail {self.path}: {exc.strerror or exc}"
            ) from exc

    def export(self, out: TextIO, since: datetime | None = None) -> int:
        """Write the records (optionally since a time) as JSON Lines; return how many.

        Each line is exactly the trail's line, hash included, so a SIEM or an
        auditor can recheck every hash and link of an unfiltered export.
        """
        count = 0
        for record in self.records(since):
            out.write(record.to_line() + "\n")
            count += 1
        return count

    # -- verification ----------------------------------------------------

    def verify(self) -> Verification:
        """Recheck every hash, link and number, then the head; name the first fault.

        One streaming pass checks each line in order: that it is a record,
        that its hash matches its content, that its seq is its line number
        and its prev the hash of the line before. At the first break a second
        pass gathers every line's (seq, hash, prev) to tell an insertion from
        a deletion or a reordering. Reading errors raise AuditError.
        """
        try:
            return self._verify()
        except OSError as exc:
            raise AuditError(
                f"cannot read the audit trail {self.path}: {exc.strerror or exc}"
            ) from exc

    def _verify(self) -> Verification:
        size, head, head_problem = self._snapshot()
        count = 0
        previous = GENESIS
        failure: tuple[int, str] | None = None
        break_at: int | None = None  # a line with a sound self-hash that does not link
        head_line_hash: str | None = None
        for number, raw in enumerate(self._lines(size), start=1):
            count = number
            if failure is not None or break_at is not None:
                continue
            try:
                record = _parse_line(raw)
            except _BadLine as exc:
                failure = (number, f"line {number}: not a valid audit record ({exc})")
                continue
            if record_hash(record.to_dict()) != record.hash:
                failure = (
                    number,
                    f"record {record.seq} (line {number}): "
                    "its hash does not match its content (edited)",
                )
                continue
            if record.seq != number or record.prev != previous:
                break_at = number
                continue
            if head is not None and record.seq == head.seq:
                head_line_hash = record.hash
            previous = record.hash
        if failure is not None:
            return Verification(False, count, *failure)
        if break_at is not None:
            return Verification(False, count, *self._diagnose_break(size, break_at))
        return self._check_head(count, previous, head, head_problem, head_line_hash)

    def _check_head(
        self,
        count: int,
        last_hash: str,
        head: _Head | None,
        head_problem: str | None,
        head_line_hash: str | None,
    ) -> Verification:
        """The chain is sound from line 1 to `count`: does it end where the head says?"""
        name = self.head_path.name
        if head_problem is not None:
            return Verification(
                False, count, None, f"the head anchor {name} is unreadable ({head_problem})"
            )
        if head is None:
            if count == 0:
                return Verification(True, 0, None, "")
            return Verification(
                False,
                count,
                None,
                f"the head anchor {name} is missing: it is rewritten on every append, so "
                "it was removed (records may also have been removed from the end)",
            )
        if head.seq > count:
            return Verification(
                False,
                count,
                count + 1,
                f"the trail ends at record {count} but its head says {head.seq}: "
                "records were removed from the end",
            )
        if head.seq == count:
            if head.hash == last_hash:
                return Verification(True, count, None, "")
            return Verification(
                False,
                count,
                count,
                f"record {count} (line {count}), the last, does not match its head anchor: "
                "it was altered (its hash recomputed) or replaced",
            )
        if head.seq > 0 and head_line_hash != head.hash:
            return Verification(
                False,
                count,
                head.seq,
                f"record {head.seq} (line {head.seq}) does not match the head anchor, "
                f"which says the trail ends there: records {head.seq}..{count} "
                "were altered or replaced",
            )
        first = head.seq + 1
        return Verification(
            False,
            count,
            first,
            f"record {first} (line {first}) comes after the head anchor (record {head.seq}): "
            f"records {first}..{count} were added without going through the trail (inserted)",
        )

    def _diagnose_break(self, size: int, line: int) -> tuple[int, str]:
        """(first bad line, reason) for a well-formed record that does not link on.

        The record at `line` has a sound self-hash but its seq is not `line`
        or its prev is not the hash of line - 1. Where its prev points tells
        what happened: nowhere (its predecessor was removed, or altered and
        re-hashed), to a later line (reordered), or to an earlier line than
        the one before it (the lines skipped over were inserted, unless the
        chain does not go on from this record, which is then the intruder).
        """
        links: list[tuple[int, str, str] | None] = []
        for raw in self._lines(size):
            try:
                record = _parse_line(raw)
            except _BadLine:
                links.append(None)
                continue
            links.append((record.seq, record.hash, record.prev))
        where: dict[str, list[int]] = {}
        for number, link in enumerate(links, start=1):
            if link is not None:
                where.setdefault(link[1], []).append(number)
        here = links[line - 1] if line <= len(links) else None
        if here is None:  # the file changed between the two passes
            return line, f"line {line}: the chain breaks here (the trail changed while read)"
        seq, own_hash, prev = here
        label = f"record {seq} (line {line})"
        if prev == GENESIS:
            target: int | None = 0
        else:
            candidates = where.get(prev, [])
            before = [n for n in candidates if n < line]
            target = before[-1] if before else (candidates[0] if candidates else None)

        if target == line - 1:
            return line, (
                f"{label}: sequence numbers are not consecutive (expected {line} after "
                f"record {line - 1}): it was altered or inserted"
            )
        if target is None:
            if seq > line:
                gone = (
                    f"record {line} was" if seq == line + 1 else f"records {line}..{seq - 1} were"
                )
                return line, f"{label}: expected record {line} here (seq gap): {gone} removed"
            if seq == line:
                if line == 1:
                    return line, (
                        f"{label}: its prev is not the genesis hash, so it does not start "
                        "the chain: the records before it were removed or it was altered"
                    )
                return line, (
                    f"{label}: its prev does not match the hash of record {line - 1}: "
                    f"the chain breaks between records {line - 1} and {line}; record "
                    f"{line - 1} was altered (its hash recomputed) or removed"
                )
            return line, (
                f"{label}: expected record {line}; its seq repeats an earlier one and its prev "
                "links to no record of the trail: it was inserted or altered"
            )
        if target > line:
            return line, (
                f"{label}: it links to the record at line {target}, which comes after it: "
                "records are out of order (reordered)"
            )
        # The record links back past the line before it: lines target+1 .. line-1
        # sit between two records that follow each other.
        skipped = f"line {line - 1}" if target == line - 2 else f"lines {target + 1}..{line - 1}"
        following = links[line] if line < len(links) else None
        goes_on = following is not None and following[2] == own_hash
        try:
            head_hash: str | None = self._read_head().hash
        except (OSError, ValueError):
            head_hash = None
        ends_at_head = line == len(links) and head_hash == own_hash
        if goes_on or ends_at_head:
            intruder = links[target]
            intruder_label = (
                f"record {intruder[0]} (line {target + 1})"
                if intruder is not None
                else f"line {target + 1}"
            )
            return target + 1, (
                f"{intruder_label}: not part of the chain: {label} links directly to "
                f"{'the genesis' if target == 0 else f'line {target}'}, so {skipped} "
                f"{'was' if target == line - 2 else 'were'} inserted"
            )
        return line, (
            f"{label}: it links back to "
            f"{'the genesis' if target == 0 else f'line {target}'}, skipping {skipped}, "
            "and the chain does not go on from it: it was inserted or duplicated"
        )
