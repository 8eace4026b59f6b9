"""Source pages rendered as PNG, with the cited passage highlighted: only from the very
file that was ingested (its SHA-256), at a bounded size, never with a traceback."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageChops

from app.page_image import PageRenderer, PageUnavailable, render_page
from tests.conftest import CORPUS
from tests.pdfmaker import make_text_pdf
from vigie.contracts import Chunk, Level
from vigie.models import sha256_of

WHITE = (255, 255, 255)
# A white area of the text PDF's page 2, in points (its text sits in the top 150 points).
BLANK_BOX = (300.0, 400.0, 500.0, 500.0)


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def is_yellowish(pixel: tuple[int, int, int]) -> bool:
    red, green, blue = pixel
    return red > 230 and green > 200 and blue < 200


def dark_pixels(image: Image.Image) -> int:
    return sum(image.convert("L").point(lambda v: 255 if v < 128 else 0).histogram()[255:])


@pytest.fixture
def text_pdf(tmp_path: Path) -> tuple[Path, str]:
    pages = [
        ["Page one: the harbour log."],
        ["Page two, first line: convoy sighted off Brest.", "Second line.", "Third line."],
    ]
    path = make_text_pdf(tmp_path / "log.pdf", pages)
    return path, sha256_of(path)


# -- PDFs ----------------------------------------------------------------------------------


def test_renders_a_pdf_page_at_the_requested_width(text_pdf: tuple[Path, str]) -> None:
    path, sha = text_pdf
    second = png(render_page(path, sha, 2))
    assert second.size == (900, round(842 * 900 / 595))
    assert dark_pixels(second) > 100  # its text is drawn
    first = png(render_page(path, sha, 1))
    assert ImageChops.difference(first, second).getbbox() is not None
    assert png(render_page(path, sha, 2, width_px=450)).width == 450


def test_highlight_is_yellow_inside_the_box_and_changes_nothing_outside(
    text_pdf: tuple[Path, str],
) -> None:
    path, sha = text_pdf
    plain = png(render_page(path, sha, 2))
    marked = png(render_page(path, sha, 2, [BLANK_BOX]))
    scale = 900 / 595
    left, top, right, bottom = (round(v * scale) for v in BLANK_BOX)
    centre = ((left + right) // 2, (top + bottom) // 2)
    assert plain.getpixel(centre) == WHITE
    assert is_yellowish(marked.getpixel(centre))
    assert is_yellowish(marked.getpixel((left + 10, top + 10)))
    # The outline is orange, darker in blue and green than the fill.
    edge = marked.getpixel((left + 1, centre[1]))
    assert edge[0] > 200 and edge[1] < 200 and edge[2] < 100
    changed = ImageChops.difference(plain, marked).getbbox()
    assert changed is not None
    c_left, c_top, c_right, c_bottom = changed
    assert abs(c_left - left) <= 2 and abs(c_top - top) <= 2
    assert abs(c_right - right) <= 2 and abs(c_bottom - bottom) <= 2


def test_highlight_keeps_the_text_readable(text_pdf: tuple[Path, str]) -> None:
    path, sha = text_pdf
    first_line = (50.0, 40.0, 320.0, 70.0)
    left, top, right, bottom = (round(v * 900 / 595) for v in first_line)
    inside = (left + 4, top + 4, right - 4, bottom - 4)  # within the outline
    plain = png(render_page(path, sha, 2)).convert("L").crop(inside).tobytes()
    marked = png(render_page(path, sha, 2, [first_line])).convert("L").crop(inside).tobytes()
    ink = [i for i, value in enumerate(plain) if value < 40]
    paper = [i for i, value in enumerate(plain) if value == 255]
    assert len(ink) > 200
    assert all(marked[i] < 110 for i in ink)  # the letters stay dark
    assert all(200 < marked[i] < 255 for i in paper)  # on a tinted background


def test_text_layer_boxes_follow_a_crop_box(tmp_path: Path) -> None:
    """pdfminer's boxes start at the MediaBox; pdfium shows the CropBox."""
    path = make_text_pdf(tmp_path / "cropped.pdf", [["Cropped page."]])
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.pages[0].obj.CropBox = pikepdf.Array([50, 20, 595, 822])
        pdf.save(path)
    sha = sha256_of(path)
    box, shifted = (200.0, 300.0, 300.0, 400.0), (150.0, 280.0, 250.0, 380.0)
    from_layer = png(render_page(path, sha, 1, [box], text_layer=True))
    assert from_layer.size == (900, round(802 * 900 / 545))
    assert (
        ImageChops.difference(from_layer, png(render_page(path, sha, 1, [shifted]))).getbbox()
        is None
    )
    assert ImageChops.difference(from_layer, png(render_page(path, sha, 1, [box]))).getbbox()


