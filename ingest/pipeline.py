"""An ingestion batch: walk the paths, parse in workers, chunk, embed, store, record.

The main process walks the files, hashes them and asks the ledger what is
already done. Parsing and OCR run in a pool of worker processes
(`ingest.workers`), a few pages per task; the main process takes the parsed
pages of each file back in page order, reads their classification markings,
chunks them and embeds them in batches while the workers go on.

Crash safety (kill -9, power cut), in the order things happen to one file:
1. the ledger records it as "writing";
2. its chunks are written to the store as *pending*: invisible to any read;
3. once every page is read, its level (the highest marking on any page, or
   the declared level if higher) is known: the chunks are *published* with
   it in one store operation;
4. an older version ingested from the same path is deleted;
5. the ledger records it as "ingested" (and the older one as "replaced") in
   one transaction.
A batch starts by finding files left in "writing" by a killed run and
deleting their chunks; they are then read again like any new file. Chunk ids
are deterministic (document SHA-256 and chunk number), so re-writing a chunk
replaces it. A re-run therefore ends in exactly the state of a clean run.

One file's failure never stops the batch: it is recorded in the ledger as
quarantined with a one-line reason, and the batch goes on. The file itself is
left where it is: nothing is lost. Only a broken store or ledger (disk full,
read-only home) stops the batch, with what was done so far kept.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import tomllib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from ingest.chunking import DocumentChunker
from ingest.errors import UnreadableFile
from ingest.filetypes import RECORDING
from ingest.ledger import Ledger, LedgerEntry
from ingest.legacy import LEGACY_SUFFIXES
from ingest.markings import (
    DEFAULT_CAVEATS,
    Marking,
    fold,
    read_markings,
    read_spoken_markings,
    weigh_markings,
)
from ingest.office import OFFICE_SUFFIXES, office_kind
from ingest.outlook import MAIL_SUFFIXES, MSG_SUFFIXES, read_mail
from ingest.parse import FileProbe, Pages
from ingest.textfiles import TEXT_SUFFIXES
from ingest.timecoded import chunk_transcript
from ingest.unpack import ZipLimits, is_zip, unpack_zip
from ingest.workers import ParserPool, task_outcome, too_long
from retrieval.embedder import Embedder
from retrieval.store import VectorStore
from vigie.config import Settings
from vigie.contracts import Chunk, FileOutcome, FileState, Level, PendingMarking, SourceDocument
from vigie.errors import Unavailable

log = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = frozenset(
    {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
    | set(TEXT_SUFFIXES)
    | set(OFFICE_SUFFIXES)
    | set(LEGACY_SUFFIXES)
    | MSG_SUFFIXES
)
# Recordings: audio, and the audio track of video files (recognised by content all the same).
RECORDING_SUFFIXES = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac"}
    | {".mp4", ".m4v", ".mkv", ".webm", ".mov"}
)
ARCHIVE_SUFFIXES = frozenset({".zip"})  # expanded, their members read (ingest/unpack.py)
SUPPORTED_SUFFIXES = DOCUMENT_SUFFIXES | RECORDING_SUFFIXES | ARCHIVE_SUFFIXES
# A folder's declared classification, for every file in it and below it.
DECLARATION_FILE = "vigie-classification.toml"
# Chunks are written (pending) with this level until the document's real one is known.
PROVISIONAL_LEVEL = Level.TRES_SECRET
_SLOWEST = 5
_REMEMBERED_VECTORS = 4096  # distinct chunk texts whose vectors a batch keeps (6 MB)


class BatchStopped(Unavailable):
    """The store or the ledger failed: the batch cannot go on. Done work is kept."""


@dataclass
class Declaration:
    """A level and caveats declared by the operator for a batch or a folder."""

    level: Level | None = None
    caveats: tuple[str, ...] = ()

    def merged(self, other: Declaration) -> Declaration:
        levels = [lvl for lvl in (self.level, other.level) if lvl is not None]
        return Declaration(
            max(levels) if levels else None, tuple(sorted(set(self.caveats) | set(other.caveats)))
        )


@dataclass
class StageTime:
    """One stage of a batch: the seconds it took and how many things it handled."""

    unit: str  # "pages", "chunks", "seconds of audio"
    seconds: float = 0.0
    count: float = 0.0

    def add(self, seconds: float, count: float) -> None:
        self.seconds += seconds
        self.count += count

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"unit": self.unit, "seconds": round(self.seconds, 2),
                "count": round(self.count, 1), "per_second": round(self.rate, 2)}  # fmt: skip

    def describe(self, name: str) -> str:
        return f"{name}: {self.count:.0f} {self.unit} in {self.seconds:.1f} s ({self.rate:.2f}/s)"


STAGES = {"parse": "pages", "ocr": "pages", "transcribe": "seconds of audio",
          "embed": "chunks", "store": "chunks"}  # fmt: skip


@dataclass
class BatchReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    recovered: list[str] = field(default_factory=list)  # files a killed run left half-written
    stopped: str = ""  # why the batch stopped early, if it did
    ignored: list[str] = field(default_factory=list)  # not PDFs or images, by their names
    index_seconds: float = 0.0  # building the vector index after the batch's writes
    # Seconds spent in each stage and what it handled: parse and ocr (worker time, summed
    # over the workers), transcribe, embed and store (the main process).
    stages: dict[str, StageTime] = field(default_factory=dict)
    batch: str = ""  # the batch's id, on every ledger entry it records ("2026-11-26T09:48:12Z")

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    def _sum(self, attribute: str) -> int:
        return sum(getattr(o, attribute) for o in self.outcomes if o.state == FileState.INGESTED)

    @property
    def pages(self) -> int:
        return self._sum("pages")

    @property
    def chunks(self) -> int:
        return self._sum("chunks")

    @property
    def ocr_pages(self) -> int:
        return self._sum("ocr_pages")

    @property
    def audio_seconds(self) -> float:
        return sum(o.audio_seconds for o in self.outcomes if o.state == FileState.INGESTED)

    def needs_rescan(self) -> list[dict[str, Any]]:
        return [{"path": o.path, "pages": o.rescan_pages} for o in self.outcomes if o.rescan_pages]

    def to_review(self) -> list[dict[str, Any]]:
        """Recordings heard with too little confidence: a person should listen."""
        return [{"path": o.path, "reason": o.review} for o in self.outcomes if o.review]

    def to_confirm(self) -> list[dict[str, Any]]:
        """Documents whose weak markings did not count: a person cleared to them decides."""
        return [
            {"path": o.path, "markings": [m.to_dict() for m in o.to_confirm]}
            for o in self.outcomes
            if o.to_confirm
        ]

    def slowest(self) -> list[FileOutcome]:
        parsed = [
            o
            for o in self.outcomes
            if o.state in (FileState.INGESTED, FileState.QUARANTINED, FileState.REFUSED)
        ]
        return sorted(parsed, key=lambda o: o.seconds, reverse=True)[:_SLOWEST]

    def to_dict(self) -> dict:
        states = (
            FileState.INGESTED,
            FileState.UNCHANGED,
            FileState.RECLASSIFIED,
            FileState.QUARANTINED,
            FileState.REFUSED,
            FileState.SKIPPED,
            FileState.EXPANDED,
        )
        return {
            "batch": self.batch,
            "totals": {state: self.count(state) for state in states}
            | {"pages": self.pages, "ocr_pages": self.ocr_pages, "chunks": self.chunks}
            | {"audio_seconds": round(self.audio_seconds, 1), "ignored": len(self.ignored)},
            "seconds": round(self.seconds, 2),
            "pages_per_second": round(self.pages / self.seconds, 3) if self.seconds else 0.0,
            "recovered": self.recovered,
            "ignored": self.ignored,
            "stopped": self.stopped,
            "index_seconds": round(self.index_seconds, 2),
            "stages": {name: stage.to_dict() for name, stage in self.stages.items()},
            "needs_rescan": self.needs_rescan(),
            "to_review": self.to_review(),
            "to_confirm": self.to_confirm(),
            "slowest": [{"path": o.path, "seconds": round(o.seconds, 2)} for o in self.slowest()],
            "files": [o.to_dict() for o in self.outcomes],
        }


def pages_eta(
    rate: float, reading: int, queued: int, pages_probed: int, files_probed: int
) -> float | None:
    """Seconds left at `rate` pages/s: the pages still to read of the files open, and the
    queued files' at the mean pages per file seen so far; None before any is known."""
    if rate <= 0 or not files_probed:
        return None
    return (reading + queued * pages_probed / files_probed) / rate


