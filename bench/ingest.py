"""Ingestion throughput of Vigie against baselines measured in the same run.

Only ratios are reported as results: each Vigie time is set against a baseline
timed in the same run, on the same machine, on the same files.

Part (a), born-digital pages. The PDFs of `en-born-digital/`, `fr-born-digital/`
and `edge-cases/unst_DA-619p.pdf` (619 pages) are ingested twice:

* Vigie: `python -m ui.cli ingest <folder> --json --workers N` as a subprocess,
  with a fresh `VIGIE_HOME`, the prepared models and
  `VIGIE_UNMARKED_LEVEL="NON PROTÉGÉ"` (the corpus carries no classification
  markings). Throughput = report `totals.pages` / report `seconds` (the batch
  wall time, model loading excluded). The peak RSS of the process tree (the CLI
  and its children, summed, polled every 0.2 s) is recorded; summed RSS counts
  pages shared between processes more than once, so it is an upper bound.
* The plain LlamaIndex pipeline a user would write first, in this process:
  `SimpleDirectoryReader(input_files=...)` (default PDF reader, one Document per
  page), `SentenceSplitter()` with its defaults, Vigie's embedder (same model,
  encoder batch of 32, slices of 4 x 32 passages per call as Vigie's pipeline)
  and Vigie's Qdrant Edge store (one `Chunk` per node, level NON PROTÉGÉ,
  document id = SHA-256 of the file). Timed from reading to the last upsert;
  model loading and imports excluded. Pages = number of page Documents.

Target: Vigie pages/s >= 2.0 x LlamaIndex pages/s.

Part (b), OCR. The PDFs of `fr-scanned/` and `en-scanned/` that have image-only
pages (fewer than 20 non-space characters in pypdfium2's text layer); files whose
every page carries a text layer (e.g. an OCR layer) are listed and left out.

* Bare Tesseract: each image-only page is rendered with pypdfium2 at the scan's
  native resolution (largest image: pixels / extent in inches, clamped to
  150..400 dpi, 300 when there is no image) to a grey PGM, as Vigie does (untimed), then
  `tesseract <png> stdout -l fra+eng --psm 1 tsv` (OMP_THREAD_LIMIT=1) runs over
  all pages with N concurrent processes; wall time.
* Vigie: the same ingest CLI on a folder holding only those files; report
  `seconds`, and `ocr_pages` to check the same pages were OCRed.

Target: Vigie seconds <= 1.25 x bare Tesseract seconds.

Run it (a full run takes about 10 minutes on 2 cores; --only for a subset):

    .venv/bin/python bench/ingest.py --help
    .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --skip-ocr --only 'pypdf_*'
    .venv/bin/python bench/ingest.py --json > ingest-bench.json

Exits 1 when a run failed (a Vigie CLI error, a Tesseract error); a ratio below
its target is reported, not turned into a failing exit status.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.signin import signed_in  # noqa: E402
from vigie.offline import apply_offline_environment, install_network_guard  # noqa: E402

apply_offline_environment()

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "documents"
MODELS_DIR = REPO / ".vigie" / "models"
BORN_DIGITAL_FOLDERS = ("en-born-digital", "fr-born-digital")
BORN_DIGITAL_EXTRA = ("edge-cases/unst_DA-619p.pdf",)
SCANNED_FOLDERS = ("fr-scanned", "en-scanned")
UNMARKED_LEVEL = "NON PROTÉGÉ"
MIN_TEXT_CHARS = 20  # Settings.min_text_chars_per_page: under this a page is an image
POINTS_PER_INCH = 72
DEFAULT_DPI, MIN_DPI, MAX_DPI = 300, 150, 400
TESSERACT_LANGUAGES = "fra+eng"
RSS_POLL_SECONDS = 0.2
BORN_DIGITAL_TARGET = 2.0  # Vigie pages/s over LlamaIndex pages/s, at least
OCR_TARGET = 1.25  # Vigie seconds over bare Tesseract seconds, at most

_out = sys.stdout  # human-readable blocks; stderr when --json owns stdout


def say(text: str = "") -> None:
    print(text, file=_out, flush=True)


def mib(n_bytes: int | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / 2**20:.0f} MiB"


# -- results ---------------------------------------------------------------------------


@dataclass
class Run:
    """One timed run: what it read, how long it took, what it used."""

    name: str
    ok: bool = True
    error: str = ""
    pages: int = 0
    seconds: float = 0.0
    ocr_pages: int | None = None
    chunks: int | None = None
    files_ingested: int | None = None
    files_quarantined: int | None = None
    process_seconds: float | None = None  # whole subprocess, model loading included
    peak_rss_bytes: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pages_per_second(self) -> float | None:
        return self.pages / self.seconds if self.ok and self.seconds > 0 else None


@dataclass
class Comparison:
    part: str
    baseline: Run
    vigie: Run
    metric: str  # "pages/s" (higher is better) or "seconds" (lower is better)
    target: float
    ratio: float | None = None
    verdict: str = "n/a"
    files: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


def compare_throughput(part: str, baseline: Run, vigie: Run, files: list[str]) -> Comparison:
    comparison = Comparison(part, baseline, vigie, "pages/s", BORN_DIGITAL_TARGET, files=files)
    base, mine = baseline.pages_per_second, vigie.pages_per_second
    if base and mine is not None:
        comparison.ratio = mine / base
        comparison.verdict = "PASS" if comparison.ratio >= BORN_DIGITAL_TARGET else "BELOW TARGET"
    return comparison


def compare_time(part: str, baseline: Run, vigie: Run, files: list[str]) -> Comparison:
    comparison = Comparison(part, baseline, vigie, "seconds", OCR_TARGET, files=files)
    if baseline.ok and vigie.ok and baseline.seconds > 0:
        comparison.ratio = vigie.seconds / baseline.seconds
        comparison.verdict = "PASS" if comparison.ratio <= OCR_TARGET else "BELOW TARGET"
    return comparison


# -- files -----------------------------------------------------------------------------


def born_digital_files(corpus: Path, only: str) -> list[Path]:
    files = [p for folder in BORN_DIGITAL_FOLDERS for p in sorted((corpus / folder).glob("*.pdf"))]
    files += [corpus / extra for extra in BORN_DIGITAL_EXTRA if (corpus / extra).is_file()]
    return [p for p in files if fnmatch(p.name, only)]


def page_text_chars(page: Any) -> int:
    textpage = page.get_textpage()
    try:
        return sum(not c.isspace() for c in textpage.get_text_bounded())
    finally:
        textpage.close()


def image_only_pages(pdf_path: Path) -> tuple[int, list[int]]:
    """(page count, 1-based numbers of the pages without a usable text layer)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        count = len(pdf)
        images = [n for n in range(1, count + 1) if page_text_chars(pdf[n - 1]) < MIN_TEXT_CHARS]
        return count, images
    finally:
        pdf.close()