def test_born_digital_corpus_pdf() -> None:
    path = CORPUS / "fr-born-digital" / "plumber_2023-06-20-PV.pdf"
    sha = sha256_of(path)
    renderer = PageRenderer()
    assert renderer.page_count(path, sha) == 2
    page = png(renderer.render(path, sha, 2))
    assert page.size == (900, round(1008 * 900 / 612))
    assert dark_pixels(page) > 1000
    landscape = CORPUS / "en-born-digital" / "plumber_ca-warn-report.pdf"
    assert png(render_page(landscape, sha256_of(landscape), 1)).size == (900, 695)


def test_scanned_corpus_pdf() -> None:
    path = CORPUS / "fr-scanned" / "tapus_an-96AP-journal-1914-1917.pdf"
    sha = sha256_of(path)
    renderer = PageRenderer()
    assert renderer.page_count(path, sha) == 9
    plain = png(renderer.render(path, sha, 3))
    page = png(renderer.render(path, sha, 3, [(100.0, 200.0, 600.0, 260.0)]))
    scale = 900 / 1191  # page 3 is 1191 x 1500 points
    assert page.size == (900, round(1500 * scale))
    assert dark_pixels(page) > 5000  # handwriting, not a blank page
    point = (round(350 * scale), round(205 * scale))
    (red, _, blue), (red_before, _, blue_before) = page.getpixel(point), plain.getpixel(point)
    assert red >= red_before - 5 and blue < blue_before - 40  # tinted yellow
    assert page.getpixel((point[0], point[1] + 100)) == plain.getpixel((point[0], point[1] + 100))


def test_rotated_scanned_page_is_shown_upright() -> None:
    path = CORPUS / "edge-cases" / "docling_ocr_test_rotated_90.pdf"
    page = png(render_page(path, sha256_of(path), 1))
    assert page.size == (900, round(595.2 * 900 / 841.92))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("pypdf_libreoffice-writer-password.pdf", "password-protected"),
        ("ocrmypdf_invalid.pdf", "not a readable PDF"),
        ("empty-0-bytes.pdf", "neither a readable PDF"),
    ],
)
def test_unreadable_pdfs_are_refused_plainly(name: str, message: str) -> None:
    path = CORPUS / "edge-cases" / name
    sha = sha256_of(path)
    with pytest.raises(PageUnavailable, match=message):
        render_page(path, sha, 1)
    with pytest.raises(PageUnavailable, match=message):
        PageRenderer().page_count(path, sha)


