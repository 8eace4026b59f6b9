"""OCR: one Tesseract run per page, rotation handled, accuracy against human ground truth."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image
from rapidfuzz.distance import Levenshtein

from ingest.ocr import ocr_image, parse_tsv
from ingest.parse import parse_file
from tests.conftest import CORPUS
from vigie.config import Settings

HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


def row(
    block: int,
    par: int,
    line: int,
    word: int,
    conf: float,
    text: str,
    box: tuple[int, int, int, int] = (0, 0, 10, 10),  # left, top, width, height as in the TSV
) -> str:
    left, top, width, height = box
    return f"5\t1\t{block}\t{par}\t{line}\t{word}\t{left}\t{top}\t{width}\t{height}\t{conf}\t{text}"


def test_tsv_paragraphs_rejoin_hyphenated_words_and_weigh_confidence() -> None:
    tsv = "\n".join(
        [
            HEADER,
            "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
            row(1, 1, 1, 1, 90, "l'atten-"),
            row(1, 1, 2, 1, 90, "dait"),
            row(1, 1, 2, 2, 60, "le"),
            row(2, 1, 1, 1, 30, "Colbert"),
        ]
    )
    page = parse_tsv(tsv)
    assert page.paragraphs == ["l'attendait le", "Colbert"]
    assert page.boxes == [(0, 0, 10, 10), (0, 0, 10, 10)]
    expected = (90 * 8 + 90 * 4 + 60 * 2 + 30 * 7) / (8 + 4 + 2 + 7) / 100
    assert page.confidence == round(expected, 3)


def test_paragraph_boxes_are_the_union_of_their_word_boxes() -> None:
    tsv = "\n".join(
        [
            HEADER,
            "2\t1\t1\t0\t0\t0\t90\t190\t500\t200\t-1\t",  # block row: not a word
            row(1, 1, 1, 1, 90, "Quel", (100, 200, 50, 20)),
            row(1, 1, 1, 2, 90, "croiseur", (160, 198, 90, 24)),
            row(1, 1, 2, 1, 80, "attendait", (100, 230, 95, 22)),
            row(1, 1, 2, 2, -1, "", (400, 900, 10, 10)),  # no text: not in the box
            row(2, 1, 1, 1, 70, "Dunkerque", (120, 400, 110, 30)),
            row(3, 1, 1, 1, 95, " ", (0, 0, 2000, 3000)),  # blank word: no paragraph at all
        ]
    )
    page = parse_tsv(tsv)
    assert page.paragraphs == ["Quel croiseur attendait", "Dunkerque"]
    assert page.boxes == [(100, 198, 250, 252), (120, 400, 230, 430)]


def test_empty_page_has_no_confidence() -> None:
    page = parse_tsv(HEADER + "\n")
    assert page.confidence is None
    assert page.paragraphs == [] and page.boxes == []


def test_page_rotated_90_degrees_is_read() -> None:
    doc = parse_file(CORPUS / "edge-cases" / "docling_ocr_test_rotated_90.pdf", Settings())
    text = " ".join(e.text for e in doc.elements)
    assert "Docling" in text and "package" in text
    assert doc.ocr_pages == [1] and doc.ocr_confidence[1] and doc.ocr_confidence[1] > 0.8


def _normalise(text: str) -> str:
    for mark in ("~~~", "_", "^"):
        text = text.replace(mark, "")
    return " ".join(text.split())


def test_typewritten_page_character_accuracy(tmp_path: Path) -> None:
    scan = CORPUS / "fr-scanned" / "tapus_an-96AP-journal-1914-1917.pdf"
    truth = (scan.with_suffix(".gt.txt")).read_text().split("\f")[2]  # page 3
    pdf = pdfium.PdfDocument(scan)
    image = tmp_path / "page3.png"
    pdf[2].render(scale=300 / 72).to_pil().save(image)
    pdf.close()
    page = ocr_image(image, ["fra", "eng"])
    width, height = Image.open(image).size
    assert len(page.boxes) == len(page.paragraphs) > 0
    for left, top, right, bottom in page.boxes:
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
    read, expected = _normalise(" ".join(page.paragraphs)), _normalise(truth)
    accuracy = 1 - Levenshtein.distance(read, expected) / len(expected)
    assert accuracy >= 0.94, accuracy
    assert page.confidence is not None and page.confidence > 0.8