def needs_rescan(confidence: dict[int, float | None], threshold: float) -> list[int]:
    """OCRed pages read with a mean confidence under `threshold` (or with no word at all)."""
    return sorted(page for page, value in confidence.items() if value is None or value < threshold)


def canonical_caveats(caveats: Iterable[str]) -> tuple[str, ...]:
    """Declared caveats in their written form ("special france" -> "SPÉCIAL FRANCE")."""
    known = {fold(c): c for c in DEFAULT_CAVEATS}
    return tuple(sorted({known.get(fold(c), c.strip().upper()) for c in caveats if c.strip()}))


# -- which files -------------------------------------------------------------------------


def _walk(folder: Path, exclude: Path | None, skipped: list[FileOutcome]) -> Iterable[Path]:
    """Every file under `folder`. Links to folders are followed only inside `folder` and
    never around a loop; never into `exclude` (Vigie's home, should it sit in an archive)."""
    root_real = folder.resolve()
    seen: set[Path] = {exclude.resolve()} if exclude is not None else set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = Path(root).resolve()
        seen.add(real)
        kept = []
        for name in sorted(dirs):
            target = (Path(root) / name).resolve()
            if target in seen or target in root_real.parents or target == root_real:
                log.info("%s: link back to a folder already walked, not followed", name)
            elif not target.is_relative_to(root_real):
                reason = "link to a folder outside the batch folder: not followed"
                skipped.append(FileOutcome(str(Path(root) / name), FileState.SKIPPED, reason))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            yield Path(root) / name


