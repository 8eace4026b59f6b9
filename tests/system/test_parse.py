"""Parsing real files: text PDFs, scans that need OCR, images, and files that must be refused."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont, features

import ingest.parse
from ingest.errors import UnreadableFile
from ingest.filetypes import sniff
from ingest.parse import parse_file
from vigie.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "documents"
KNOWN_TYPES = {
    "Title",
    "NarrativeText",
    "ListItem",
    "Table",
    "Text",
    "UncategorizedText",
    "Header",
    "Footer",
    "PageNumber",
    "Address",
    "EmailAddress",
    "Formula",
    "FigureCaption",
    "Image",
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


def all_text(doc) -> str:
    return "\n".join(e.text for e in doc.elements)


def found(words: list[str], text: str) -> list[str]:
    return [word for word in words if word in text]


def test_born_digital_pdf_gives_french_text_without_ocr(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    path = CORPUS / "fr-born-digital" / "plumber_2023-06-20-PV.pdf"
    with caplog.at_level(logging.WARNING, logger="ingest.parse"):
        doc = parse_file(path, settings)

    # unstructured's "fast" strategy fails silently when it cannot load its spaCy model
    # offline; its elements must be here, not a fallback's.
    assert "fast strategy missed" not in caplog.text
    assert len(doc.elements) >= 20
    assert doc.pages == 2
    assert doc.ocr_pages == []
    assert {e.page for e in doc.elements} == {1, 2}
    assert not any(e.ocr for e in doc.elements)
    assert {e.element_type for e in doc.elements} <= KNOWN_TYPES
    assert {"Title", "NarrativeText", "ListItem"} <= {e.element_type for e in doc.elements}
    text = all_text(doc)
    for expected in ("PROCÈS-VERBAL", "démolition", "Sainte-Adèle", "bâtiment patrimonial"):
        assert expected in text
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.file_name == "plumber_2023-06-20-PV.pdf"
    assert doc.path == str(path)


def test_scanned_french_pdf_is_ocred_with_diacritics(settings: Settings) -> None:
    doc = parse_file(CORPUS / "fr-scanned" / "ocrmypdf_francais.pdf", settings)

    assert doc.pages == 1
    assert doc.ocr_pages == [1]
    assert doc.elements and all(e.ocr and e.page == 1 for e in doc.elements)
    words = ["whisky", "intérieure", "côté", "alcôve", "bûches", "être", "œuvre", "qualité"]
    assert len(found(words, all_text(doc))) >= 6, all_text(doc)


def test_scanned_english_page_is_ocred() -> None:
    # A 300-dpi scan rendered at the 150-dpi cap: the clamp works and keeps the test fast.
    doc = parse_file(CORPUS / "en-scanned" / "ocrmypdf_linn.pdf", Settings(ocr_max_dpi=150))

    assert doc.ocr_pages == [1]
    words = ["LinnSequencer", "professional", "musician", "sequences", "tracks", "channels"]
    assert len(found(words, all_text(doc))) >= 5, all_text(doc)


def test_owner_password_only_pdf_is_ingested(settings: Settings) -> None:
    doc = parse_file(CORPUS / "edge-cases" / "unst_copy-protected.pdf", settings)

    assert doc.pages == 2
    assert doc.ocr_pages == []
    assert len(all_text(doc)) > 1000


@pytest.mark.parametrize("reader", ["pdfium", "unstructured"])
def test_damaged_pdf_keeps_its_text_layer(
    reader: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings.model_copy(update={"text_layer_reader": reader})
    with caplog.at_level(logging.WARNING, logger="ingest.parse"):
        doc = parse_file(
            CORPUS / "edge-cases" / "playa_issue-146-broken-xref-and-streams.pdf", settings
        )

    assert doc.pages == 7
    assert doc.ocr_pages == []
    assert {e.page for e in doc.elements} == set(range(1, 8))
    assert "REMOTE SENSING FOR LAND & RESOURCES" in all_text(doc)
    # pdfminer gives up on this file's broken xref, and its text layer is then taken as
    # pdfium reads it; pdfium itself reads every page.
    assert ("fast strategy missed" in caplog.text) == (reader == "unstructured")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty-0-bytes.pdf", "empty file (0 bytes)"),
        ("ocrmypdf_invalid.pdf", "corrupt PDF: "),
        (
            "pypdf_libreoffice-writer-password.pdf",
            "password-protected PDF: it cannot be opened without its password",
        ),
    ],
)
def test_unreadable_pdfs_are_refused_with_a_reason(
    name: str, reason: str, settings: Settings
) -> None:
    with pytest.raises(UnreadableFile) as caught:
        parse_file(CORPUS / "edge-cases" / name, settings)
    assert caught.value.reason.startswith(reason)
    assert "\n" not in caught.value.reason


def test_text_file_named_pdf_is_refused(tmp_path: Path, settings: Settings) -> None:
    fake = tmp_path / "rapport.pdf"
    fake.write_text("Ceci n'est pas un PDF.\n", encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        parse_file(fake, settings)
    assert caught.value.reason == (
        "not a document or recording Vigie reads: content looks like plain text (named .pdf)"
    )


def test_file_type_comes_from_content_not_name(tmp_path: Path) -> None:
    image = tmp_path / "scan.pdf"
    Image.new("L", (8, 8), 255).save(image, format="PNG")
    assert sniff(image) == "png"
    Image.new("L", (8, 8), 255).save(image, format="JPEG")
    assert sniff(image) == "jpeg"
    assert sniff(CORPUS / "fr-scanned" / "ocrmypdf_francais.pdf") == "pdf"


def test_unreadable_file_says_permission_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(b"%PDF-1.7\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(UnreadableFile, match="^cannot read file: permission denied$"):
        sniff(locked)


@pytest.mark.parametrize(
    ("reader", "reading"), [("pdfium", "page_elements"), ("unstructured", "_fast_elements")]
)
def test_parser_crash_becomes_a_one_line_reason(
    reader: str, reading: str, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    def crash(*args: object) -> None:
        raise ValueError("bad xref entry\nwith a second line")

    settings = settings.model_copy(update={"text_layer_reader": reader})
    monkeypatch.setattr(ingest.parse, reading, crash)
    with pytest.raises(UnreadableFile) as caught:
        parse_file(CORPUS / "fr-born-digital" / "plumber_2023-06-20-PV.pdf", settings)
    assert caught.value.reason == "parser failed: ValueError: bad xref entry"


def test_images_are_ocred_frame_by_frame(tmp_path: Path, settings: Settings) -> None:
    # Pillow's built-in scalable font (Pillow wheels ship FreeType): no system font needed,
    # but it has no accented letters (diacritics are covered by the French scan above).
    assert features.check("freetype2")
    font = ImageFont.load_default(size=48)
    frames = []
    for line in ("Rapport annuel de la commission", "Annexe sur les travaux publics"):
        frame = Image.new("L", (1400, 200), 255)
        ImageDraw.Draw(frame).text((40, 60), line, fill=0, font=font)
        frames.append(frame)
    tiff = tmp_path / "scan.tif"
    frames[0].save(tiff, save_all=True, append_images=frames[1:], dpi=(300, 300))

    doc = parse_file(tiff, settings)

    assert doc.pages == 2
    assert doc.ocr_pages == [1, 2]
    by_page = {page: " ".join(e.text for e in doc.elements if e.page == page) for page in (1, 2)}
    assert "commission" in by_page[1]
    assert "travaux" in by_page[2]

    png = tmp_path / "page.png"
    frames[1].save(png, dpi=(300, 300))
    single = parse_file(png, settings)
    assert (single.pages, single.ocr_pages) == (1, [1])
    assert "travaux publics" in all_text(single)


def test_born_digital_text_layers_keep_pdftotexts_words() -> None:
    """The quality guard of the pdfium reader: on every born-digital PDF of the corpus,
    at least 98% of pdftotext's words (with their repeats) are in the elements read."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "text_recall.py"), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout[done.stdout.index("{") :])
    assert report["files"] >= 10
    low = {row["file"]: row["pdfium"]["recall"] for row in report["rows"]}
    assert min(low.values()) >= 0.98, low
    assert report["min_recall"]["pdfium"] >= report["min_recall"]["unstructured"]