def test_huge_media_box_is_rendered_small(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page().obj.MediaBox = pikepdf.Array([0, 0, 200_000, 200_000])
    pdf.add_blank_page(page_size=(600, 14_400))
    path = tmp_path / "huge.pdf"
    pdf.save(path)
    sha = sha256_of(path)
    started = time.perf_counter()
    assert png(render_page(path, sha, 1)).size == (900, 900)
    assert png(render_page(path, sha, 2)).size == (round(600 * 4000 / 14_400), 4000)
    assert time.perf_counter() - started < 10


# -- the file must be the one ingested -------------------------------------------------------


def test_a_different_file_at_the_path_is_refused(
    text_pdf: tuple[Path, str], tmp_path: Path
) -> None:
    path, sha = text_pdf
    make_text_pdf(path, [["Another document, perhaps one the reader is not cleared for."]])
    with pytest.raises(PageUnavailable, match="has changed since it was ingested"):
        render_page(path, sha, 1)
    with pytest.raises(PageUnavailable, match="has changed since it was ingested"):
        PageRenderer().page_count(path, sha)


def test_a_change_after_a_cached_check_is_still_refused(text_pdf: tuple[Path, str]) -> None:
    """Same size, modification time put back: the hash cache must not be fooled."""
    path, sha = text_pdf
    renderer = PageRenderer()
    renderer.render(path, sha, 1)
    before = path.stat()
    time.sleep(0.05)  # past the file system's timestamp granularity
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    with path.open("r+b") as handle:  # in place: same inode
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(PageUnavailable, match="has changed since it was ingested"):
        renderer.render(path, sha, 1)
    with pytest.raises(PageUnavailable, match="has changed since it was ingested"):
        renderer.render(path, sha, 1, [BLANK_BOX])


def test_a_missing_file_is_refused(text_pdf: tuple[Path, str]) -> None:
    path, sha = text_pdf
    renderer = PageRenderer()
    renderer.render(path, sha, 1)
    path.unlink()
    with pytest.raises(PageUnavailable, match="no longer at"):
        renderer.render(path, sha, 1)  # not served from the cache either
    with pytest.raises(PageUnavailable, match="no longer at"):
        renderer.page_count(path, sha)


@pytest.mark.parametrize("page", [0, 3, 99])
def test_a_page_out_of_range_is_refused(text_pdf: tuple[Path, str], page: int) -> None:
    path, sha = text_pdf
    with pytest.raises(PageUnavailable, match=f"there is no page {page}: log.pdf has 2 pages"):
        render_page(path, sha, page)


def test_bad_arguments_are_programming_errors(text_pdf: tuple[Path, str]) -> None:
    path, sha = text_pdf
    with pytest.raises(ValueError, match="width_px"):
        render_page(path, sha, 1, width_px=50_000)
    with pytest.raises(ValueError, match="four finite numbers"):
        render_page(path, sha, 1, [(1.0, 2.0, 3.0)])


# -- images ----------------------------------------------------------------------------------


def test_an_image_file_renders_with_its_box_in_points(tmp_path: Path) -> None:
    """Ingestion stores an image's OCR boxes in points: pixels * 72 / the image's dpi."""
    image = Image.new("RGB", (600, 400), WHITE)
    path = tmp_path / "scan.png"
    image.save(path, dpi=(150, 150))
    sha = sha256_of(path)
    pixels = (300, 100, 400, 200)  # in the image
    box = tuple(v * 72 / 150 for v in pixels)
    plain = png(render_page(path, sha, 1))
    marked = png(render_page(path, sha, 1, [box]))
    assert plain.size == marked.size == (900, 600)
    left, top, right, bottom = (round(v * 1.5) for v in pixels)
    assert is_yellowish(marked.getpixel(((left + right) // 2, (top + bottom) // 2)))
    c_left, c_top, c_right, c_bottom = ImageChops.difference(plain, marked).getbbox()
    assert abs(c_left - left) <= 2 and abs(c_top - top) <= 2
    assert abs(c_right - right) <= 2 and abs(c_bottom - bottom) <= 2


def test_an_image_without_dpi_is_taken_at_300_dpi(tmp_path: Path) -> None:
    path = tmp_path / "scan.jpg"
    Image.new("L", (1800, 1200), 255).save(path, quality=95)
    sha = sha256_of(path)
    marked = png(render_page(path, sha, 1, [(72.0, 72.0, 144.0, 144.0)]))  # pixels 300..600
    assert marked.size == (900, 600)
    assert is_yellowish(marked.getpixel((225, 225)))
    assert marked.getpixel((100, 100))[2] > 240  # not highlighted


def test_a_multi_frame_tiff_shows_the_requested_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (300, 200), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "scan.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    sha = sha256_of(path)
    renderer = PageRenderer()
    assert renderer.page_count(path, sha) == 2
    second = png(renderer.render(path, sha, 2))
    assert second.size == (900, 600)
    red, green, blue = second.getpixel((450, 300))
    assert blue > 200 and red < 50
    with pytest.raises(PageUnavailable, match="there is no page 3"):
        renderer.render(path, sha, 3)


def test_only_pdf_png_jpeg_and_tiff_are_opened(tmp_path: Path) -> None:
    """Pillow would open an EPS file (and run Ghostscript to draw it)."""
    path = tmp_path / "drawing.eps"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n%%EOF\n")
    sha = sha256_of(path)
    with pytest.raises(PageUnavailable, match="neither a readable PDF"):
        PageRenderer().page_count(path, sha)
    with pytest.raises(PageUnavailable, match="neither a readable PDF"):
        render_page(path, sha, 1)


# -- chunks and the cache ----------------------------------------------------------------------


def chunk_on(path: Path, sha: str, page: int, bbox, ocr: bool = False) -> Chunk:
    return Chunk(
        document_id=sha,
        chunk_index=0,
        text="convoy sighted off Brest",
        file_name=path.name,
        source_path=str(path),
        sha256=sha,
        page=page,
        element_type="NarrativeText",
        language="en",
        level=Level.NON_PROTEGE,
        ocr=ocr,
        bbox=bbox,
    )


def test_render_chunk_highlights_its_box(text_pdf: tuple[Path, str]) -> None:
    path, sha = text_pdf
    renderer = PageRenderer()
    from_chunk = png(renderer.render_chunk(chunk_on(path, sha, 2, BLANK_BOX)))
    direct = png(renderer.render(path, sha, 2, [BLANK_BOX]))
    assert ImageChops.difference(from_chunk, direct).getbbox() is None
    no_box = png(renderer.render_chunk(chunk_on(path, sha, 2, None)))
    assert ImageChops.difference(no_box, png(render_page(path, sha, 2))).getbbox() is None
    other = chunk_on(path, sha, 1, None)
    with pytest.raises(ValueError, match="same page"):
        renderer.render_chunks([chunk_on(path, sha, 2, None), other])


def test_cache_serves_a_second_render_without_reading_the_file(
    text_pdf: tuple[Path, str],
) -> None:
    path, sha = text_pdf
    renderer = PageRenderer(max_entries=2)
    first = renderer.render(path, sha, 2, [BLANK_BOX])
    again = renderer.render(path, sha, 2, [BLANK_BOX])
    assert again is first
    assert (renderer.files_hashed, renderer.pages_rendered) == (1, 1)
    renderer.render(path, sha, 1)
    renderer.render(path, sha, 2)
    assert (renderer.files_hashed, renderer.pages_rendered) == (1, 3)
    # Only two renders are kept: the first one was dropped.
    assert renderer.render(path, sha, 2, [BLANK_BOX]) is not first
    assert renderer.pages_rendered == 4