def collect_files(
    paths: Sequence[Path], exclude: Path | None = None
) -> tuple[list[Path], list[FileOutcome], list[str]]:
    """The files a batch will read, one-line outcomes for paths it cannot use, and the
    files of the folders that are not PDFs or images by their name (ignored, listed)."""
    files: list[Path] = []
    problems: list[FileOutcome] = []
    ignored: list[str] = []

    def consider(path: Path, explicit: bool) -> None:
        if path.is_symlink() and not path.exists():
            problems.append(
                FileOutcome(
                    str(path), FileState.SKIPPED, "broken or looping symbolic link: nothing to read"
                )
            )
        elif not path.is_file():
            if explicit:
                problems.append(
                    FileOutcome(str(path), FileState.SKIPPED, "not a regular file or folder")
                )
        elif path.name == DECLARATION_FILE or path.name.startswith("."):
            return
        elif explicit or path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
        else:
            ignored.append(str(path))

    for path in paths:
        if path.is_dir():
            before = len(files)
            for entry in _walk(path, exclude, problems):
                consider(entry, explicit=False)
            if len(files) == before:
                problems.append(
                    FileOutcome(
                        str(path), FileState.SKIPPED, "folder holds no PDF, PNG, JPEG or TIFF file"
                    )
                )
        elif not path.exists() and not path.is_symlink():
            problems.append(FileOutcome(str(path), FileState.SKIPPED, "path not found"))
        else:
            consider(path, explicit=True)
    unique = list(dict.fromkeys(Path(os.path.abspath(p)) for p in files))
    return unique, problems, ignored


