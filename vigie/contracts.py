"""Data contracts shared by ingestion, retrieval and the user interfaces.

Everything that crosses a room boundary (a parsed page element, a chunk, a
search hit, a citation, a user's clearance) is defined here, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum

from vigie.errors import InputError
from vigie.language import strip_accents

# A fixed namespace so that chunk ids are stable across runs and machines.
CHUNK_NAMESPACE = uuid.UUID("6f1c5e0a-3c1e-4d7b-9a51-0b6f2f3a9e10")


def fold_marking(text: str) -> str:
    """Upper-case, accents removed, single spaces: how markings are compared."""
    return " ".join(strip_accents(text).upper().replace("_", " ").replace("-", " ").split())


_fold = fold_marking


class Level(IntEnum):
    """The ordered classification scale (French 2021 levels, with their equivalents).

    The integer value is the rank stored in every chunk's payload; filters
    compare ranks, so a higher value is always more sensitive.
    """

    NON_PROTEGE = 0
    DIFFUSION_RESTREINTE = 1
    SECRET = 2
    TRES_SECRET = 3

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        """Read a level name as written in a marking (case and accents ignored)."""
        key = _fold(text)
        if key in _ALIASES:
            return _ALIASES[key]
        known = ", ".join(sorted({lvl.label for lvl in cls}))
        raise InputError(f"unknown classification level {text!r} (known: {known})")


_LABELS = {
    Level.NON_PROTEGE: "NON PROTÉGÉ",
    Level.DIFFUSION_RESTREINTE: "DIFFUSION RESTREINTE",
    Level.SECRET: "SECRET",
    Level.TRES_SECRET: "TRÈS SECRET",
}

# Current French names, pre-2021 names still found in archives, and NATO names.
_ALIASES: dict[str, Level] = {
    _fold(name): level
    for level, names in {
        Level.NON_PROTEGE: ["NON PROTÉGÉ", "NON PROTEGE", "UNCLASSIFIED", "NATO UNCLASSIFIED"],
        Level.DIFFUSION_RESTREINTE: ["DIFFUSION RESTREINTE", "NATO RESTRICTED", "RESTRICTED"],
        Level.SECRET: [
            "SECRET",
            "CONFIDENTIEL DÉFENSE",
            "SECRET DÉFENSE",
            "NATO CONFIDENTIAL",
            "NATO SECRET",
            "CONFIDENTIAL",
        ],
        Level.TRES_SECRET: [
            "TRÈS SECRET",
            "TRÈS SECRET DÉFENSE",
            "COSMIC TOP SECRET",
            "TOP SECRET",
        ],
    }.items()
    for name in names
}


@dataclass(frozen=True)
class Clearance:
    """What a reader may see: every read of the store carries one."""

    level: Level
    caveats: frozenset[str] = frozenset()

    def allows(self, level: Level, caveats: frozenset[str] | set[str] | list[str]) -> bool:
        return level <= self.level and set(caveats) <= set(self.caveats)


@dataclass
class Element:
    """One piece of a parsed page: a title, a paragraph, a list item, a table."""

    text: str
    page: int  # 1-based page number in the source file
    element_type: str = "NarrativeText"
    ocr: bool = False
    # (left, top, right, bottom) in PDF points from the page's top-left corner, when known.
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class TranscriptSegment:
    """One stretch of a recording as the speech model heard it, in seconds from its start.

    `confidence` (0..1) is the decoder's mean token probability, lowered by the chance that
    the stretch holds no speech at all."""

    start: float
    end: float
    text: str
    confidence: float


@dataclass
class Transcript:
    """A recording's text: its language (French or English), length, and segments."""

    language: str
    language_probability: float
    duration: float  # seconds of audio
    segments: list[TranscriptSegment] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments)

    def confident_share(self, threshold: float) -> float:
        """The share of the spoken seconds in segments at or above `threshold` (1.0 when
        nothing was heard: there is nothing to review)."""
        spoken = sum(max(0.0, s.end - s.start) for s in self.segments)
        if spoken <= 0:
            return 1.0
        sure = sum(max(0.0, s.end - s.start) for s in self.segments if s.confidence >= threshold)
        return sure / spoken