def scanned_files(corpus: Path, only: str) -> tuple[dict[Path, list[int]], dict[str, str]]:
    """Files with image-only pages (and those pages); excluded files with the reason."""
    chosen: dict[Path, list[int]] = {}
    excluded: dict[str, str] = {}
    for folder in SCANNED_FOLDERS:
        for path in sorted((corpus / folder).glob("*.pdf")):
            if not fnmatch(path.name, only):
                continue
            try:
                count, pages = image_only_pages(path)
            except Exception as exc:  # an unreadable file is reported, not fatal
                excluded[path.name] = f"pypdfium2 cannot open it: {exc}"
                continue
            if pages:
                chosen[path] = pages
            else:
                excluded[path.name] = f"text layer on all {count} pages, nothing to OCR"
    return chosen, excluded


def stage(files: Sequence[Path], folder: Path) -> Path:
    """A folder holding exactly `files` (symbolic links, copies where links fail)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = folder / path.name
        try:
            target.symlink_to(path.resolve())
        except OSError:
            shutil.copy2(path, target)
    return folder


def warm_cache(files: Sequence[Path]) -> None:
    """Read every file once so neither side pays for cold disk reads."""
    for path in files:
        path.read_bytes()


# -- Vigie through its CLI -------------------------------------------------------------


def vigie_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        VIGIE_HOME=str(home),
        VIGIE_MODELS_DIR=str(MODELS_DIR),
        VIGIE_UNMARKED_LEVEL=UNMARKED_LEVEL,
        COLUMNS="200",
        NO_COLOR="1",
        TERM="dumb",
    )
    return env


def cli_supports_workers() -> bool:
    """Whether `ui.cli ingest --help` lists `--workers` (the CLI is being reworked)."""
    with tempfile.TemporaryDirectory(prefix="vigie-bench-help-") as home:
        result = subprocess.run(
            [sys.executable, "-m", "ui.cli", "ingest", "--help"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=vigie_env(Path(home)),
            timeout=300,
            check=False,
        )
    return "--workers" in result.stdout


def tree_rss(process: Any) -> int:
    """RSS of a process and all its descendants, summed (0 once it is gone)."""
    import psutil

    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def parse_report(stdout: str) -> dict[str, Any]:
    """The JSON report the CLI printed, tolerating lines around it."""
    try:
        value = json.loads(stdout)
        if isinstance(value, dict):
            return value
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for index, char in enumerate(stdout):
        if char == "{":
            try:
                value, _ = decoder.raw_decode(stdout[index:])
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and "totals" in value:
                return value
    raise ValueError("no JSON report with 'totals' found on the CLI's stdout")


def _sum_files(report: dict[str, Any], key: str) -> int | None:
    files = report.get("files")
    if not isinstance(files, list):
        return None
    return sum(
        int(f.get(key) or 0)
        for f in files
        if isinstance(f, dict) and f.get("state", "ingested") == "ingested"
    )


def run_vigie(name: str, folder: Path, workers: int, with_workers: bool) -> Run:
    """`ui.cli ingest <folder> --json [--workers N]` with a fresh home; report and peak RSS."""
    import psutil

    run = Run(name)
    command = [sys.executable, "-m", "ui.cli", "ingest", str(folder), "--json"]
    if with_workers:
        command += ["--workers", str(workers)]
    else:
        run.notes.append("the CLI has no --workers option: ran with its default concurrency")
    with tempfile.TemporaryDirectory(prefix="vigie-bench-home-") as home:
        out_path, err_path = Path(home) / "stdout.txt", Path(home) / "stderr.txt"
        vigie_home = Path(home) / "vigie"
        vigie_home.mkdir()
        with out_path.open("w") as out, err_path.open("w") as err:
            started = time.perf_counter()
            env = signed_in(vigie_env(vigie_home))
            started = time.perf_counter()  # the user's creation is not ingestion
            process = psutil.Popen(command, stdout=out, stderr=err, cwd=REPO, env=env)
            peak = 0
            while process.poll() is None:
                peak = max(peak, tree_rss(process))
                time.sleep(RSS_POLL_SECONDS)
            run.process_seconds = time.perf_counter() - started
        run.peak_rss_bytes = peak or None
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
    if process.returncode != 0:
        tail = " | ".join(stderr.strip().splitlines()[-5:]) or "no message"
        return _failed(run, f"exit status {process.returncode}: {tail}")
    try:
        report = parse_report(stdout)
    except ValueError as exc:
        return _failed(run, f"{exc}; stdout began {stdout[:200]!r}")
    fill_from_report(run, report)
    return run


def fill_from_report(run: Run, report: dict[str, Any]) -> None:
    """Read the fields the bench relies on, noting every fallback taken."""
    raw_totals, raw_files = report.get("totals"), report.get("files")
    totals: dict[str, Any] = raw_totals if isinstance(raw_totals, dict) else {}
    files: list[Any] = raw_files if isinstance(raw_files, list) else []
    pages = totals.get("pages")
    if pages is None:
        pages = _sum_files(report, "pages")
        run.notes.append("report has no totals.pages: summed files[].pages of ingested files")
    run.pages = int(pages or 0)
    ocr_pages = totals.get("ocr_pages")
    if ocr_pages is None:
        ocr_pages = _sum_files(report, "ocr_pages")
        run.notes.append("report has no totals.ocr_pages: summed files[].ocr_pages")
    run.ocr_pages = None if ocr_pages is None else int(ocr_pages)
    run.chunks = totals.get("chunks")
    run.files_ingested = totals.get("ingested")
    run.files_quarantined = totals.get("quarantined")
    seconds = report.get("seconds")
    if isinstance(seconds, (int, float)) and seconds > 0:
        run.seconds = float(seconds)
    else:
        run.seconds = run.process_seconds or 0.0
        run.notes.append("report has no seconds: used the process wall time (model load included)")
    others = [
        f"{Path(str(f.get('path', '?'))).name} {f.get('state')}: {f.get('reason', '')}"
        for f in files
        if isinstance(f, dict) and f.get("state") not in ("ingested", None)
    ]
    if others:
        run.notes.append(f"{len(others)} file(s) not ingested: " + "; ".join(others))


def _failed(run: Run, error: str) -> Run:
    run.ok = False
    run.error = error
    return run


# -- the plain LlamaIndex pipeline -----------------------------------------------------


class RssSampler:
    """Peak RSS of this process, sampled in a background thread."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(RSS_POLL_SECONDS)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_llama_index(files: Sequence[Path], embedder: Any, batch: int) -> Run:
    """SimpleDirectoryReader + SentenceSplitter + Vigie's embedder and store, timed."""
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.node_parser import SentenceSplitter

    from retrieval.qdrant_edge import QdrantEdgeStore
    from vigie.contracts import Chunk, Level

    run = Run("LlamaIndex (in-process)")
    with tempfile.TemporaryDirectory(prefix="vigie-bench-li-") as tmp, RssSampler() as rss:
        started = time.perf_counter()
        documents = SimpleDirectoryReader(input_files=[str(p) for p in files]).load_data()
        nodes = SentenceSplitter().get_nodes_from_documents(documents)
        store = QdrantEdgeStore.open(Path(tmp) / "qdrant")
        store.ensure_collection(embedder.dimension)
        hashes: dict[str, str] = {}
        counters: dict[str, int] = {}
        # A page label that is not a number ("iv", "A-1"): the page's position in its file.
        position: dict[str, int] = {}
        seen: dict[str, int] = {}
        for document in documents:
            key = str(document.metadata.get("file_path", ""))
            seen[key] = position[document.doc_id] = seen.get(key, 0) + 1
        chunks: list[Any] = []
        for node in nodes:
            meta = node.metadata
            path = str(meta.get("file_path", ""))
            if path not in hashes:
                hashes[path] = file_sha256(path)
            sha = hashes[path]
            label = str(meta.get("page_label", ""))
            source = node.ref_doc_id or ""
            page = int(label) if label.isdigit() else position.get(source, 1)
            index = counters.get(sha, 0)
            counters[sha] = index + 1
            chunks.append(
                Chunk(
                    document_id=sha,
                    chunk_index=index,
                    text=node.get_content(),
                    file_name=str(meta.get("file_name", Path(path).name)),
                    source_path=path,
                    sha256=sha,
                    page=page,
                    element_type="NarrativeText",
                    language="",
                    level=Level.NON_PROTEGE,
                )
            )
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            store.upsert(part, embedder.embed_passages([c.text for c in part]))
        run.seconds = time.perf_counter() - started
        store.close()
    run.pages = len(documents)
    run.chunks = len(chunks)
    run.peak_rss_bytes = rss.peak
    run.notes.append("peak RSS is this bench process's (embedder and store included)")
    return run


