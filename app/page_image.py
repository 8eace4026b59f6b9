"""Render a source page as a PNG, with the cited passage highlighted.

The file is checked first: its SHA-256 must be the one recorded at ingestion.
The path a chunk names may now hold another file, perhaps one the reader is
not cleared for, so a changed file is refused, never shown. The file is
opened once and hashed and rendered through the same handle, and checked
again afterwards, so it cannot be swapped between the check and the render.

Boxes are (left, top, right, bottom) in PDF points from the page's top-left
corner, as ingestion stores them:

- a PDF text-layer page: unstructured "fast" (pdfminer), relative to the
  MediaBox; pdfium renders the CropBox, so `text_layer=True` shifts the box
  when the two differ (unrotated pages; they are the same almost always);
- a PDF page without a text layer: Tesseract's pixel boxes on pdfium's render
  of the visible page, times 72 / render dpi, so points of the page as shown;
- an image file: Tesseract's pixel boxes times 72 / the image's dpi (its
  "dpi" info, 300 when it has none), so pixels = points * dpi / 72. Images
  are shown as stored, without applying an EXIF rotation, as OCR read them.

pdfium is not thread-safe: every call into it holds one process-wide lock.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from PIL import Image, ImageDraw

from vigie.errors import Unavailable

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]

DEFAULT_WIDTH_PX = 900
MAX_WIDTH_PX = 4000
MAX_HEIGHT_PX = 4000
# As ingestion's limit (Settings.max_image_pixels): larger images are not decoded.
MAX_IMAGE_PIXELS = 200_000_000

_POINTS_PER_INCH = 72
_DEFAULT_IMAGE_DPI = 300.0  # what ingestion assumes for an image without dpi info
_PDF_HEADER_WINDOW = 1024
# Only these Pillow decoders are tried: never EPS (Ghostscript) or other exotic ones.
_IMAGE_FORMATS = ("PNG", "JPEG", "TIFF")
_FILL = (255, 230, 0, 90)  # semi-transparent yellow
_OUTLINE = (255, 140, 0, 255)  # orange

# pdfium keeps process-wide state and must not be entered by two threads at once.
_PDFIUM_LOCK = threading.Lock()


class PageUnavailable(Unavailable):
    """The page cannot be shown; the message says why, in plain words."""


class ChunkLike(Protocol):
    """What rendering needs from a stored passage (`vigie.contracts.Chunk` has it)."""

    source_path: str
    sha256: str
    page: int
    bbox: tuple[float, float, float, float] | None
    ocr: bool


@dataclass(frozen=True)
class _FileKey:
    """Identifies a file's current content without reading it."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str, handle: BinaryIO) -> _FileKey:
        st = os.fstat(handle.fileno())
        return cls(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class _Rendered:
    """A page's image, and how box coordinates map onto its pixels."""

    image: Image.Image
    scale_x: float  # pixels per point
    scale_y: float
    dx: float = 0.0  # points added to a box before scaling
    dy: float = 0.0


class _Lru(OrderedDict):
    """A dict that forgets its least recently used entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def get_fresh(self, key):
        if key not in self:
            return None
        self.move_to_end(key)
        return self[key]

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class PageRenderer:
    """Renders verified source pages; keeps verified hashes and rendered PNGs (LRU).

    The caller owns the instance (one per UI process is enough); it is thread-safe.
    """

    def __init__(
        self,
        max_entries: int = 64,
        *,
        max_height_px: int = MAX_HEIGHT_PX,
        max_image_pixels: int = MAX_IMAGE_PIXELS,
    ) -> None:
        self.max_height_px = max_height_px
        self.max_image_pixels = max_image_pixels
        self._hashes: _Lru = _Lru(max_entries)
        self._pngs: _Lru = _Lru(max_entries)
        self._lock = threading.Lock()
        self.files_hashed = 0  # how many times a whole file was read to hash it
        self.pages_rendered = 0  # how many renders were not served from the cache

    # -- public ------------------------------------------------------------------------

    def page_count(self, source_path: str | Path, sha256: str) -> int:
        """The number of pages (frames, for an image) of the verified file."""
        path = os.fspath(source_path)
        with _open(path) as handle:
            key = self._verify(path, handle, sha256)
            count = _count_pages(path, handle)
            self._check_unchanged(path, handle, key)
        return count

    def render(
        self,
        source_path: str | Path,
        sha256: str,
        page: int,
        highlights: Iterable[Sequence[float]] = (),
        width_px: int = DEFAULT_WIDTH_PX,
        *,
        text_layer: bool = False,
    ) -> bytes:
        """PNG of page `page` (1-based), at most `width_px` wide, boxes highlighted.

        `text_layer`: the boxes come from a PDF's text layer (MediaBox origin), not OCR.
        Raise `PageUnavailable` when the file is gone, changed, unreadable or too short.
        """
        if not 1 <= width_px <= MAX_WIDTH_PX:
            raise ValueError(f"width_px must be between 1 and {MAX_WIDTH_PX}, not {width_px}")
        boxes = _clean_boxes(highlights)
        path = os.fspath(source_path)
        sha256 = sha256.strip().lower()
        wanted = (sha256, page, boxes, width_px, text_layer)
        with _open(path) as handle:
            key = self._verify(path, handle, sha256)
            with self._lock:
                cached = self._pngs.get_fresh(wanted)
            if cached is not None:
                return cached
            png = self._render(path, handle, page, boxes, width_px, text_layer)
            self._check_unchanged(path, handle, key)
        with self._lock:
            self.pages_rendered += 1
            self._pngs.put(wanted, png)
        return png

    def render_chunk(self, chunk: ChunkLike, width_px: int = DEFAULT_WIDTH_PX) -> bytes:
        """The chunk's page with its box (if known) highlighted."""
        return self.render_chunks([chunk], width_px)

    def render_chunks(self, chunks: Sequence[ChunkLike], width_px: int = DEFAULT_WIDTH_PX) -> bytes:
        """One page that several chunks share, every known box highlighted."""
        if not chunks:
            raise ValueError("no chunk to render")
        first = chunks[0]
        where = (first.source_path, first.sha256, first.page)
        if any((c.source_path, c.sha256, c.page) != where for c in chunks):
            raise ValueError("the chunks are not all on the same page of the same file")
        boxes = [c.bbox for c in chunks if c.bbox]
        return self.render(
            first.source_path,
            first.sha256,
            first.page,
            boxes,
            width_px,
            text_layer=not first.ocr,
        )

    # -- checks ------------------------------------------------------------------------

    def _verify(self, path: str, handle: BinaryIO, sha256: str) -> _FileKey:
        """Raise `PageUnavailable` unless the open file's SHA-256 is `sha256`."""
        key = _FileKey.of(path, handle)
        with self._lock:
            actual = self._hashes.get_fresh(key)
        if actual is None:
            try:
                handle.seek(0)
                actual = hashlib.file_digest(handle, "sha256").hexdigest()
            except OSError as exc:
                raise PageUnavailable(f"the file at {path} cannot be read: {_why(exc)}") from exc
            with self._lock:
                self.files_hashed += 1
                self._hashes.put(key, actual)
        if actual != sha256.strip().lower():
            raise PageUnavailable(f"the file at {path} has changed since it was ingested")
        return key

    def _check_unchanged(self, path: str, handle: BinaryIO, key: _FileKey) -> None:
        if _FileKey.of(path, handle) != key:
            raise PageUnavailable(f"the file at {path} changed while it was being read")

    # -- rendering ---------------------------------------------------------------------

    def _render(
        self,
        path: str,
        handle: BinaryIO,
        page: int,
        boxes: tuple[Box, ...],
        width_px: int,
        text_layer: bool,
    ) -> bytes:
        handle.seek(0)
        if _is_pdf(handle):
            rendered = self._render_pdf(path, handle, page, width_px, text_layer)
        else:
            rendered = self._render_image(path, handle, page, width_px)
        image = _highlight(rendered, boxes) if boxes else rendered.image
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def _fit(self, width: float, height: float, width_px: int) -> tuple[int, int]:
        """The output size: the page's shape, at most `width_px` wide and the height cap."""
        scale = min(width_px / width, self.max_height_px / height)
        return max(1, min(width_px, round(width * scale))), max(
            1, min(self.max_height_px, round(height * scale))
        )

    def _render_pdf(
        self, path: str, handle: BinaryIO, page: int, width_px: int, text_layer: bool
    ) -> _Rendered:
        with _PDFIUM_LOCK:
            document = _open_pdf(path, handle)
            try:
                _check_page(path, page, len(document))
                pdf_page = document[page - 1]
                try:
                    width, height = pdf_page.get_size()
                    if not _usable(width, height):
                        raise PageUnavailable(f"page {page} of {_name(path)} has no usable size")
                    size = self._fit(width, height, width_px)
                    bitmap = pdf_page.render(scale=size[0] / width)
                    try:
                        image = bitmap.to_pil().convert("RGB")  # a copy, owned by Pillow
                    finally:
                        bitmap.close()
                    offset = _text_layer_offset(pdf_page) if text_layer else (0.0, 0.0)
                finally:
                    pdf_page.close()
            except PageUnavailable:
                raise
            except Exception as exc:  # pdfium or its binding failing on a damaged page
                log.debug("rendering page %d of %s failed", page, path, exc_info=True)
                raise PageUnavailable(
                    f"page {page} of {_name(path)} could not be rendered"
                ) from exc
            finally:
                document.close()
        if image.size != size:  # pdfium rounds its bitmap size up
            image = image.resize(size, Image.Resampling.LANCZOS)
        return _Rendered(image, size[0] / width, size[1] / height, *offset)

    def _render_image(self, path: str, handle: BinaryIO, page: int, width_px: int) -> _Rendered:
        try:
            with Image.open(handle, formats=_IMAGE_FORMATS) as image:
                _check_page(path, page, int(getattr(image, "n_frames", 1)))
                image.seek(page - 1)
                width, height = image.size
                if width * height > self.max_image_pixels:
                    raise PageUnavailable(
                        f"{_name(path)} is too large to show ({width} x {height} pixels)"
                    )
                dpi = _image_dpi(image.info)
                size = self._fit(width, height, width_px)
                image.draft("RGB", size)  # JPEG: decode at a reduced scale (no-op otherwise)
                frame = _flatten(image).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        except PageUnavailable:
            raise
        except Image.DecompressionBombError as exc:
            raise PageUnavailable(f"{_name(path)} is too large to show") from exc
        except Exception as exc:  # Pillow on an unknown, truncated or damaged file
            log.debug("rendering page %d of %s failed", page, path, exc_info=True)
            raise PageUnavailable(
                f"{_name(path)} is neither a readable PDF nor a readable PNG, JPEG or TIFF"
            ) from exc
        points_w = width * _POINTS_PER_INCH / dpi
        points_h = height * _POINTS_PER_INCH / dpi
        return _Rendered(frame, size[0] / points_w, size[1] / points_h)


def render_page(
    source_path: str | Path,
    sha256: str,
    page: int,
    highlights: Iterable[Sequence[float]] = (),
    width_px: int = DEFAULT_WIDTH_PX,
    *,
    text_layer: bool = False,
) -> bytes:
    """PNG bytes of one verified page, without any cache (see `PageRenderer.render`)."""
    renderer = PageRenderer(max_entries=1)
    return renderer.render(source_path, sha256, page, highlights, width_px, text_layer=text_layer)


# -- helpers -----------------------------------------------------------------------------


@contextmanager
def _open(path: str) -> Iterator[BinaryIO]:
    """The file opened for reading, or `PageUnavailable` saying why not."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError as exc:
        raise PageUnavailable(f"the source file is no longer at {path}") from exc
    except IsADirectoryError as exc:
        raise PageUnavailable(f"{path} is a directory, not the source file") from exc
    except OSError as exc:
        raise PageUnavailable(f"the file at {path} cannot be read: {_why(exc)}") from exc
    try:
        yield handle
    finally:
        handle.close()


def _open_pdf(path: str, handle: BinaryIO):
    """A pdfium document read through `handle` (call with `_PDFIUM_LOCK` held)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(handle, autoclose=False)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise PageUnavailable(
                f"{_name(path)} is password-protected and cannot be shown"
            ) from exc
        raise PageUnavailable(f"{_name(path)} is not a readable PDF") from exc


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def _name(path: str) -> str:
    return Path(path).name or path


def _is_pdf(handle: BinaryIO) -> bool:
    """A PDF header in the first kilobyte, as readers (and ingestion) accept it."""
    head = handle.read(_PDF_HEADER_WINDOW)
    handle.seek(0)
    return b"%PDF-" in head


def _check_page(path: str, page: int, count: int) -> None:
    if not 1 <= page <= count:
        pages = "page" if count == 1 else "pages"
        raise PageUnavailable(f"there is no page {page}: {_name(path)} has {count} {pages}")


def _count_pages(path: str, handle: BinaryIO) -> int:
    """The page count of a PDF, or the frame count of an image."""
    handle.seek(0)
    if _is_pdf(handle):
        with _PDFIUM_LOCK:
            document = _open_pdf(path, handle)
            try:
                return len(document)
            finally:
                document.close()
    try:
        with Image.open(handle, formats=_IMAGE_FORMATS) as image:
            return int(getattr(image, "n_frames", 1))
    except Exception as exc:
        raise PageUnavailable(
            f"{_name(path)} is neither a readable PDF nor a readable PNG, JPEG or TIFF"
        ) from exc


def _usable(width: float, height: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in (width, height))


def _text_layer_offset(pdf_page) -> tuple[float, float]:
    """What to add to a MediaBox-relative box (pdfminer) to place it on the rendered
    CropBox, top-left origin; zero for a rotated page (not handled) or equal boxes."""
    if pdf_page.get_rotation():
        return 0.0, 0.0
    media_left, _, _, media_top = pdf_page.get_mediabox()
    crop_left, _, _, crop_top = pdf_page.get_cropbox()
    return media_left - crop_left, crop_top - media_top


def _image_dpi(info: dict) -> float:
    """The dpi ingestion used for this frame's OCR boxes (`ingest.parse._prepared`)."""
    try:
        dpi = float((info.get("dpi") or (0, 0))[0] or 0)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        dpi = 0.0
    return dpi if math.isfinite(dpi) and dpi > 0 else _DEFAULT_IMAGE_DPI


def _flatten(image: Image.Image) -> Image.Image:
    """The frame as RGB, transparency over white."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    return image.convert("RGB")


def _clean_boxes(highlights: Iterable[Sequence[float]]) -> tuple[Box, ...]:
    """The boxes as (left, top, right, bottom) floats; raise ValueError for a malformed one."""
    boxes = []
    for box in highlights or ():
        values = tuple(float(v) for v in box)
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise ValueError(f"a highlight box is four finite numbers, not {box!r}")
        x0, y0, x1, y1 = values
        boxes.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    return tuple(boxes)


def _highlight(rendered: _Rendered, boxes: tuple[Box, ...]) -> Image.Image:
    """The image with each box (in points) filled yellow and outlined in orange."""
    image = rendered.image
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    line = max(2, round(image.width / 450))

    def x(value: float) -> int:
        return _clamp((value + rendered.dx) * rendered.scale_x, image.width)

    def y(value: float) -> int:
        return _clamp((value + rendered.dy) * rendered.scale_y, image.height)

    for x0, y0, x1, y1 in boxes:
        left, top, right, bottom = x(x0), y(y0), x(x1), y(y1)
        if right <= left or bottom <= top:
            continue  # outside the page, or empty
        draw.rectangle((left, top, right, bottom), fill=_FILL, outline=_OUTLINE, width=line)
    out = image.convert("RGBA")
    out.alpha_composite(overlay)
    return out.convert("RGB")


def _clamp(value: float, limit: int) -> int:
    return max(0, min(limit - 1, round(value)))