def clock(seconds: float) -> str:
    """Seconds as a recording's clock: 81.2 -> "01:21", 3725 -> "1:02:05"."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


# What a "page" is in formats that have none: a presentation's slides, a workbook's sheets.
PAGE_UNITS = {".pptx": "slide", ".pptm": "slide", ".odp": "slide", ".ppt": "slide",
              ".xlsx": "sheet", ".xlsm": "sheet", ".ods": "sheet", ".xls": "sheet"}  # fmt: skip


def page_unit(file_name: str) -> str:
    """ "page", or "slide" / "sheet" for a presentation's or a workbook's passages."""
    dot = file_name.rfind(".")
    return PAGE_UNITS.get(file_name[dot:].lower(), "page") if dot >= 0 else "page"


def place(
    page: int, start: float | None = None, end: float | None = None, unit: str = "page"
) -> str:
    """Where a passage stands, as a reader is told: "page 3" ("slide 3", "sheet 2"), or
    "01:21-01:35" in a recording."""
    if start is None:
        return f"{unit} {page}"
    return f"{clock(start)}-{clock(end if end is not None else start)}"


def place_fields(page: int, start: float | None, end: float | None) -> dict:
    """The same for JSON: a page, or a recording's start and end seconds (page null)."""
    if start is None:
        return {"page": page, "start": None, "end": None}
    return {"page": None, "start": round(start, 2), "end": round(end or start, 2)}


@dataclass
class SourceDocument:
    """A file as ingestion sees it, before chunking."""

    path: str
    sha256: str
    file_name: str
    pages: int
    elements: list[Element] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    # Mean OCR word confidence (0..1) of each OCRed page; None when no word was read.
    ocr_confidence: dict[int, float | None] = field(default_factory=dict)
    created: str | None = None  # the file's own creation date, as written (PDF "D:1994...")

    @property
    def document_id(self) -> str:
        return self.sha256


@dataclass
class Chunk:
    """The unit stored in Qdrant: a passage of one document, on one page."""

    document_id: str
    chunk_index: int
    text: str
    file_name: str
    source_path: str
    sha256: str
    page: int
    element_type: str
    language: str
    level: Level
    caveats: tuple[str, ...] = ()
    section: str = ""
    ocr: bool = False
    ocr_confidence: float | None = None
    # The union of its elements' boxes on the page (PDF points, top-left origin), if known.
    bbox: tuple[float, float, float, float] | None = None
    # The document's date (ingest/dates.py), if one was found; filters use it.
    document_date: date | None = None
    # A recording's passage: its seconds from the start, and the segments it holds.
    start: float | None = None
    end: float | None = None
    segments: tuple[TranscriptSegment, ...] = ()

    @property
    def chunk_id(self) -> str:
        return str(uuid.uuid5(CHUNK_NAMESPACE, f"{self.document_id}:{self.chunk_index}"))

    def to_payload(self) -> dict:
        return {
            "document_id": self.document_id,
            "chunk_index": self.chunk_index,
            "text": self.text,
            "file_name": self.file_name,
            "source_path": self.source_path,
            "sha256": self.sha256,
            "page": self.page,
            "element_type": self.element_type,
            "language": self.language,
            "level": int(self.level),
            "level_label": self.level.label,
            "caveats": list(self.caveats),
            "section": self.section,
            "ocr": self.ocr,
            "ocr_confidence": self.ocr_confidence,
            "bbox": list(self.bbox) if self.bbox else None,
            "document_date": day_number(self.document_date),
            "start": self.start,
            "end": self.end,
            "segments": [vars(s) for s in self.segments],
        }

    @property
    def place(self) -> str:
        """ "page 3" ("slide 3", "sheet 2"), or "01:21-01:35" for a passage of a recording."""
        return place(self.page, self.start, self.end, page_unit(self.file_name))

    @classmethod
    def from_payload(cls, payload: dict) -> Chunk:
        return cls(
            document_id=payload["document_id"],
            chunk_index=int(payload["chunk_index"]),
            text=payload["text"],
            file_name=payload["file_name"],
            source_path=payload["source_path"],
            sha256=payload["sha256"],
            page=int(payload["page"]),
            element_type=payload.get("element_type", ""),
            language=payload.get("language", ""),
            level=Level(int(payload["level"])),
            caveats=tuple(payload.get("caveats", [])),
            section=payload.get("section", ""),
            ocr=bool(payload.get("ocr", False)),
            ocr_confidence=payload.get("ocr_confidence"),
            bbox=tuple(payload["bbox"]) if payload.get("bbox") else None,
            document_date=day_from_number(payload.get("document_date")),
            start=payload.get("start"),
            end=payload.get("end"),
            segments=tuple(TranscriptSegment(**s) for s in payload.get("segments") or ()),
        )


def day_number(day: date | None) -> int | None:
    """A date as the integer payloads hold and filters compare (1994-03-12 -> 19940312)."""
    return None if day is None else day.year * 10000 + day.month * 100 + day.day


