"""The audit trail: a sound chain verifies, and every kind of tampering is caught and located.

The trail is rebuilt in each test under tmp_path with a stepping clock, and
tampered with by editing the file as an intruder would (text in, text out),
so the tests exercise the on-disk format and not only the API. Hashes are
recomputed here with hashlib and json directly, independently of the module.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import re
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from vigie.audit import GENESIS, AuditError, AuditRecord, AuditTrail, record_hash

T0 = datetime(2026, 11, 26, 7, 1, 2, 123456, tzinfo=UTC)
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def stepping_clock(start: datetime = T0, step: timedelta = timedelta(minutes=1)) -> Callable:
    """A clock that moves `step` on every reading, so each record has a known time."""
    moments = iter(start + step * n for n in range(10_000))
    return lambda: next(moments)


def sha256_of(fields: dict) -> str:
    """The spec's hash, computed here without the module: canonical JSON of all but `hash`."""
    content = {key: value for key, value in fields.items() if key != "hash"}
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_trail(tmp_path: Path, count: int = 5) -> AuditTrail:
    trail = AuditTrail(tmp_path / "home" / "audit.jsonl", clock=stepping_clock())
    for n in range(1, count + 1):
        trail.record(f"user{n}", "question", text=f"question {n}", n=n)
    return trail


def read_lines(trail: AuditTrail) -> list[str]:
    return trail.path.read_text(encoding="utf-8").splitlines()


def write_lines(trail: AuditTrail, lines: list[str]) -> None:
    trail.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def line_of(fields: dict) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


# -- a sound trail -----------------------------------------------------------


