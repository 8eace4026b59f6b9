"""OCR: one Tesseract run per page, rotation handled, accuracy against human ground truth."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
from rapidfuzz.distance import Levenshtein

from ingest.ocr import ocr_image, parse_tsv
from ingest.parse import parse_file
from tests.conftest import CORPUS
from vigie.config import Settings

HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


def row(block: int, par: int, line: int, word: int, conf: float, text: str) -> str:
    return f"5\t1\t{block}\t{par}\t{line}\t{word}\t0\t0\t10\t10\t{conf}\t{text}"


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
    expected = (90 * 8 + 90 * 4 + 60 * 2 + 30 * 7) / (8 + 4 + 2 + 7) / 100
    assert page.confidence == round(expected, 3)


def test_empty_page_has_no_confidence() -> None:
    assert parse_tsv(HEADER + "\n").confidence is None


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
    read, expected = _normalise(" ".join(page.paragraphs)), _normalise(truth)
    accuracy = 1 - Levenshtein.distance(read, expected) / len(expected)
    assert accuracy >= 0.94, accuracy
    assert page.confidence is not None and page.confidence > 0.8
