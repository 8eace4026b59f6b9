"""Bad input: every edge case gets a clear one-line reason, loses nothing, stops nothing.

One CLI batch (no network) holds a good file beside every hostile file of the
corpus's edge-cases folder and the ones made here; each file's fate is then
checked on its own. Files too big for a CI batch (the 619-page book, the
69-page scan with a garbage text layer) are checked through the parser's page
ranges, which is how a batch reads them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ingest.parse import parse_pages, probe_file
from ingest.textlayer import judge_text_layer
from tests.conftest import CORPUS, SAMPLES, ensure_admin, network_attempts, run_vigie
from tests.pdfmaker import make_bomb_png, make_slow_pdf, make_text_pdf, make_truncated_copy
from vigie.config import Settings

EDGE = CORPUS / "edge-cases"
TIMEOUT_S = 30  # generous: a loaded 2-core machine OCRs a page in well under this


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("edge") / "batch"
    folder.mkdir()
    shutil.copy(SAMPLES / "plumber_2023-06-20-PV.pdf", folder / "good.pdf")
    for name in (
        "docling_ocr_test_rotated_90.pdf",
        "empty-0-bytes.pdf",
        "ocrmypdf_invalid.pdf",
        "playa_issue-146-broken-xref-and-streams.pdf",
        "pypdf_libreoffice-writer-password.pdf",
        "unst_copy-protected.pdf",
    ):
        shutil.copy(EDGE / name, folder / name)
    make_truncated_copy(SAMPLES / "plumber_2023-06-20-PV.pdf", folder / "truncated.pdf")
    make_slow_pdf(folder / "hangs-the-parser.pdf")
    make_bomb_png(folder / "bomb-30000x30000.png")
    (folder / "notes.pdf").write_text("plain notes, not a PDF\n", encoding="utf-8")
    (folder / "loop.pdf").symlink_to("loop.pdf")  # a link to itself
    (folder / "parent").symlink_to("..")  # a folder loop
    with open(folder / "huge.pdf", "wb") as handle:  # sparse: no disk used
        handle.truncate(1100 * 1024 * 1024)
    # Two frames of a multi-page TIFF, each a rendered page of the scanned sample.
    import pypdfium2 as pdfium

    scan = pdfium.PdfDocument(SAMPLES / "ocrmypdf_linn.pdf")
    frame = scan[0].render(scale=200 / 72).to_pil().convert("L")
    frame.save(folder / "scan.tiff", save_all=True, append_images=[frame], dpi=(200, 200))
    scan.close()
    return folder


@pytest.fixture(scope="module")
def report(
    batch: Path, tmp_path_factory: pytest.TempPathFactory, models_dir: Path
) -> dict[str, dict]:
    home = tmp_path_factory.mktemp("edge-home") / "home"
    result = run_vigie(
        ["ingest", str(batch), "--json"],
        home,
        models_dir,
        VIGIE_FILE_TIMEOUT=str(TIMEOUT_S),
        VIGIE_UNMARKED_LEVEL="NON PROTÉGÉ",
        # The file that hangs the parser hangs pdfminer's layout analysis, which pdfium's
        # reader does not run: this batch reads text layers with unstructured, so that the
        # deadline (the same for every reader) is what stops it.
        VIGIE_TEXT_LAYER_READER="unstructured",
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert network_attempts(home) == []
    parsed = json.loads(result.stdout)
    return {Path(f["path"]).name: f for f in parsed["files"]}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty-0-bytes.pdf", "empty file (0 bytes)"),
        ("ocrmypdf_invalid.pdf", "corrupt PDF"),
        ("pypdf_libreoffice-writer-password.pdf", "password-protected PDF"),
        ("truncated.pdf", "corrupt PDF"),
        ("notes.pdf", "not a document or recording Vigie reads: content looks like plain text"),
        ("hangs-the-parser.pdf", f"parsing took more than {TIMEOUT_S} s"),
        ("bomb-30000x30000.png", "image too large to decode safely"),
        ("huge.pdf", "file too large: 1100 MB"),
    ],
)
def test_bad_file_is_quarantined_with_its_reason(
    report: dict[str, dict], batch: Path, name: str, reason: str
) -> None:
    outcome = report[name]
    assert outcome["state"] == "quarantined"
    assert outcome["reason"].startswith(reason), outcome["reason"]
    assert "\n" not in outcome["reason"] and len(outcome["reason"]) < 200
    assert (batch / name).exists()  # left in place: nothing is lost


def test_symbolic_link_loops_are_reported_not_followed(report: dict[str, dict]) -> None:
    assert report["loop.pdf"]["state"] == "skipped"
    assert "symbolic link" in report["loop.pdf"]["reason"]
    # The folder loop is walked once: no file is reached twice through "parent/".
    assert not any("parent" in Path(f["path"]).parts for f in report.values())


@pytest.mark.parametrize(
    ("name", "pages"),
    [
        ("good.pdf", 2),
        ("playa_issue-146-broken-xref-and-streams.pdf", 7),  # repaired, read
        ("unst_copy-protected.pdf", 2),  # owner password only: opens, is read
    ],
)
def test_readable_files_are_ingested_beside_the_bad_ones(
    report: dict[str, dict], name: str, pages: int
) -> None:
    outcome = report[name]
    assert outcome["state"] == "ingested", outcome["reason"]
    assert outcome["pages"] == pages and outcome["chunks"] > 0


def test_a_page_rotated_by_90_degrees_is_ocred_readably(
    report: dict[str, dict], models_dir: Path, tmp_path: Path
) -> None:
    outcome = report["docling_ocr_test_rotated_90.pdf"]
    assert outcome["state"] == "ingested" and outcome["ocr_pages"] == 1
    pages = parse_pages(EDGE / "docling_ocr_test_rotated_90.pdf", Settings(), "pdf", 1, 1)
    text = " ".join(e.text for e in pages.elements)
    assert "document conversion" in text and "Markdown" in text
    assert pages.confidence[1] is not None and pages.confidence[1] > 0.8


def test_a_multi_page_tiff_is_pages_too(report: dict[str, dict]) -> None:
    outcome = report["scan.tiff"]
    assert outcome["state"] == "ingested", outcome["reason"]
    assert outcome["pages"] == 2 and outcome["ocr_pages"] == 2 and outcome["chunks"] >= 2


def test_garbage_text_layer_pages_go_to_ocr() -> None:
    """playa_scp05's fonts have no Unicode map: its text layer is readable-looking noise."""
    path = EDGE / "playa_scp05.pdf"
    probe = probe_file(path, Settings())
    assert probe.pages == 69
    assert probe.image_pages == list(range(1, 70))  # every page judged garbage, to OCR
    pages = parse_pages(path, Settings(), "pdf", 1, 1)
    assert pages.ocr_pages == [1]
    text = "\n".join(e.text for e in pages.elements)
    assert judge_text_layer(text).plausible, text[:300]