def test_a_chain_of_records_verifies_and_follows_the_format(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 5)

    result = trail.verify()
    assert (result.ok, result.records, result.first_bad, result.reason) == (True, 5, None, "")

    lines = read_lines(trail)
    assert len(lines) == 5
    previous = GENESIS
    for n, line in enumerate(lines, start=1):
        data = json.loads(line)
        assert list(data) == ["seq", "time", "actor", "action", "details", "prev", "hash"]
        assert data["seq"] == n
        assert TIME.match(data["time"]), data["time"]
        assert data["time"] == (T0 + timedelta(minutes=n - 1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert (data["actor"], data["action"]) == (f"user{n}", "question")
        assert data["details"] == {"text": f"question {n}", "n": n}
        assert data["prev"] == previous
        assert data["hash"] == sha256_of(data)
        previous = data["hash"]

    head = json.loads(trail.head_path.read_text(encoding="utf-8"))
    assert head == {"seq": 5, "hash": previous}
    assert trail.head_path == tmp_path / "home" / "audit.jsonl.head"


def test_record_returns_what_is_stored(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl", clock=stepping_clock())
    first = trail.record("", "ingest_batch", files=3, actor="not the actor")
    second = trail.record("alice", "login", channel="ui")

    assert first.seq == 1 and first.prev == GENESIS and first.actor == ""
    # positional-only actor/action: a detail may be called "actor".
    assert first.details == {"files": 3, "actor": "not the actor"}
    assert second.prev == first.hash
    assert second.hash == sha256_of(second.to_dict()) == record_hash(second.to_dict())
    assert list(trail.records()) == [first, second]


def test_a_missing_or_empty_trail_verifies_with_no_records(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "nowhere" / "audit.jsonl")
    result = trail.verify()
    assert (result.ok, result.records, result.first_bad, result.reason) == (True, 0, None, "")
    assert not (tmp_path / "nowhere").exists()  # reading creates nothing

    trail.path.parent.mkdir()
    trail.path.write_text("")
    assert trail.verify().ok
    assert list(trail.records()) == []


def test_unicode_details_round_trip_and_verify(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    # U+2028 would split the line if the file were read in text mode.
    record = trail.record("élodie", "question", text="Où est le croiseur ?\u2028Dunkerque")
    assert trail.verify().ok
    assert list(trail.records()) == [record]
    assert "Où est" in trail.path.read_text(encoding="utf-8")  # stored as UTF-8, not \u escapes


# -- tampering ---------------------------------------------------------------


def test_an_edited_record_is_named_by_its_hash(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    lines[2] = lines[2].replace('"question 3"', '"something else"')
    write_lines(trail, lines)

    result = trail.verify()
    assert not result.ok
    assert result.first_bad == 3
    assert result.records == 5
    assert result.reason == "record 3 (line 3): its hash does not match its content (edited)"


def test_an_edited_and_rehashed_record_breaks_the_link_from_the_next(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    data = json.loads(lines[2])
    data["actor"] = "someone-else"
    data["hash"] = sha256_of(data)
    lines[2] = line_of(data)
    write_lines(trail, lines)

    result = trail.verify()
    assert not result.ok
    assert result.first_bad == 4
    assert result.reason.startswith("record 4 (line 4):")
    assert "between records 3 and 4" in result.reason
    assert "record 3 was altered" in result.reason and "removed" in result.reason


def test_the_last_record_edited_and_rehashed_is_caught_by_the_head(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    data = json.loads(lines[-1])
    data["details"]["text"] = "nothing to see"
    data["hash"] = sha256_of(data)
    lines[-1] = line_of(data)
    write_lines(trail, lines)

    result = trail.verify()
    assert (result.ok, result.first_bad) == (False, 5)
    assert "does not match its head anchor" in result.reason


@pytest.mark.parametrize(
    ("removed", "expected"),
    [([2], "record 3 was removed"), ([1, 2], "records 2..3 were removed"), ([0], "record 1")],
)
def test_deleted_records_in_the_middle_are_named(
    tmp_path: Path, removed: list[int], expected: str
) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    kept = [line for n, line in enumerate(lines) if n not in removed]
    write_lines(trail, kept)

    result = trail.verify()
    assert not result.ok
    assert result.first_bad == removed[0] + 1
    assert result.records == 5 - len(removed)
    assert expected in result.reason


def test_a_forged_record_with_a_valid_hash_inserted_in_the_middle_is_named(
    tmp_path: Path,
) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    second = json.loads(lines[1])
    # The best forgery there is: the right seq, linked to its predecessor, hash recomputed.
    forged = {
        "seq": 3,
        "time": second["time"],
        "actor": "mallory",
        "action": "login",
        "details": {"channel": "ui"},
        "prev": second["hash"],
    }
    forged["hash"] = record_hash(forged)
    assert forged["hash"] == sha256_of(forged)
    write_lines(trail, lines[:2] + [line_of(forged)] + lines[2:])

    result = trail.verify()
    assert not result.ok
    assert result.first_bad == 3
    assert result.records == 6
    assert result.reason.startswith("record 3 (line 3): not part of the chain")
    assert "inserted" in result.reason


def test_a_forged_record_with_a_wrong_seq_inserted_in_the_middle_is_named(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    forged = {
        "seq": 42,
        "time": json.loads(lines[1])["time"],
        "actor": "mallory",
        "action": "search",
        "details": {},
        "prev": json.loads(lines[1])["hash"],
    }
    forged["hash"] = sha256_of(forged)
    write_lines(trail, lines[:2] + [line_of(forged)] + lines[2:])

    result = trail.verify()
    assert (result.ok, result.first_bad) == (False, 3)
    assert "not consecutive" in result.reason


def test_a_forged_record_appended_at_the_end_is_named(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    last = json.loads(lines[-1])
    forged = {
        "seq": 6,
        "time": last["time"],
        "actor": "mallory",
        "action": "login",
        "details": {},
        "prev": last["hash"],
    }
    forged["hash"] = sha256_of(forged)
    write_lines(trail, lines + [line_of(forged)])

    result = trail.verify()
    assert (result.ok, result.first_bad, result.records) == (False, 6, 6)
    assert "after the head anchor" in result.reason and "inserted" in result.reason


def test_two_swapped_records_are_named(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 5)
    lines = read_lines(trail)
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(trail, lines)

    result = trail.verify()
    assert not result.ok
    assert result.first_bad == 2
    assert result.reason.startswith("record 3 (line 2):")
    assert "out of order" in result.reason


@pytest.mark.parametrize("cut", [1, 2, 5])
def test_records_cut_from_the_end_are_caught_by_the_head(tmp_path: Path, cut: int) -> None:
    trail = make_trail(tmp_path, 5)
    write_lines(trail, read_lines(trail)[: 5 - cut])

    result = trail.verify()
    remaining = 5 - cut
    assert not result.ok
    assert result.records == remaining
    assert result.first_bad == remaining + 1
    if remaining:
        assert result.reason == (
            f"the trail ends at record {remaining} but its head says 5: "
            "records were removed from the end"
        )
    else:
        assert "head says 5" in result.reason


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("this is not json", "not valid JSON"),
        ("", "empty line"),
        ('{"seq": 2, "time": "2026-11-26T07:02:02.123456Z"}', "missing keys"),
        ("[1, 2, 3]", "not a JSON object"),
    ],
)
def test_a_line_that_is_not_a_record_is_named(tmp_path: Path, bad_line: str, expected: str) -> None:
    trail = make_trail(tmp_path, 4)
    lines = read_lines(trail)
    lines[1] = bad_line
    write_lines(trail, lines)

    result = trail.verify()
    assert not result.ok
    assert result.first_bad == 2
    assert result.reason.startswith("line 2: not a valid audit record")
    assert expected in result.reason
    with pytest.raises(AuditError, match="line 2"):
        list(trail.records())


def test_a_removed_head_is_reported(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 3)
    trail.head_path.unlink()

    result = trail.verify()
    assert not result.ok
    assert result.records == 3
    assert result.first_bad is None
    assert "head anchor audit.jsonl.head is missing" in result.reason


def test_an_unreadable_head_is_reported(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 3)
    trail.head_path.write_text("{not json")

    result = trail.verify()
    assert (result.ok, result.first_bad) == (False, None)
    assert "unreadable" in result.reason


# -- appending after trouble -------------------------------------------------


def test_an_append_interrupted_before_the_head_is_carried_on(tmp_path: Path) -> None:
    """A crash between the line's fsync and the head's rename leaves the head one behind."""
    trail = make_trail(tmp_path, 3)
    stale_head = trail.head_path.read_text()
    trail.record("bob", "search", query="x")
    trail.head_path.write_text(stale_head)  # as if the process died before the rename

    interrupted = trail.verify()
    assert (interrupted.ok, interrupted.first_bad) == (False, 4)

    fifth = trail.record("bob", "search", query="y")
    assert fifth.seq == 5  # not a second record 4
    result = trail.verify()
    assert (result.ok, result.records) == (True, 5)


def test_a_missing_head_is_rebuilt_from_the_last_line(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 3)
    last = list(trail.records())[-1]
    trail.head_path.unlink()

    fourth = trail.record("carol", "login")
    assert (fourth.seq, fourth.prev) == (4, last.hash)
    assert trail.verify().ok


def test_a_torn_last_line_stays_apart_from_the_next_record(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 2)
    with trail.path.open("a", encoding="utf-8") as handle:
        handle.write('{"seq": 3, "time": "2026')  # a write cut short, no newline

    trail.record("dave", "login")
    lines = read_lines(trail)
    assert len(lines) == 4
    assert lines[2] == '{"seq": 3, "time": "2026'
    assert json.loads(lines[3])["actor"] == "dave"
    result = trail.verify()
    assert (result.ok, result.first_bad) == (False, 3)


def test_an_unwritable_trail_raises_audit_error(tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where the directory should be")
    trail = AuditTrail(blocker / "audit.jsonl")
    with pytest.raises(AuditError, match="cannot write the audit trail"):
        trail.record("alice", "login")


def test_actor_and_action_are_checked(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    with pytest.raises(TypeError):
        trail.record(None, "login")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        trail.record("alice", "")
    with pytest.raises(ValueError, match="unknown audit action 'logged_in'"):
        trail.record("alice", "logged_in")  # a misspelt action is a bug, not a record
    assert not trail.path.exists()


def test_every_action_vigie_records_is_in_the_registry() -> None:
    """The registry is complete: every action the application room records is in it."""
    import re

    from tests.conftest import ROOT
    from vigie.audit import ACTIONS

    recorded = set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        recorded |= set(re.findall(r"\.audit\(\s*\"([a-z_]+)\"", text))
        recorded |= set(
            re.findall(r"\.record\(\s*[^,()]+(?:\([^)]*\))?[^,()]*,\s*\"([a-z_]+)\"", text)
        )
    assert len(recorded) >= 20
    assert recorded <= ACTIONS, sorted(recorded - ACTIONS)


# -- reading and exporting ---------------------------------------------------


def test_records_since_filters_by_time(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 6)  # times T0, T0+1min, ... T0+5min

    everything = list(trail.records())
    assert [r.seq for r in everything] == [1, 2, 3, 4, 5, 6]
    assert [r.seq for r in trail.records(since=T0 + timedelta(minutes=2))] == [3, 4, 5, 6]
    # just after record 3's time: record 3 is left out (the bound is inclusive, >=)
    after = T0 + timedelta(minutes=2, microseconds=1)
    assert [r.seq for r in trail.records(since=after)] == [4, 5, 6]
    # a naive datetime is UTC
    naive = (T0 + timedelta(minutes=4)).replace(tzinfo=None)
    assert [r.seq for r in trail.records(since=naive)] == [5, 6]
    # the same instant in another zone
    paris = (T0 + timedelta(minutes=4)).astimezone(timezone(timedelta(hours=1)))
    assert [r.seq for r in trail.records(since=paris)] == [5, 6]
    assert list(trail.records(since=T0 + timedelta(days=1))) == []


def test_export_since_writes_jsonl_that_round_trips(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 6)

    out = io.StringIO()
    count = trail.export(out, since=T0 + timedelta(minutes=3))
    exported = out.getvalue().splitlines()
    assert count == 3 == len(exported)
    assert out.getvalue().endswith("\n")
    records = [AuditRecord(**json.loads(line)) for line in exported]
    assert [r.seq for r in records] == [4, 5, 6]
    assert records == list(trail.records())[3:]
    for line in exported:
        assert json.loads(line)["hash"] == sha256_of(json.loads(line))

    everything = io.StringIO()
    assert trail.export(everything) == 6
    # an unfiltered export is the trail itself, byte for byte
    assert everything.getvalue() == trail.path.read_text(encoding="utf-8")


def test_details_are_stored_as_json(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    stored = trail.record(
        "alice",
        "search",
        pages=(3, 1, 2),
        levels=frozenset({"SECRET", "CONFIDENTIAL", "RESTRICTED"}),
        ids={3, 1, 2},
        mixed={1, "a"},
        path=Path("/archive/doc.pdf"),
        when=T0,
        ratio=float("nan"),
        nested={"range": (1, 2), 7: "seven"},
    )
    data = json.loads(read_lines(trail)[0])["details"]
    assert data == stored.details
    assert data["pages"] == [3, 1, 2]  # a tuple keeps its order
    assert data["levels"] == ["CONFIDENTIAL", "RESTRICTED", "SECRET"]  # a set is sorted
    assert data["ids"] == [1, 2, 3]
    assert data["mixed"] == ["a", 1]  # by canonical JSON: '"a"' sorts before '1'
    assert data["path"] == "/archive/doc.pdf"
    assert data["when"] == str(T0)
    assert data["ratio"] == "nan"
    assert data["nested"] == {"range": [1, 2], "7": "seven"}
    assert trail.verify().ok


# -- files and processes -----------------------------------------------------


def test_files_are_private(tmp_path: Path) -> None:
    trail = make_trail(tmp_path, 1)
    assert stat.S_IMODE(trail.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(trail.head_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(trail.lock_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(trail.path.parent.stat().st_mode) == 0o700


def append_many(path: str, actor: str, count: int, barrier: object) -> None:
    """One writer process (top level, so the spawn context can import it)."""
    trail = AuditTrail(Path(path))
    barrier.wait()  # type: ignore[attr-defined]
    for n in range(count):
        trail.record(actor, "question", n=n)


def test_two_processes_append_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "home" / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=append_many, args=(str(path), actor, 50, barrier))
        for actor in ("alice", "bob")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]

    trail = AuditTrail(path)
    result = trail.verify()
    assert (result.ok, result.records, result.reason) == (True, 100, "")
    records = list(trail.records())
    assert [r.seq for r in records] == list(range(1, 101))
    for actor in ("alice", "bob"):
        mine = [r.details["n"] for r in records if r.actor == actor]
        assert mine == list(range(50))  # each writer's records, complete and in its order
    assert json.loads(trail.head_path.read_text()) == {"seq": 100, "hash": records[-1].hash}