# -- bare Tesseract --------------------------------------------------------------------


def native_dpi(page: Any) -> int:
    """Resolution of the largest image on the page, clamped to 150..400 (300 without one)."""
    import pypdfium2.raw as pdfium_c

    best_area, dpi = 0, float(DEFAULT_DPI)
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        width_px, height_px = image.get_px_size()
        left, bottom, right, top = image.get_bounds()
        extent_in = max(right - left, top - bottom) / POINTS_PER_INCH
        if width_px * height_px > best_area and extent_in > 0:
            best_area = width_px * height_px
            dpi = max(width_px, height_px) / extent_in
    return round(min(max(dpi, MIN_DPI), MAX_DPI))


def render_pages(chosen: dict[Path, list[int]], folder: Path) -> list[Path]:
    """Each image-only page as a grey PGM at its native resolution (not timed).

    The same uncompressed grey format Vigie hands Tesseract, so the comparison
    measures Vigie's overhead around Tesseract, not an image codec."""
    import pypdfium2 as pdfium

    images = []
    for path, pages in chosen.items():
        pdf = pdfium.PdfDocument(path)
        try:
            for number in pages:
                page = pdf[number - 1]
                png = folder / f"{path.stem}-p{number:04d}.pgm"
                bitmap = page.render(scale=native_dpi(page) / POINTS_PER_INCH, grayscale=True)
                bitmap.to_pil().convert("L").save(png)
                images.append(png)
        finally:
            pdf.close()
    return images


