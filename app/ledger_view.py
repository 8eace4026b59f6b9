"""What a user may see of the ledger: rows, counts and batches, within their clearance.

A classified file's name is itself classified, so the ledger is read through this
rule, once: an entry exists for a user only when its level is known and their
clearance allows it and its caveats. An entry whose level is unknown (a file that
could not be read, or carried no marking, in a batch that declared no level)
counts as the highest level, with one exception: the operator who fed that batch
sees it, since they handed the file in and were told its fate in their report.
For everyone else its name, its reason and its place in a count do not exist.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ingest.ledger import Ledger, LedgerEntry
from vigie.contracts import Clearance, FileState, Level, PendingMarking


@dataclass(frozen=True)
class FileRow:
    """One file of the ledger, as an operator or a reader may see it."""

    sha256: str
    path: str
    file_name: str
    state: str
    reason: str
    pages: int
    chunks: int
    ocr_pages: int
    level: Level | None
    caveats: tuple[str, ...]
    rescan_pages: tuple[int, ...]
    batch: str
    review: str = ""  # a recording heard with low confidence: why to listen again
    to_confirm: tuple[PendingMarking, ...] = ()  # weak markings a person should decide

    @classmethod
    def of(cls, entry: LedgerEntry) -> FileRow:
        return cls(
            sha256=entry.sha256,
            path=entry.path,
            file_name=entry.file_name,
            state=entry.state,
            reason=entry.reason,
            pages=entry.pages,
            chunks=entry.chunks,
            ocr_pages=entry.ocr_pages,
            level=Level(entry.level) if entry.level is not None else None,
            caveats=tuple(entry.caveats),
            rescan_pages=tuple(entry.rescan_pages),
            batch=entry.batch,
            review=entry.review,
            to_confirm=tuple(entry.to_confirm),
        )


@dataclass(frozen=True)
class StateCount:
    files: int = 0
    pages: int = 0
    chunks: int = 0
    ocr_pages: int = 0


@dataclass(frozen=True)
class ArchiveStatus:
    """The ledger at a glance for one user: only what their clearance allows."""

    home: str
    states: dict[str, StateCount] = field(default_factory=dict)
    quarantined: list[FileRow] = field(default_factory=list)
    rescans: list[FileRow] = field(default_factory=list)  # ingested, pages to re-scan
    reviews: list[FileRow] = field(default_factory=list)  # ingested recordings to listen to
    # Ingested documents with weak markings to decide, for users cleared to those levels.
    confirmations: list[FileRow] = field(default_factory=list)
    batches: list[tuple[str, int]] = field(default_factory=list)  # newest first, ingested
    chunks_in_store: int | None = None  # None: the store is busy (an ingestion runs)

    @property
    def documents(self) -> int:
        return self.states.get(FileState.INGESTED, StateCount()).files

    @property
    def pages(self) -> int:
        return self.states.get(FileState.INGESTED, StateCount()).pages

    def to_dict(self) -> dict:
        return {
            "home": self.home,
            "states": {state: vars(count) for state, count in sorted(self.states.items())},
            "documents": self.documents,
            "pages": self.pages,
            "chunks_in_store": self.chunks_in_store,
            "quarantined": [{"path": r.path, "reason": r.reason} for r in self.quarantined],
            "to_review": [{"path": r.path, "reason": r.review} for r in self.reviews],
            "to_confirm": [
                {
                    "path": r.path,
                    "level": r.level.label if r.level else None,
                    "markings": [m.to_dict() for m in r.to_confirm],
                }
                for r in self.confirmations
            ],  # fmt: skip
            "batches": [{"batch": b, "ingested": n} for b, n in self.batches],
        }


def may_see(entry: LedgerEntry, clearance: Clearance, user: str) -> bool:
    """The rule: a known level the clearance allows; an unknown level is the highest,
    except for the user who fed it."""
    if entry.level is None:
        return (bool(entry.fed_by) and entry.fed_by == user) or clearance.level == max(Level)
    return clearance.allows(Level(entry.level), entry.caveats)


def may_decide(entry: LedgerEntry, clearance: Clearance, user: str) -> bool:
    """An ingested document with weak markings that `clearance` allows at their level:
    their evidence may be as secret as the level they claim."""
    if entry.state != FileState.INGESTED or not entry.to_confirm:
        return False
    highest = max(m.level for m in entry.to_confirm)
    return may_see(entry, clearance, user) and clearance.allows(highest, entry.caveats)


def visible_rows(
    ledger: Ledger, clearance: Clearance, user: str, state: str | None = None
) -> list[FileRow]:
    """The entries (in `state`, or all) `user` with this clearance may see, by path."""
    entries = ledger.in_state(state) if state else ledger.all_entries()
    return [FileRow.of(e) for e in entries if may_see(e, clearance, user)]


def archive_status(
    ledger: Ledger | None,
    clearance: Clearance,
    user: str,
    home: str,
    chunks_in_store: int | None,
) -> ArchiveStatus:
    """Counts, quarantine, pages to re-scan and batches, from the visible entries only."""
    if ledger is None:
        return ArchiveStatus(home, chunks_in_store=chunks_in_store)
    rows = visible_rows(ledger, clearance, user)
    states: dict[str, StateCount] = {}
    for row in rows:
        count = states.get(row.state, StateCount())
        states[row.state] = StateCount(
            count.files + 1,
            count.pages + row.pages,
            count.chunks + row.chunks,
            count.ocr_pages + row.ocr_pages,
        )
    ingested = Counter(r.batch for r in rows if r.batch and r.state == FileState.INGESTED)
    batch_ids = {r.batch for r in rows if r.batch}
    order = {batch: rank for rank, (batch, _) in enumerate(ledger.batches())}
    batches = sorted(((b, ingested[b]) for b in batch_ids), key=lambda b: order.get(b[0], 0))
    return ArchiveStatus(
        home=home,
        states=states,
        quarantined=[r for r in rows if r.state == FileState.QUARANTINED],
        rescans=[r for r in rows if r.state == FileState.INGESTED and r.rescan_pages],
        reviews=[r for r in rows if r.state == FileState.INGESTED and r.review],
        confirmations=[
            FileRow.of(e)
            for e in ledger.in_state(FileState.INGESTED)
            if may_decide(e, clearance, user)
        ],  # fmt: skip
        batches=batches,
        chunks_in_store=chunks_in_store,
    )