def test_the_619_page_book_is_read_a_window_at_a_time() -> None:
    path = EDGE / "unst_DA-619p.pdf"
    settings = Settings()
    probe = probe_file(path, settings)
    windows = probe.windows(settings.window_pages)
    assert probe.pages == 619
    assert probe.image_pages == [182]  # its only text is a page number: OCR looks at it
    assert all(last - first + 1 <= settings.window_pages for first, last in windows)
    assert [p for first, last in windows for p in range(first, last + 1)] == list(range(1, 620))
    first, last = windows[len(windows) // 2]
    pages = parse_pages(path, settings, "pdf", first, last)
    assert {e.page for e in pages.elements} <= set(range(first, last + 1))
    assert len({e.page for e in pages.elements}) >= (last - first + 1) // 2
    assert any(e.bbox is not None for e in pages.elements)


def test_a_file_that_vanishes_mid_batch_is_reported(tmp_path: Path, models_dir: Path) -> None:
    from app.services import Services

    folder = tmp_path / "batch"
    folder.mkdir()
    for index in range(6):
        make_text_pdf(folder / f"note-{index}.pdf", [[f"Note de service {index} : relève à 6 h."]])
    doomed = folder / "note-5.pdf"
    services = Services(
        Settings(home=tmp_path / "home", models_dir=models_dir, unmarked_level="NON PROTÉGÉ")
    )
    try:
        services.pipeline.workers = 1
        report = services.pipeline.run(
            [folder], progress=lambda outcome: doomed.unlink(missing_ok=True)
        )
    finally:
        services.close()
    by_name = {Path(o.path).name: o for o in report.outcomes}
    assert by_name["note-5.pdf"].state == "quarantined"
    assert "disappeared" in by_name["note-5.pdf"].reason
    assert [by_name[f"note-{i}.pdf"].state for i in range(5)] == ["ingested"] * 5


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)


