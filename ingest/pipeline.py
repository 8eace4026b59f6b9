"""An ingestion batch: walk the paths, parse, chunk, embed, store, record.

One file's failure never stops the batch: it is recorded in the ledger as
quarantined with a one-line reason, and the batch goes on. The file itself
is left where it is: nothing is lost.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunking import chunk_document
from ingest.errors import UnreadableFile
from ingest.ledger import Ledger, LedgerEntry
from ingest.markings import DEFAULT_CAVEATS, document_marking, fold, read_markings
from ingest.parse import parse_file
from retrieval.embedder import Embedder
from retrieval.store import VectorStore
from vigie.config import Settings
from vigie.contracts import FileOutcome, Level, SourceDocument
from vigie.models import sha256_of

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})


@dataclass
class BatchReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    @property
    def pages(self) -> int:
        return sum(o.pages for o in self.outcomes if o.state == "ingested")

    @property
    def chunks(self) -> int:
        return sum(o.chunks for o in self.outcomes if o.state == "ingested")

    def to_dict(self) -> dict:
        states = ("ingested", "unchanged", "quarantined", "skipped")
        return {
            "totals": {state: self.count(state) for state in states}
            | {"pages": self.pages, "chunks": self.chunks},
            "seconds": round(self.seconds, 2),
            "files": [o.to_dict() for o in self.outcomes],
        }


def needs_rescan(document: SourceDocument, threshold: float) -> list[int]:
    """OCRed pages read with a mean confidence under `threshold` (or with no word at all)."""
    return sorted(
        page
        for page, confidence in document.ocr_confidence.items()
        if confidence is None or confidence < threshold
    )


def canonical_caveats(caveats: Iterable[str]) -> tuple[str, ...]:
    """Declared caveats in their written form ("special france" -> "SPÉCIAL FRANCE")."""
    known = {fold(c): c for c in DEFAULT_CAVEATS}
    return tuple(sorted({known.get(fold(c), c.strip().upper()) for c in caveats if c.strip()}))


def collect_files(paths: Sequence[Path]) -> tuple[list[Path], list[FileOutcome]]:
    """The files a batch will read, and one-line outcomes for paths it cannot use."""
    files: list[Path] = []
    problems: list[FileOutcome] = []
    for path in paths:
        if not path.exists():
            problems.append(FileOutcome(str(path), "skipped", "path not found"))
        elif path.is_file():
            files.append(path)
        elif path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
            if not found:
                problems.append(
                    FileOutcome(str(path), "skipped", "folder holds no PDF, PNG, JPEG or TIFF file")
                )
            files.extend(found)
        else:
            problems.append(FileOutcome(str(path), "skipped", "not a regular file or folder"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, problems


class IngestPipeline:
    def __init__(
        self, settings: Settings, embedder: Embedder, store: VectorStore, ledger: Ledger
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.ledger = ledger

    def run(
        self,
        paths: Sequence[Path],
        level: Level | None = None,
        caveats: Iterable[str] = (),
        progress: Callable[[FileOutcome], None] | None = None,
        show_bar: bool | None = None,
    ) -> BatchReport:
        started = time.perf_counter()
        caveat_tuple = canonical_caveats(caveats)
        files, problems = collect_files(paths)
        report = BatchReport(outcomes=list(problems))
        self.store.ensure_collection(self.embedder.dimension)

        from tqdm import tqdm

        bar = tqdm(
            files,
            unit="file",
            desc="ingest",
            disable=not (sys.stderr.isatty() if show_bar is None else show_bar),
        )
        for path in bar:
            bar.set_postfix_str(path.name[:40])
            outcome = self._ingest_one(path, level, caveat_tuple)
            report.outcomes.append(outcome)
            log.info("%s: %s %s", outcome.state, path, outcome.reason)
            if progress:
                progress(outcome)
        report.seconds = time.perf_counter() - started
        return report

    def classify(
        self, document: SourceDocument, declared: Level | None, caveats: tuple[str, ...]
    ) -> tuple[Level, tuple[str, ...]]:
        """The document's level and caveats: the highest of its markings and the declaration.

        A declaration can raise what the markings say, never lower it. A document
        with neither takes the site's level for unmarked documents.
        """
        pages: dict[int, list[str]] = {}
        for element in document.elements:
            pages.setdefault(element.page, []).append(element.text)
        found, found_caveats = document_marking(
            read_markings(sorted((page, "\n".join(lines)) for page, lines in pages.items()))
        )
        levels = [lvl for lvl in (found, declared) if lvl is not None]
        level = max(levels) if levels else self.settings.unmarked()
        return level, tuple(sorted(set(caveats) | set(found_caveats)))

    def _ingest_one(self, path: Path, level: Level | None, caveats: tuple[str, ...]) -> FileOutcome:
        started = time.perf_counter()
        if not os.access(path, os.R_OK):
            return FileOutcome(str(path), "quarantined", "cannot read file: permission denied")
        try:
            sha256 = sha256_of(path)
        except OSError as exc:
            return FileOutcome(str(path), "quarantined", f"cannot read file: {exc.strerror}")
        known = self.ledger.get(sha256)
        if known is not None and known.state == "ingested":
            return FileOutcome(
                str(path),
                "unchanged",
                "already ingested",
                known.pages,
                known.chunks,
                known.ocr_pages,
                time.perf_counter() - started,
                level=Level(known.level).label if known.level is not None else "",
            )
        try:
            document = parse_file(path, self.settings, sha256)
        except UnreadableFile as exc:
            outcome = FileOutcome(str(path), "quarantined", str(exc))
            self._record_quarantine(path, outcome, sha256)
            return outcome

        level, caveats = self.classify(document, level, caveats)
        chunks = chunk_document(document, level, caveats, self.settings)
        if not chunks:
            outcome = FileOutcome(
                str(path),
                "quarantined",
                "no readable text on any page (blank or unreadable scan)",
                pages=document.pages,
                ocr_pages=len(document.ocr_pages),
            )
            self._record_quarantine(path, outcome, document.sha256)
            return outcome

        batch = self.settings.embedder_batch_size * 4
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            vectors = self.embedder.embed_passages([c.text for c in part])
            self.store.upsert(part, vectors)

        # A new version of a file at the same path replaces the old one's chunks.
        for old in self.ledger.ingested_at_path(str(path)):
            if old.sha256 != document.sha256:
                self.store.delete_document(old.sha256)
                self.ledger.mark_replaced(old.sha256)

        self.ledger.record(
            LedgerEntry(
                sha256=document.sha256,
                path=str(path),
                file_name=document.file_name,
                state="ingested",
                reason="",
                pages=document.pages,
                chunks=len(chunks),
                ocr_pages=len(document.ocr_pages),
                level=int(level),
            )
        )
        return FileOutcome(
            str(path),
            "ingested",
            "",
            document.pages,
            len(chunks),
            len(document.ocr_pages),
            time.perf_counter() - started,
            level=level.label,
            caveats=list(caveats),
            rescan_pages=needs_rescan(document, self.settings.ocr_rescan_below),
        )

    def _record_quarantine(self, path: Path, outcome: FileOutcome, sha256: str) -> None:
        self.ledger.record(
            LedgerEntry(
                sha256=sha256,
                path=str(path),
                file_name=path.name,
                state="quarantined",
                reason=outcome.reason,
                pages=outcome.pages,
                chunks=0,
                ocr_pages=outcome.ocr_pages,
                level=None,
            )
        )
