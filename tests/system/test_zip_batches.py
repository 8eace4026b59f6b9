"""Zip batches through the CLI: members read with their path inside the archive and the
archive's declared level; a zip bomb, an encrypted archive, an Office file, a member
escaping the folder, a symbolic link and archives nested too deep are quarantined with
their reason, nothing is written outside Vigie's home, and the rest of the batch goes in."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest

from tests.conftest import files_by_name, network_attempts, run_vigie
from tests.pdfmaker import make_text_pdf

NOTE = ["", "Rapport sur le ravitaillement de la base navale de Toulon en 1986.", ""]


def pdf_bytes(tmp: Path, lines: list[str]) -> bytes:
    return make_text_pdf(tmp / "page.pdf", [lines]).read_bytes()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("zips")
    batch = root / "batch"
    batch.mkdir()
    note = pdf_bytes(root, NOTE)
    inner = zipped({"annexe/escorte.pdf": pdf_bytes(root, ["", "L'escorte compte deux frégates."])})
    (batch / "versement-1986.zip").write_bytes(
        zipped(
            {
                "rapports/1986/ravitaillement.pdf": note,
                "plan.dwg": b"\x00CAD",
                "annexes.zip": inner,
                "../../../evasion.pdf": note,  # would land beside the batch
            }
        )
    )
    with zipfile.ZipFile(batch / "versement-1986.zip", "a") as archive:
        link = zipfile.ZipInfo("raccourci.pdf")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    (batch / "bombe.zip").write_bytes(zipped({"zeros.pdf": bytes(60 * 1024 * 1024)}))
    locked = bytearray(zipped({"chiffre.pdf": note}))
    locked[6] |= 0x1  # the "encrypted" flag an archiver sets, in the member's header
    locked[locked.index(b"PK\x01\x02") + 8] |= 0x1  # and in the central directory
    (batch / "chiffre.zip").write_bytes(bytes(locked))
    (batch / "rapport-word.zip").write_bytes(  # a (broken) DOCX renamed
        zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    )
    deep = note
    for _ in range(4):
        deep = zipped({"niveau.zip" if deep is not note else "fond.pdf": deep})
    (batch / "poupees.zip").write_bytes(deep)
    (batch / "cut.zip").write_bytes(zipped({"a.pdf": note})[:40])
    home = root / "home"
    fed = run_vigie(
        ["ingest", str(batch), "--level", "DIFFUSION RESTREINTE", "--json"],
        home,
        models_dir,
    )
    assert fed.returncode == 0, fed.stderr
    assert "Traceback" not in fed.stderr
    assert network_attempts(home) == []
    return home, json.loads(fed.stdout)


def test_members_go_in_with_their_path_inside_the_archive_and_its_level(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, report = ingested
    files = files_by_name(report)
    assert files["versement-1986.zip"]["state"] == "expanded"
    assert "2 files read from it, 2 refused" in files["versement-1986.zip"]["reason"]
    for name in ("ravitaillement.pdf", "escorte.pdf"):
        assert files[name]["state"] == "ingested", files[name]
        assert files[name]["level"] == "DIFFUSION RESTREINTE"
    assert files["annexes.zip"]["state"] == "expanded"
    assert files["ravitaillement.pdf"]["path"].endswith("/rapports/1986/ravitaillement.pdf")
    assert Path(files["ravitaillement.pdf"]["path"]).is_relative_to(home / "unpacked")
    assert any(p.endswith("versement-1986.zip/plan.dwg") for p in report["ignored"])
    found = run_vigie(["search", "ravitaillement Toulon 1986", "--json"], home, models_dir)
    first = json.loads(found.stdout)["results"][0]
    assert first["document"] == "ravitaillement.pdf"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bombe.zip", "zip bomb: 'zeros.pdf' expands"),
        ("chiffre.zip", "encrypted zip archive (password-protected)"),
        ("rapport-word.zip", "corrupt DOCX file"),  # a Word file renamed: read as one
        ("cut.zip", "corrupt zip archive"),
        ("niveau.zip", "zip archive nested 4 deep, over the 3 limit (max_zip_depth)"),
        ("evasion.pdf", "path escapes the archive's folder"),
        ("raccourci.pdf", "a symbolic link"),
    ],
)
def test_a_dangerous_archive_or_member_is_quarantined_with_its_reason(
    ingested: tuple[Path, dict], name: str, reason: str
) -> None:
    _, report = ingested
    outcome = files_by_name(report)[name]
    assert outcome["state"] == "quarantined"
    assert outcome["reason"].startswith(reason), outcome["reason"]


def test_nothing_is_written_outside_the_home_and_a_rerun_reads_nothing_twice(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = ingested
    root = home.parent
    assert not list(root.rglob("evasion.pdf")) and not (root.parent / "evasion.pdf").exists()
    assert not any(p.is_symlink() for p in (home / "unpacked").rglob("*"))
    assert not list((home / "unpacked").rglob("*.part"))
    again = run_vigie(["ingest", str(root / "batch"), "--json"], home, models_dir)
    assert again.returncode == 0, again.stderr
    totals = json.loads(again.stdout)["totals"]
    assert totals["ingested"] == 0 and totals["unchanged"] == 2
    status = run_vigie(["status", "--json"], home, models_dir)
    quarantined = {Path(q["path"]).name for q in json.loads(status.stdout)["quarantined"]}
    assert {"bombe.zip", "chiffre.zip", "evasion.pdf", "raccourci.pdf"} <= quarantined