def read_declaration(path: Path) -> Declaration:
    """A folder's declaration file: `level = "..."` and `caveats = [...]`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        level = Level.parse(data["level"]) if data.get("level") else None
        caveats = data.get("caveats", [])
        if isinstance(caveats, str):
            caveats = [caveats]
        return Declaration(level, canonical_caveats(caveats))
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise UnreadableFile(f"bad declaration file {path}: {str(exc).splitlines()[0]}") from exc


class Declarations:
    """The declarations that apply to a file: the batch's, and every folder's above it."""

    def __init__(self, batch: Declaration) -> None:
        self.batch = batch
        self._folders: dict[Path, Declaration | UnreadableFile | None] = {}

    def _folder(self, folder: Path) -> Declaration | UnreadableFile | None:
        if folder not in self._folders:
            sidecar = folder / DECLARATION_FILE
            try:
                self._folders[folder] = read_declaration(sidecar) if sidecar.is_file() else None
            except UnreadableFile as exc:
                self._folders[folder] = exc
        return self._folders[folder]

    def for_file(self, path: Path) -> Declaration:
        declaration = self.batch
        for folder in path.parents:
            found = self._folder(folder)
            if isinstance(found, UnreadableFile):
                raise found
            if found is not None:
                declaration = declaration.merged(found)
        return declaration


# -- one file in flight ----------------------------------------------------------------


class _Member(NamedTuple):
    """A file expanded from another (a zip member, an e-mail's attachment)."""

    declared: Declaration  # the declaration of what held it
    depth: int  # 1: held by a file of the batch's own; 2: by one of its members...
    note: str  # where it comes from, its report's reason: "attached to: ordre.eml"


@dataclass
class _FileJob:
    path: Path
    sha256: str
    declared: Declaration
    started: float
    probe: FileProbe | None = None
    windows: list[tuple[int, int]] = field(default_factory=list)
    submitted: int = 0  # windows handed to the pool
    consumed: int = 0  # windows chunked, in page order
    arrived: dict[int, Pages] = field(default_factory=dict)  # out-of-order results
    futures: set[Future[Any]] = field(default_factory=set)
    chunker: DocumentChunker | None = None
    waiting: list[Chunk] = field(default_factory=list)  # chunked, not yet embedded
    written: int = 0
    markings: list[Marking] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    confidence: dict[int, float | None] = field(default_factory=dict)
    started_writing: bool = False
    copies: list[tuple[Path, Declaration]] = field(default_factory=list)  # same content
    deadline: float = 0.0  # seconds it may take (a recording's grow with its length)
    audio_seconds: float = 0.0  # a recording's, once transcribed
    review: str = ""  # why a person should listen to it again, if they should

    @property
    def complete(self) -> bool:
        return self.probe is not None and self.consumed == len(self.windows)

    @property
    def limit(self) -> str:
        """The settings its `deadline` comes from, as an operator is told."""
        if self.probe is not None and self.probe.duration:
            return "file_timeout + recording_seconds_per_second x its length"
        return "file_timeout"


class IngestPipeline:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: VectorStore,
        ledger: Ledger,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.ledger = ledger
        self.workers = workers or settings.worker_count
        self._batch_ids: set[str] = set()  # given by this pipeline, recorded or not

    # -- the batch -----------------------------------------------------------------------

    def run(
        self,
        paths: Sequence[Path],
        level: Level | None = None,
        caveats: Iterable[str] = (),
        retry_quarantined: bool = False,
        progress: Callable[[FileOutcome], None] | None = None,
        show_bar: bool | None = None,
        retry_all: bool = True,
        fed_by: str = "",
    ) -> BatchReport:
        """Ingest `paths`. `retry_quarantined`: read quarantined files again, those among
        `paths` and, with `retry_all`, every other one the ledger knows. `fed_by`: the
        user running the batch, recorded with each file."""
        started = time.perf_counter()
        report = BatchReport(batch=self.new_batch_id())
        self.store.ensure_collection(self.embedder.dimension, self.embedder.identity)
        report.recovered = self.recover()
        files, problems, report.ignored = collect_files(paths, exclude=self.settings.home)
        if retry_quarantined and retry_all:
            known = set(files)
            for entry in self.ledger.in_state(FileState.QUARANTINED):
                path = Path(entry.path)
                if path not in known and path.is_file():
                    files.append(path)
                    known.add(path)
        report.outcomes.extend(problems)
        declarations = Declarations(Declaration(level, canonical_caveats(caveats)))
        batch = _Batch(
            self, files, declarations, retry_quarantined, report, progress, show_bar, fed_by
        )
        try:
            batch.check_free_space()
            batch.run()
            report.index_seconds = batch.build_index()
        except BatchStopped as exc:
            report.stopped = str(exc)
            log.error("batch stopped: %s", exc)
        report.seconds = time.perf_counter() - started
        return report

    def new_batch_id(self) -> str:
        """The UTC second the batch starts ("2026-11-26T09:48:12Z"); "-2", "-3"... appended
        when a batch that started in the same second already has it."""
        start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        batch, n = start, 1
        while batch in self._batch_ids or self.ledger.batch_exists(batch):
            n += 1
            batch = f"{start}-{n}"
        self._batch_ids.add(batch)
        return batch

    def recover(self) -> list[str]:
        """Delete the chunks of files a killed run left half-written; return their paths."""
        recovered = []
        for entry in self.ledger.in_state(FileState.WRITING):
            self.store.delete_document(entry.sha256)
            self.ledger.set_state(
                entry.sha256,
                FileState.INTERRUPTED,
                "ingestion was interrupted; read again on next run",
            )
            recovered.append(entry.path)
            log.warning("%s: interrupted by a previous run, its partial chunks deleted", entry.path)
        return recovered

    def remove(self, key: str) -> list[LedgerEntry]:
        """Take a document out of the store (by path or SHA-256 prefix); return what was."""
        removed = []
        for entry in self.ledger.find(key):
            if entry.state in (FileState.INGESTED, FileState.WRITING, FileState.INTERRUPTED):
                self.store.delete_document(entry.sha256)
            if entry.state != FileState.REMOVED:
                self.ledger.set_state(entry.sha256, FileState.REMOVED, "removed by an operator")
                removed.append(entry)
        return removed

    def settle_marking(self, entry: LedgerEntry, confirm: bool) -> Level:
        """A person's decision on `entry`'s weak markings: confirmed, the document is
        raised to their highest level (store and ledger); dismissed, its level stays.
        Either way nothing is left to confirm. Returns the document's level."""
        level = Level(entry.level) if entry.level is not None else min(Level)
        if confirm:
            level = max([level, *(m.level for m in entry.to_confirm)])
            self.store.publish(entry.sha256, int(level), level.label, tuple(entry.caveats))
            self.ledger.set_classification(entry.sha256, int(level), entry.caveats)
        self.ledger.set_to_confirm(entry.sha256, [])
        return level

    def classify(
        self, markings: Iterable[Marking], declared: Declaration, read: bool = True
    ) -> tuple[Level | None, tuple[str, ...], list[PendingMarking]]:
        """The highest of the markings and the declaration, every caveat of either, and
        the weak markings above that level left for a person to confirm.

        A declaration can raise what the markings say, never lower it. With
        neither, the site's level for unmarked documents, if it names one and the
        file was `read` (an unreadable file's level stays unknown).
        """
        reading = weigh_markings(markings)
        levels = [lvl for lvl in (reading.level, declared.level) if lvl is not None]
        level = max(levels) if levels else (self.settings.unmarked() if read else None)
        pending = [
            PendingMarking(m.level, m.page, m.line, m.evidence)
            for m in reading.to_confirm
            if level is None or m.level > level
        ]
        return level, tuple(sorted(set(declared.caveats) | set(reading.caveats))), pending


class _Batch:
    """The loop of one `IngestPipeline.run`: keeps the workers busy, files in order."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        files: list[Path],
        declarations: Declarations,
        retry_quarantined: bool,
        report: BatchReport,
        progress: Callable[[FileOutcome], None] | None,
        show_bar: bool | None,
        fed_by: str = "",
    ) -> None:
        self.p = pipeline
        self.settings = pipeline.settings
        self.queue = deque(files)
        self.declarations = declarations
        self.retry_quarantined = retry_quarantined
        self.report = report
        self.batch = report.batch  # recorded on every ledger entry this batch writes
        self.fed_by = fed_by  # and who ran it
        self.progress = progress
        self.show_bar = show_bar
        self.jobs: list[_FileJob] = []  # files being parsed, oldest first
        self.owner: dict[Future[Any], tuple[_FileJob, int]] = {}  # window -1: the probe
        self.max_tasks = pipeline.workers * 2
        self.max_files = pipeline.workers + 2
        self.pages_done = 0
        self.ocr_done = 0
        self.audio_done = 0.0  # seconds of recordings transcribed
        self.files_probed = 0  # documents (not recordings) whose pages are counted
        self.pages_probed = 0
        # Members of zip archives and attachments of e-mails, by their path on disk.
        self.members: dict[Path, _Member] = {}
        # Vectors of the batch's last chunk texts: a text met again (a boilerplate page, a
        # disclaimer, the same letter twice) is embedded once.
        self.vectors: OrderedDict[str, list[float]] = OrderedDict()

    def run(self) -> None:
        from tqdm import tqdm

        visible = sys.stderr.isatty() if self.show_bar is None else self.show_bar
        self.bar = tqdm(total=len(self.queue), unit="file", desc="ingest", disable=not visible)
        self.clock = time.perf_counter()
        pool = ParserPool(self.settings, self.p.workers) if self.queue else None
        try:
            while self.queue or self.jobs:
                self._fill(pool)
                if not self.owner:
                    continue
                done, _ = wait(list(self.owner), timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future)
                self._enforce_deadlines()
                self._advance()
        finally:
            if pool is not None:
                pool.close()
            self.bar.close()
        for name, stage in self.report.stages.items():  # shown with --verbose
            log.info("stage %s", stage.describe(name))

    # -- scheduling ------------------------------------------------------------------------

    def _fill(self, pool: ParserPool | None) -> None:
        """Hand the pool work: next windows of open files first, then new files."""
        for job in self.jobs:
            while job.probe is not None and job.submitted < len(job.windows):
                if len(self.owner) >= self.max_tasks:
                    return
                first, last = job.windows[job.submitted]
                assert pool is not None
                future = pool.parse(job.path, job.probe.kind, first, last, job.deadline)
                self.owner[future] = (job, job.submitted)
                job.futures.add(future)
                job.submitted += 1
        while self.queue and len(self.owner) < self.max_tasks and len(self.jobs) < self.max_files:
            path = self.queue.popleft()
            job = self._open(path)
            if job is not None:
                assert pool is not None
                future = pool.probe(path)
                self.owner[future] = (job, -1)
                job.futures.add(future)
                self.jobs.append(job)

    def _open(self, path: Path) -> _FileJob | None:
        """Checks made before any parsing; None when the file is settled without it."""
        started = time.perf_counter()
        try:
            declared = self.declarations.for_file(path)
            if path in self.members:  # a member of an archive, an e-mail's attachment
                declared = declared.merged(self.members[path].declared)
            size = path.stat().st_size
            if size > self.settings.max_file_mb * 1024 * 1024:
                raise UnreadableFile(
                    f"file too large: {size / 1024 / 1024:.0f} MB, over the "
                    f"{self.settings.max_file_mb:.0f} MB limit (max_file_mb)"
                )
            if not os.access(path, os.R_OK):
                raise UnreadableFile("cannot read file: permission denied")
            from vigie.models import sha256_of

            sha256 = sha256_of(path)
        except FileNotFoundError:
            self._finish(
                FileOutcome(str(path), FileState.QUARANTINED, "file disappeared before reading")
            )
            return None
        except UnreadableFile as exc:
            self._quarantine_unread(path, str(exc))
            return None
        except OSError as exc:
            self._quarantine_unread(path, f"cannot read file: {exc.strerror or exc}")
            return None
        for job in self.jobs:
            if job.sha256 == sha256:  # the same content is already being read in this batch
                job.copies.append((path, declared))
                return None
        known = self.p.ledger.get(sha256)
        if known is not None and known.state == FileState.INGESTED:
            self._finish(self._unchanged(path, known, declared, started))
            return None
        if (
            known is not None
            and known.state == FileState.QUARANTINED
            and not self.retry_quarantined
        ):
            outcome = FileOutcome(
                str(path), FileState.QUARANTINED, f"still quarantined: {known.reason}", known.pages
            )
            self._finish(outcome)
            return None
        if is_zip(path) and office_kind(path) is None:  # DOCX, ODT...: zips, read as such
            self._expand(path, sha256, declared, started)
            return None
        if path.suffix.lower() in MAIL_SUFFIXES:
            self._attachments(path, sha256, declared)
        return _FileJob(path, sha256, declared, started, deadline=self.settings.file_timeout)

    def _unpacked_folder(self, path: Path, sha256: str) -> Path:
        return self.settings.home / "unpacked" / f"{path.stem[:60]}-{sha256[:12]}"

    def _depth(self, path: Path) -> int:
        """How deep what `path` holds is nested: 1 for a file of the batch's own."""
        return self.members[path].depth + 1 if path in self.members else 1

    def _join(self, path: Path, members: list[tuple[Path, str]], declared: Declaration,
              note: str) -> int:  # fmt: skip
        """Members expanded from `path` join the batch next; return how many will be read."""
        depth = self._depth(path)
        read = []
        for member, name in members:
            if member.name == DECLARATION_FILE or member.name.startswith("."):
                continue  # a declaration inside an archive applies to its folder
            if member.suffix.lower() in SUPPORTED_SUFFIXES:
                read.append(member)
                self.members[member] = _Member(declared, depth, note)
            else:
                self.report.ignored.append(f"{path}/{name}")
        self.queue.extendleft(reversed(read))
        self.bar.total += len(read)
        return len(read)

    def _attachments(self, path: Path, sha256: str, declared: Declaration) -> None:
        """An e-mail's attachments, written beside its other expanded files, join the
        batch as documents of their own (the message itself is read as any file)."""
        try:
            attachments = read_mail(path, body_pieces=False).attachments
        except Exception:  # noqa: BLE001 - the message's own parsing says why, in its report
            return
        if not attachments:
            return
        into = self._unpacked_folder(path, sha256)
        shutil.rmtree(into, ignore_errors=True)
        into.mkdir(parents=True, mode=0o700)
        written = []
        for name, data in attachments:  # names made file names by the readers
            target, copy = into / name, 1
            while target.exists():
                copy += 1
                target = into / f"{Path(name).stem}-{copy}{Path(name).suffix}"
            try:
                target.write_bytes(data)
            except (OSError, ValueError) as exc:  # the disk: said, never a stopped batch
                self.report.ignored.append(f"{path}/{name} (not written: {exc})")
                continue
            written.append((target, name))
        self._join(path, written, declared, f"attached to: {path.name}")

    def _expand(self, path: Path, sha256: str, declared: Declaration, started: float) -> None:
        """A zip archive: its members, expanded under Vigie's home, join the batch next
        (with the archive's declaration); an archive refused whole is quarantined."""
        depth = self._depth(path)
        into = self._unpacked_folder(path, sha256)
        limits = ZipLimits(
            self.settings.max_zip_members,
            int(self.settings.max_zip_mb * 1024 * 1024),
            self.settings.max_zip_ratio,
        )
        try:
            if depth > self.settings.max_zip_depth:
                raise UnreadableFile(
                    f"zip archive nested {depth} deep, over the {self.settings.max_zip_depth} "
                    "limit (max_zip_depth)"
                )
            unpacked = unpack_zip(path, into, limits)
        except UnreadableFile as exc:
            self._quarantine_unread(path, str(exc), declared, key=sha256)
            return
        for name, reason in unpacked.refused:
            self._quarantine_unread(Path(f"{path}/{name}"), reason, declared)
        read = self._join(path, unpacked.members, declared, f"from the archive {path.name}")
        refused = f", {len(unpacked.refused)} refused" if unpacked.refused else ""
        reason = f"zip archive: {read} files read from it{refused}, expanded in {into}"
        seconds = time.perf_counter() - started
        self._finish(FileOutcome(str(path), FileState.EXPANDED, reason, seconds=seconds))

    def _unchanged(
        self, path: Path, known: LedgerEntry, declared: Declaration, started: float
    ) -> FileOutcome:
        """Already ingested; a declaration above its level (or new caveats) raises it."""
        level = Level(known.level) if known.level is not None else None
        caveats = tuple(sorted(set(known.caveats) | set(declared.caveats)))
        raised = declared.level is not None and (level is None or declared.level > level)
        state, reason = FileState.UNCHANGED, "already ingested"
        if known.path != str(path):
            reason = f"same content as {known.path}, already ingested"
        if raised or caveats != tuple(sorted(known.caveats)):
            level = max(lvl for lvl in (level, declared.level) if lvl is not None)
            self._guarded(self.p.store.publish, known.sha256, int(level), level.label, caveats)
            self._guarded(self.p.ledger.set_classification, known.sha256, int(level), caveats)
            still = [m for m in known.to_confirm if m.level > level]  # the rest is settled
            if still != known.to_confirm:
                self._guarded(self.p.ledger.set_to_confirm, known.sha256, still)
            state, reason = (
                FileState.RECLASSIFIED,
                f"already ingested; declared level {level.label}",
            )
        return FileOutcome(
            str(path),
            state,
            reason,
            known.pages,
            known.chunks,
            known.ocr_pages,
            time.perf_counter() - started,
            level=level.label if level is not None else "",
            caveats=list(caveats),
        )

    # -- results -------------------------------------------------------------------------

    def _collect(self, future: Future[Any]) -> None:
        job, window = self.owner.pop(future)
        job.futures.discard(future)
        if job not in self.jobs:
            return  # the file already failed
        try:
            result = task_outcome(future, job.deadline, job.limit)
        except UnreadableFile as exc:
            self._fail(job, str(exc))
            return
        if window < 0:
            job.probe = result
            job.windows = result.windows(self.settings.window_pages)
            job.deadline += result.duration * self.settings.recording_seconds_per_second
            if result.kind != RECORDING:
                self.files_probed += 1
                self.pages_probed += result.pages
        else:
            job.arrived[window] = result
            if result.transcript is not None:
                self._stage("transcribe", result.seconds, result.transcript.duration)
            else:
                first, last = job.windows[window]
                self._stage(
                    "ocr" if result.ocr_pages else "parse", result.seconds, last - first + 1
                )

    def _stage(self, name: str, seconds: float, count: float) -> None:
        self.report.stages.setdefault(name, StageTime(STAGES[name])).add(seconds, count)

    def pages_eta(self, rate: float) -> float | None:
        """Seconds the batch's pages still need at `rate` pages/s (see `pages_eta`)."""
        reading = sum(
            last - first + 1
            for job in self.jobs
            if job.probe is not None and job.probe.kind != RECORDING
            for first, last in job.windows[job.consumed :]
        )
        return pages_eta(rate, reading, len(self.queue), self.pages_probed, self.files_probed)

    def _enforce_deadlines(self) -> None:
        now = time.perf_counter()
        for job in list(self.jobs):
            if now - job.started > job.deadline:
                self._fail(job, too_long(job.deadline, job.limit))

    def _advance(self) -> None:
        """Chunk and embed what arrived, in page order; finish files that are complete."""
        for job in list(self.jobs):
            while job.consumed in job.arrived:
                pages = job.arrived.pop(job.consumed)
                job.consumed += 1
                self._take_pages(job, pages)
            if job.complete:
                self._complete(job)

    def _take_pages(self, job: _FileJob, pages: Pages) -> None:
        if pages.transcript is not None:
            self._take_transcript(job, pages)
            return
        if job.chunker is None:
            probe = job.probe
            doc = SourceDocument(
                str(job.path), job.sha256, job.path.name, probe.pages, created=probe.created
            )
            job.chunker = DocumentChunker(
                doc,
                PROVISIONAL_LEVEL,
                (),
                self.settings,
                measure=self.p.embedder.passage_tokens,
                max_tokens=self.p.embedder.max_tokens,
            )
        by_page: dict[int, list[str]] = {}
        for element in pages.elements:
            by_page.setdefault(element.page, []).append(element.text)
        job.markings += read_markings(sorted((n, "\n".join(t)) for n, t in by_page.items()))
        job.ocr_pages += pages.ocr_pages
        job.confidence.update(pages.confidence)
        job.waiting += job.chunker.feed(pages.elements, pages.confidence)
        first, last = job.windows[job.consumed - 1]
        self.pages_done += last - first + 1
        self.ocr_done += len(pages.ocr_pages)
        self._refresh_bar()
        if len(job.waiting) >= max(32, self.settings.embedder_batch_size * 4):
            self._write(job)

    def _take_transcript(self, job: _FileJob, pages: Pages) -> None:
        """A recording, transcribed: its spoken markings, its timed chunks, its review."""
        transcript = pages.transcript
        assert transcript is not None
        doc = SourceDocument(str(job.path), job.sha256, job.path.name, 1)
        spoken = [(segment.start, segment.text) for segment in transcript.segments]
        job.markings += read_spoken_markings(spoken)
        job.waiting += chunk_transcript(
            doc,
            transcript,
            PROVISIONAL_LEVEL,
            (),
            self.settings,
            measure=self.p.embedder.passage_tokens,
            max_tokens=self.p.embedder.max_tokens,
        )
        job.audio_seconds = transcript.duration
        share = transcript.confident_share(self.settings.speech_confident_above)
        if share < self.settings.speech_review_below:
            job.review = (
                f"speech heard with low confidence: {share:.0%} of the spoken seconds "
                f"confident, under {self.settings.speech_review_below:.0%} (speech_review_below)"
            )
        self.audio_done += transcript.duration
        self._refresh_bar()

    def _write(self, job: _FileJob) -> None:
        """Embed the waiting chunks and write them, pending, to the store."""
        if not job.waiting:
            return
        self.check_free_space()
        if not job.started_writing:
            entry = LedgerEntry(
                job.sha256,
                str(job.path),
                job.path.name,
                FileState.WRITING,
                batch=self.batch,
                fed_by=self.fed_by,
            )
            self._guarded(self.p.ledger.record, entry)
            job.started_writing = True
        chunks, job.waiting = job.waiting, []
        started = time.perf_counter()
        vectors = self._vectors([c.text for c in chunks])
        embedded = time.perf_counter()
        self._guarded(self.p.store.upsert, chunks, vectors, pending=True)
        self._stage("embed", embedded - started, len(chunks))
        self._stage("store", time.perf_counter() - embedded, len(chunks))
        job.written += len(chunks)

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        """The texts' vectors, each distinct text embedded once in the batch."""
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        for text, vector in zip(new, self.p.embedder.embed_passages(new), strict=True):
            self.vectors[text] = vector
        found = [self.vectors[t] for t in texts]
        for text in texts:
            self.vectors.move_to_end(text)
        while len(self.vectors) > _REMEMBERED_VECTORS:
            self.vectors.popitem(last=False)
        return found

    def _complete(self, job: _FileJob) -> None:
        self.jobs.remove(job)
        if job.chunker is not None:
            job.waiting += job.chunker.finish()
        self._write(job)
        level, caveats, pending = self.p.classify(job.markings, job.declared)
        seconds = time.perf_counter() - job.started
        assert job.probe is not None
        pages = 0 if job.probe.kind == RECORDING else job.probe.pages  # a recording has none
        base = dict(pages=pages, ocr_pages=len(job.ocr_pages), seconds=seconds)
        if job.written == 0:
            nothing = "no speech heard" if job.audio_seconds else "no readable text on any page"
            self._reject(job, FileState.QUARANTINED, nothing, base)
            return
        if level is None:
            reason = (
                "no classification marking found and no level declared: declare one "
                "(--level, or a vigie-classification.toml file in its folder), "
                "or set unmarked_level"
            )
            self._reject(job, FileState.REFUSED, reason, base)
            return
        self.check_free_space()
        self._guarded(self.p.store.publish, job.sha256, int(level), level.label, caveats)
        older = [
            entry.sha256
            for entry in self.p.ledger.at_path(str(job.path), [FileState.INGESTED])
            if entry.sha256 != job.sha256
        ]
        for sha256 in older:
            self._guarded(self.p.store.delete_document, sha256)
        rescan = needs_rescan(job.confidence, self.settings.ocr_rescan_below)
        entry = LedgerEntry(
            job.sha256,
            str(job.path),
            job.path.name,
            FileState.INGESTED,
            pages=pages,
            chunks=job.written,
            ocr_pages=len(job.ocr_pages),
            level=int(level),
            caveats=list(caveats),
            seconds=seconds,
            rescan_pages=rescan,
            batch=self.batch,
            fed_by=self.fed_by,
            audio_seconds=job.audio_seconds,
            review=job.review,
            to_confirm=pending,
        )
        self._guarded(self.p.ledger.record, entry, older)
        reason = "new version of a file ingested before" if older else ""
        if not older and job.path in self.members:
            reason = self.members[job.path].note  # "attached to: message.eml"
        self._finish(
            FileOutcome(
                str(job.path),
                FileState.INGESTED,
                reason,
                chunks=job.written,
                level=level.label,
                caveats=list(caveats),
                rescan_pages=rescan,
                audio_seconds=job.audio_seconds,
                review=job.review,
                to_confirm=pending,
                **base,
            )
        )
        for path, declared in job.copies:
            known = self.p.ledger.get(job.sha256)
            assert known is not None
            self._finish(self._unchanged(path, known, declared, time.perf_counter()))

    def _reject(self, job: _FileJob, state: str, reason: str, base: dict[str, Any]) -> None:
        """Quarantine or refuse a file, recording the level known of it (markings read so
        far, the declared level): who may see its name in the ledger depends on it."""
        if job.started_writing:
            self._guarded(self.p.store.delete_document, job.sha256)
        level, caveats, _ = self.p.classify(job.markings, job.declared, read=False)
        entry = LedgerEntry(
            job.sha256,
            str(job.path),
            job.path.name,
            state,
            reason,
            pages=base.get("pages", 0),
            ocr_pages=base.get("ocr_pages", 0),
            level=int(level) if level is not None else None,
            caveats=list(caveats),
            seconds=base.get("seconds", 0.0),
            batch=self.batch,
            fed_by=self.fed_by,
        )
        self._guarded(self.p.ledger.record, entry)
        self._finish(FileOutcome(str(job.path), state, reason, **base))
        for path, _ in job.copies:
            self._finish(FileOutcome(str(path), state, f"same content as {job.path}: {reason}"))

    def _fail(self, job: _FileJob, reason: str) -> None:
        """The file cannot be read: stop its tasks, drop its chunks, quarantine it."""
        for future in list(job.futures):
            future.cancel()  # a running task's worker process is killed
            self.owner.pop(future, None)
        job.futures.clear()
        if job in self.jobs:
            self.jobs.remove(job)
        pages = job.probe.pages if job.probe else 0
        seconds = time.perf_counter() - job.started
        self._reject(job, FileState.QUARANTINED, reason, {"pages": pages, "seconds": seconds})

    def _quarantine_unread(
        self,
        path: Path,
        reason: str,
        declared: Declaration | None = None,
        key: str | None = None,
    ) -> None:
        """Quarantine a file settled before any parsing: one that could not even be
        hashed, keyed by its path; a zip member refused unwritten, under its archive's
        `declared` level; an archive refused whole, keyed by its SHA-256 (`key`)."""
        declared = declared or self.declarations.for_file(path)
        level, caveats, _ = self.p.classify((), declared, read=False)
        entry = LedgerEntry(
            key or f"path:{path}", str(path), path.name, FileState.QUARANTINED, reason,
            level=int(level) if level is not None else None, caveats=list(caveats),
            batch=self.batch, fed_by=self.fed_by,
        )  # fmt: skip
        self._guarded(self.p.ledger.record, entry)
        self._finish(FileOutcome(str(path), FileState.QUARANTINED, reason))

    def _finish(self, outcome: FileOutcome) -> None:
        self.report.outcomes.append(outcome)
        log.info("%s: %s %s", outcome.state, outcome.path, outcome.reason)
        self.bar.update(1)
        self._refresh_bar()
        if self.progress:
            self.progress(outcome)

    def _refresh_bar(self) -> None:
        elapsed = max(time.perf_counter() - self.clock, 1e-6)
        rate = self.pages_done / elapsed
        postfix: dict[str, Any] = {
            "pages": self.pages_done,
            "pages_s": f"{rate:.1f}",
            "ocr": self.ocr_done,
        }
        eta = self.pages_eta(rate)
        if eta is not None and self.pages_done:
            postfix["eta"] = f"{eta:.0f}s"
        if self.audio_done:
            # Seconds of audio heard per second, and what the recordings still queued need.
            rate = self.audio_done / elapsed
            postfix["audio"] = f"{self.audio_done:.0f}s"
            postfix["audio_x"] = f"{rate:.2f}"
            waiting = sum(j.probe.duration for j in self.jobs if j.probe and not j.audio_seconds)
            if waiting:
                postfix["audio_eta"] = f"{waiting / rate:.0f}s"
        postfix["quarantined"] = self.report.count(FileState.QUARANTINED)
        self.bar.set_postfix(postfix, refresh=False)

    # -- store and ledger failures stop the batch ------------------------------------------

    def check_free_space(self) -> None:
        """Stop before the home's disk is full (see `Settings.min_free_mb`)."""
        import shutil

        free_mb = shutil.disk_usage(self.settings.home).free / 1024 / 1024
        if free_mb < self.settings.min_free_mb:
            raise BatchStopped(
                f"disk almost full: {free_mb:.0f} MB free for VIGIE_HOME "
                f"{self.settings.home}, under min_free_mb={self.settings.min_free_mb:.0f}; "
                "free some space and re-run: files ingested before are intact"
            )

    def build_index(self) -> float:
        """Build the vector index once, after the batch's writes (HNSW after bulk load,
        not point by point); the seconds it took."""
        if not self.report.count(FileState.INGESTED) and not self.report.count(
            FileState.RECLASSIFIED
        ):
            return 0.0
        started = time.perf_counter()
        self.check_free_space()
        self._guarded(self.p.store.optimize)
        return time.perf_counter() - started

    def _guarded(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the store or the ledger; if either fails, the batch cannot go on."""
        from ingest.ledger import LedgerError
        from retrieval.store import StoreError

        try:
            return method(*args, **kwargs)
        except (StoreError, LedgerError) as exc:
            raise BatchStopped(
                f"{exc}; files ingested before are intact, re-run to resume"
            ) from exc
