"""Legacy Office files and RTF converted by LibreOffice (ingest/legacy.py): recognised by
content, converted once and kept, and every way a conversion fails said in one line; a
text document's pieces given the pages LibreOffice prints them on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.errors import UnreadableFile
from ingest.filetypes import sniff
from ingest.legacy import RTF, converted
from ingest.office import paginated, read_office
from ingest.textfiles import Piece

LETTER = (
    r"{\rtf1\ansi\deff0{\fonttbl{\f0 Times New Roman;}}"
    r"\pard DIFFUSION RESTREINTE\par"
    r"\pard Le phare d'Ar-Men est allum\'e9 depuis 1881.\par}"
)


@pytest.fixture
def letter(tmp_path: Path) -> Path:
    path = tmp_path / "lettre.rtf"
    path.write_text(LETTER, encoding="ascii")
    return path


def test_an_rtf_file_is_recognised_by_its_content(tmp_path: Path, letter: Path) -> None:
    renamed = tmp_path / "lettre.txt"
    renamed.write_bytes(letter.read_bytes())
    assert sniff(letter) == RTF
    assert sniff(renamed) == RTF


def test_a_conversion_is_read_and_kept_for_the_next_reader(tmp_path: Path, letter: Path) -> None:
    home = tmp_path / "home"
    first = converted(letter, RTF, home, timeout=120)
    texts = [piece.text for piece in read_office(first, "docx")]
    assert "DIFFUSION RESTREINTE" in texts and any("Ar-Men est allumé" in t for t in texts)
    written = first.stat().st_mtime_ns
    again = converted(letter, RTF, home, timeout=120)
    assert again == first and again.stat().st_mtime_ns == written
    assert first.parent == home / "converted"


def _path_with(folder: Path, script: str | None) -> str:
    """A PATH holding only `folder`, with a fake `soffice` there when `script` is given
    (the fault to inject)."""
    folder.mkdir()
    if script is not None:
        fake = folder / "soffice"
        fake.write_text(f"#!/bin/sh\n{script}\n")
        fake.chmod(0o755)
    return str(folder)


def test_without_libreoffice_the_file_says_what_is_missing(
    tmp_path: Path, letter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path / "bin", None))
    with pytest.raises(UnreadableFile, match="LibreOffice is needed to read it"):
        converted(letter, RTF, tmp_path / "home", timeout=120)


def test_a_conversion_past_its_time_is_killed(
    tmp_path: Path, letter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    hang = f"echo $$ > {pid_file}; exec /bin/sleep 60"
    monkeypatch.setenv("PATH", _path_with(tmp_path / "bin", hang))
    with pytest.raises(UnreadableFile, match="took over 1 s"):
        converted(letter, RTF, tmp_path / "home", timeout=1)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, not left running
    assert not list((tmp_path / "home" / "converted").iterdir())


def test_a_file_libreoffice_cannot_convert_is_said_so(
    tmp_path: Path, letter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path / "bin", "exit 0"))  # writes nothing
    with pytest.raises(UnreadableFile, match="LibreOffice could not convert it"):
        converted(letter, RTF, tmp_path / "home", timeout=120)


def test_pieces_go_on_the_pages_they_print_on() -> None:
    pieces = [
        Piece(1, "Header", "DIFFUSION RESTREINTE"),
        Piece(1, "Title", "Rapport sur le ravitaillement"),
        Piece(1, "", "Le pétrolier Durance appareille de Brest le 3 mars."),
        Piece(1, "", "Oui."),  # too short to be looked for: stays with the one before
        Piece(1, "", "Le pétrolier Durance appareille de Toulon le 9 mars."),
        Piece(1, "Table", "Navire : Durance ; Tonnage : 17 800\nNavire : Var ; Tonnage : 17 900"),
        Piece(1, "", "Texte dans un cadre que l'impression a déplacé ailleurs."),
        Piece(1, "Footer", "DIFFUSION RESTREINTE"),
    ]
    printed = [
        "DIFFUSION RESTREINTE\nRapport sur le\nravitaillement\nLe pétrolier Durance appareille "
        "de Brest le 3 mars. Oui.\nDIFFUSION RESTREINTE",
        "DIFFUSION RESTREINTE\nLe pétrolier Durance appareille de\nToulon le 9 mars.\n"
        "Navire Tonnage\nDIFFUSION RESTREINTE",
        "DIFFUSION RESTREINTE\nDurance 17 800\nVar 17 900\nDIFFUSION RESTREINTE",
    ]
    pages = [(p.page, p.kind, p.text[:20]) for p in paginated(pieces, printed)]
    assert pages == [
        (1, "Header", "DIFFUSION RESTREINTE"),
        (1, "Title", "Rapport sur le ravit"),
        (1, "", "Le pétrolier Durance"),
        (1, "", "Oui."),
        (1, "Footer", "DIFFUSION RESTREINTE"),
        (2, "Header", "DIFFUSION RESTREINTE"),
        (2, "", "Le pétrolier Durance"),
        (2, "Footer", "DIFFUSION RESTREINTE"),
        (3, "Header", "DIFFUSION RESTREINTE"),
        (3, "Table", "Navire : Durance ; T"),  # found by its values, not its column names
        (3, "", "Texte dans un cadre "),  # not found: after the piece before
        (3, "Footer", "DIFFUSION RESTREINTE"),
    ]