def test_a_read_only_home_is_one_clear_error(tmp_path: Path, models_dir: Path) -> None:
    home = tmp_path / "home"
    # The home was set up (its users exist), then became read-only.
    if os.geteuid() == 0:  # root ignores permission bits: mount the home read-only instead
        _mount_tmpfs(home, "size=1m")
        ensure_admin(home)
        subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
    else:
        home.mkdir()
        ensure_admin(home)
        home.chmod(0o555)
    try:
        result = run_vigie(
            ["ingest", str(SAMPLES / "ocrmypdf_francais.pdf"), "--level", "NON PROTÉGÉ"],
            home,
            models_dir,
        )
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(home)], check=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("vigie: error:") and "read-only" in lines[-1].lower(), lines


def _comparable(exported: list[tuple[str, dict]]) -> list[tuple]:
    return [
        (chunk_id, p["text"], p["page"], p["level"], p["pending"], p["document_id"])
        for chunk_id, p in exported
    ]


def test_a_full_disk_stops_the_batch_cleanly_and_a_rerun_completes(
    tmp_path: Path, models_dir: Path
) -> None:
    """The home's disk fills up mid-batch (another program writes a big file): the batch
    stops cleanly before a write can fail (the embedded store maps its files: a write to
    a full disk is a SIGBUS, not an error), what was ingested stays, and the re-run, once
    there is room, ends in the state of a clean run."""
    from app.services import Services

    if os.geteuid() != 0:
        pytest.fail("this test needs root to mount a small tmpfs as the home's disk")
    folder = tmp_path / "batch"
    folder.mkdir()
    for index in range(8):
        make_text_pdf(
            folder / f"rapport-{index:02}.pdf",
            [[f"Rapport {index} sur la base navale de Brest, page {p}."] * 30 for p in range(2)],
        )
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "size=256m")  # the embedded store takes ~70 MB once reopened
    ballast = disk / "ballast"

    done: list[object] = []

    def fill_disk_after_three(outcome: object) -> None:
        done.append(outcome)
        if len(done) == 3:  # leave 12 MB: under the 16 MB the batch wants free
            free = shutil.disk_usage(disk).free
            with open(ballast, "wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, free - 12 * 1024 * 1024)

    settings = Settings(
        home=disk / "home", models_dir=models_dir, unmarked_level="NON PROTÉGÉ", min_free_mb=16
    )
    try:
        services = Services(settings)
        try:
            stopped = services.pipeline.run([folder], progress=fill_disk_after_three)
        finally:
            services.close()
        assert "disk almost full" in stopped.stopped
        assert stopped.count("ingested") == 3
        ballast.unlink()
        services = Services(settings)
        try:
            resumed = services.pipeline.run([folder])
            resumed_store = _comparable(services.store.export())
            resumed_states = services.ledger.totals()
        finally:
            services.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
    assert resumed.stopped == ""
    assert resumed.count("unchanged") == 3 and resumed.count("ingested") == 5
    clean_settings = Settings(
        home=tmp_path / "clean", models_dir=models_dir, unmarked_level="NON PROTÉGÉ"
    )
    clean = Services(clean_settings)
    try:
        clean.pipeline.run([folder])
        assert resumed_store == _comparable(clean.store.export())
        assert resumed_states == clean.ledger.totals() == {"ingested": 8}
    finally:
        clean.close()