def day_from_number(number: int | None) -> date | None:
    if not number:
        return None
    return date(number // 10000, number // 100 % 100, number % 100)


@dataclass
class Hit:
    """A chunk returned by a search, with its score (higher is better)."""

    chunk: Chunk
    score: float


@dataclass
class Citation:
    """A source an answer relies on, resolved to document and page."""

    number: int
    document: str
    page: int
    chunk_id: str
    score: float
    cited: bool
    how: str = "marker"  # "marker": the model wrote [n]; "overlap": by shared words; "given"
    quote: str = ""  # the source sentence that best matches what the answer took from it
    supported: bool | None = None  # None: not checked (the source was only given)
    level: Level = Level.NON_PROTEGE
    caveats: tuple[str, ...] = ()
    start: float | None = None  # a recording's passage: seconds, instead of a page
    end: float | None = None

    @property
    def place(self) -> str:
        return place(self.page, self.start, self.end, page_unit(self.document))

    def to_dict(self) -> dict:
        return {
            "n": self.number,
            "document": self.document,
            **place_fields(self.page, self.start, self.end),
            "chunk_id": self.chunk_id,
            "score": round(self.score, 4),
            "cited": self.cited,
            "how": self.how,
            "quote": self.quote,
            "supported": self.supported,
            "level": self.level.label,
            "caveats": list(self.caveats),
        }


@dataclass
class Quote:
    """A sentence of a source that answers the question, shown before the model writes:
    the archive's own words, with where they stand and how close they come."""

    text: str
    number: int  # the source it comes from (the answer's sources are numbered from 1)
    document: str
    page: int
    chunk_id: str
    score: float  # cosine between the question and the sentence (default embedder)
    level: Level = Level.NON_PROTEGE
    caveats: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None  # its chunk's box on the page
    start: float | None = None  # a recording's passage: seconds, instead of a page
    end: float | None = None

    @property
    def place(self) -> str:
        return place(self.page, self.start, self.end, page_unit(self.document))

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "n": self.number,
            "document": self.document,
            **place_fields(self.page, self.start, self.end),
            "chunk_id": self.chunk_id,
            "level": self.level.label,
            "caveats": list(self.caveats),
            "score": round(self.score, 4),
        }


def marking(level: Level, caveats: Iterable[str] = ()) -> str:
    """A level and its caveats as written on a banner: 'SECRET SPÉCIAL FRANCE'."""
    return " ".join([level.label, *sorted(set(caveats))])


def answer_label(levels: list[Level], caveats: list[tuple[str, ...]]) -> str:
    """The marking an answer carries: its sources' highest level and all their caveats."""
    highest = max(levels, default=Level.NON_PROTEGE)
    return marking(highest, (caveat for group in caveats for caveat in group))


class FileState(StrEnum):
    """What became of a file. The ledger keeps the first seven; a batch's report also
    says `unchanged`, `reclassified`, `skipped` and `expanded` (see `ingest.ledger`)."""

    INGESTED = "ingested"  # its chunks are published and searchable
    WRITING = "writing"  # its chunks are being written, still invisible
    INTERRUPTED = "interrupted"  # a killed run left it half-written; read again next time
    QUARANTINED = "quarantined"  # it could not be read; the reason says why
    REFUSED = "refused"  # read, but no marking and no declared level
    REPLACED = "replaced"  # an older version of a file now ingested from the same path
    REMOVED = "removed"  # taken out by an operator
    UNCHANGED = "unchanged"  # already ingested as it is
    RECLASSIFIED = "reclassified"  # already ingested; its level raised by a declaration
    SKIPPED = "skipped"  # not a file Vigie reads (a link loop, a missing path...)
    EXPANDED = "expanded"  # a zip archive, opened: its members are read as files of the batch


@dataclass(frozen=True)
class PendingMarking:
    """A weak marking that did not count ("(S)" alone, neither a banner nor several
    portion marks beside it): a person cleared to its level confirms or dismisses it."""

    level: Level
    page: int
    line: int
    evidence: str

    def to_dict(self) -> dict:
        return {"level": self.level.label, "page": self.page, "line": self.line,
                "evidence": self.evidence}  # fmt: skip

    def to_json(self) -> dict:
        return self.to_dict() | {"level": int(self.level)}

    @classmethod
    def from_json(cls, stored: dict) -> PendingMarking:
        return cls(Level(stored["level"]), stored["page"], stored["line"], stored["evidence"])


@dataclass
class FileOutcome:
    """What happened to one file of an ingestion batch."""

    path: str
    state: FileState
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    ocr_pages: int = 0
    seconds: float = 0.0
    level: str = ""
    caveats: list[str] = field(default_factory=list)
    rescan_pages: list[int] = field(default_factory=list)  # OCR confidence under threshold
    audio_seconds: float = 0.0  # a recording's length, once transcribed
    review: str = ""  # a recording heard with low confidence: why to listen again
    to_confirm: list[PendingMarking] = field(default_factory=list)  # weak markings

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "state": self.state,
            "reason": self.reason,
            "pages": self.pages,
            "chunks": self.chunks,
            "ocr_pages": self.ocr_pages,
            "seconds": round(self.seconds, 2),
            "level": self.level,
            "caveats": self.caveats,
            "rescan_pages": self.rescan_pages,
            "audio_seconds": round(self.audio_seconds, 2),
            "review": self.review,
            "to_confirm": [m.to_dict() for m in self.to_confirm],
        }