def run_tesseract(images: Sequence[Path], workers: int) -> Run:
    """`tesseract <png> stdout -l fra+eng --psm 1 tsv` over all pages, N at a time."""
    run = Run(f"bare Tesseract ({workers} processes)")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def one(png: Path) -> tuple[Path, int, str]:
        command = ["tesseract", str(png), "stdout", "-l", TESSERACT_LANGUAGES, "--psm", "1", "tsv"]
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        return png, result.returncode, result.stderr.strip()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, images))
    run.seconds = time.perf_counter() - started
    run.pages = run.ocr_pages = len(images)
    failures = [f"{png.name}: {err[-120:]}" for png, code, err in outcomes if code != 0]
    if failures:
        return _failed(run, f"{len(failures)} page(s) failed: " + "; ".join(failures[:3]))
    return run


# -- parts -----------------------------------------------------------------------------


def describe(run: Run) -> None:
    if not run.ok:
        say(f"  {run.name}: FAILED: {run.error}")
    else:
        rate = run.pages_per_second
        extra = f", {run.ocr_pages} OCR pages" if run.ocr_pages is not None else ""
        extra += f", {run.chunks} chunks" if run.chunks is not None else ""
        say(
            f"  {run.name}: {run.pages} pages in {run.seconds:.2f} s = "
            f"{rate:.2f} pages/s{extra}; peak RSS {mib(run.peak_rss_bytes)}"
        )
        if run.process_seconds is not None:
            say(f"      whole process (model loading included): {run.process_seconds:.1f} s")
    for note in run.notes:
        say(f"      note: {note}")


def part_born_digital(
    corpus: Path, only: str, workers: int, with_workers: bool, embedder_factory: Callable[[], Any]
) -> Comparison | None:
    say("== (a) born-digital pages: Vigie CLI vs plain LlamaIndex pipeline ==")
    files = born_digital_files(corpus, only)
    if not files:
        say("  no file selected")
        say()
        return None
    for path in files:
        say(f"  {path.parent.name}/{path.name}")
    warm_cache(files)

    from vigie.config import Settings

    embedder = embedder_factory()
    batch = Settings(home=Path(tempfile.gettempdir()), models_dir=MODELS_DIR).embedder_batch_size
    # Vigie's pipeline hands the embedder 4 x batch passages per call, then upserts them.
    baseline = run_llama_index(files, embedder, batch * 4)
    del embedder
    describe(baseline)

    with tempfile.TemporaryDirectory(prefix="vigie-bench-bd-") as tmp:
        folder = stage(files, Path(tmp) / "born-digital")
        vigie = run_vigie(f"Vigie CLI (--workers {workers})", folder, workers, with_workers)
    describe(vigie)
    if vigie.ok and baseline.pages != vigie.pages:
        vigie.notes.append(
            f"page counts differ: LlamaIndex {baseline.pages}, Vigie {vigie.pages} "
            "(pages/s still compares like with like per page read)"
        )
        say(f"  warning: {vigie.notes[-1]}")
    comparison = compare_throughput(
        "born-digital", baseline, vigie, [f"{p.parent.name}/{p.name}" for p in files]
    )
    if comparison.ratio is not None:
        say(
            f"  ratio Vigie/LlamaIndex pages/s = {comparison.ratio:.2f} "
            f"(target >= {BORN_DIGITAL_TARGET:.1f}): {comparison.verdict}"
        )
    say()
    return comparison


def part_ocr(corpus: Path, only: str, workers: int, with_workers: bool) -> Comparison | None:
    say("== (b) OCR: Vigie CLI vs bare Tesseract on the same image-only pages ==")
    chosen, excluded = scanned_files(corpus, only)
    for path, pages in chosen.items():
        say(f"  {path.parent.name}/{path.name}: {len(pages)} image-only page(s)")
    for name, why in excluded.items():
        say(f"  left out {name}: {why}")
    if not chosen:
        say("  no file with image-only pages selected")
        say()
        return None
    warm_cache(list(chosen))

    with tempfile.TemporaryDirectory(prefix="vigie-bench-ocr-") as tmp:
        render_started = time.perf_counter()
        images = render_pages(chosen, Path(tmp))
        render_seconds = time.perf_counter() - render_started
        baseline = run_tesseract(images, workers)
    describe(baseline)
    say(
        f"  (rendering those pages to images, one process, not counted above: "
        f"{render_seconds:.1f} s; Vigie's time includes its own rendering)"
    )

    with tempfile.TemporaryDirectory(prefix="vigie-bench-scan-") as tmp:
        folder = stage(list(chosen), Path(tmp) / "scanned")
        vigie = run_vigie(f"Vigie CLI (--workers {workers})", folder, workers, with_workers)
    describe(vigie)
    if vigie.ok and vigie.ocr_pages != baseline.ocr_pages:
        vigie.notes.append(
            f"OCR page counts differ: bare Tesseract {baseline.ocr_pages}, Vigie {vigie.ocr_pages}"
        )
        say(f"  warning: {vigie.notes[-1]}")
    comparison = compare_time("OCR", baseline, vigie, [f"{p.parent.name}/{p.name}" for p in chosen])
    comparison.excluded = excluded
    if comparison.ratio is not None:
        say(
            f"  Vigie {vigie.seconds:.1f} s vs bare Tesseract {baseline.seconds:.1f} s: "
            f"ratio {comparison.ratio:.2f} (target <= {OCR_TARGET:.2f}): {comparison.verdict}"
        )
        with_render = vigie.seconds / (baseline.seconds + render_seconds / workers)
        say(
            f"  against rendering (spread over {workers} processes) + bare Tesseract: "
            f"ratio {with_render:.2f}"
        )
    say()
    return comparison


def summary(comparisons: list[Comparison]) -> None:
    say("== summary (ratios against baselines measured in this run) ==")
    header = f"{'part':13} {'baseline':>16} {'Vigie':>16} {'ratio':>7} {'target':>8}  verdict"
    say(header)
    say("-" * len(header))
    for c in comparisons:

        def cell(run: Run, c: Comparison = c) -> str:
            if not run.ok:
                return "failed"
            if c.metric == "pages/s":
                return f"{run.pages_per_second:.2f} pages/s"
            return f"{run.seconds:.1f} s"

        target = f">= {c.target:.2f}" if c.metric == "pages/s" else f"<= {c.target:.2f}"
        ratio = f"{c.ratio:.2f}" if c.ratio is not None else "-"
        say(
            f"{c.part:13} {cell(c.baseline):>16} {cell(c.vigie):>16} {ratio:>7} "
            f"{target:>8}  {c.verdict}"
        )
        if c.vigie.peak_rss_bytes:
            say(f"{'':13} Vigie peak RSS (process tree): {mib(c.vigie.peak_rss_bytes)}")


def to_json(comparison: Comparison) -> dict[str, Any]:
    data = asdict(comparison)
    for side in ("baseline", "vigie"):
        run = getattr(comparison, side)
        data[side]["pages_per_second"] = run.pages_per_second
    return data


def main(argv: list[str] | None = None) -> int:
    global _out
    parser = argparse.ArgumentParser(
        description="Vigie ingestion throughput against LlamaIndex and bare Tesseract baselines."
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="documents folder")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="concurrency (default: cores)"
    )
    parser.add_argument("--skip-ocr", action="store_true", help="skip part (b)")
    parser.add_argument("--skip-born-digital", action="store_true", help="skip part (a)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout, text on stderr")
    parser.add_argument("--only", default="*", help="glob on file names, to test on a subset")
    args = parser.parse_args(argv)
    if args.json:
        _out = sys.stderr
    install_network_guard()
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        say(f"corpus not found: {corpus}")
        return 2

    with_workers = cli_supports_workers()
    say(f"corpus {corpus}; workers {args.workers}; CLI --workers supported: {with_workers}")
    say()

    def embedder_factory() -> Any:
        from retrieval.embedder import Embedder
        from vigie.config import Settings

        home = Path(tempfile.gettempdir())
        return Embedder.from_settings(Settings(home=home, models_dir=MODELS_DIR))

    comparisons: list[Comparison] = []
    if not args.skip_born_digital:
        result = part_born_digital(corpus, args.only, args.workers, with_workers, embedder_factory)
        if result:
            comparisons.append(result)
    if not args.skip_ocr:
        result = part_ocr(corpus, args.only, args.workers, with_workers)
        if result:
            comparisons.append(result)
    summary(comparisons)
    if args.json:
        payload = {
            "workers": args.workers,
            "cli_supports_workers": with_workers,
            "parts": [to_json(c) for c in comparisons],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    failed = [c for c in comparisons if not (c.baseline.ok and c.vigie.ok)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
