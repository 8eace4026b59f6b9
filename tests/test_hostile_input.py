"""Hostile input: questions with control characters or of any length, and PDFs that
carry JavaScript and embedded files (read for their text, never run or unpacked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_vigie
from tests.pdfmaker import make_active_pdf
from ui.session import clean_text
from vigie.users import UserError

ATTACHMENT = b"#!/bin/sh\necho PAYLOADMARKER > /tmp/pwned\n"
SCRIPT = "app.alert('SCRIPTMARKER'); this.exportDataObject({cName: 'payload.sh', nLaunch: 2});"


def test_control_characters_become_spaces_and_spaces_collapse() -> None:
    assert clean_text("Quel\x00 budget\x1b[31m ?\u200b\u2028fin", 100) == "Quel budget [31m ? fin"


def test_empty_and_over_long_questions_are_refused_clearly() -> None:
    with pytest.raises(UserError, match="the question is empty"):
        clean_text("\x00\x07 \t", 100)
    with pytest.raises(UserError, match="101 characters long; the limit is 100"):
        clean_text("x" * 101, 100)


def test_an_over_long_question_is_one_line_from_the_cli(home: Path, models_dir: Path) -> None:
    result = run_vigie(["ask", "pourquoi " * 400], home, models_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "vigie: error: the question is 3599 characters long; the limit is 2000"
    )


def test_a_pdf_with_javascript_and_an_attachment_gives_its_text_only(
    tmp_path: Path, home: Path, models_dir: Path
) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "vigie-classification.toml").write_text('level = "NON PROTÉGÉ"\n')
    make_active_pdf(
        folder / "note-piegee.pdf",
        ["Note de service sur la relève de la garde du dépôt de Toul."],
        ATTACHMENT,
        SCRIPT,
    )
    before = {p for p in Path("/tmp").iterdir()}
    result = run_vigie(["ingest", str(folder), "--json"], home, models_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["totals"]["ingested"] == 1, report
    found = run_vigie(["search", "relève de la garde à Toul", "--json"], home, models_dir)
    texts = " ".join(r["text"] for r in json.loads(found.stdout)["results"])
    assert "relève de la garde" in texts
    assert "PAYLOADMARKER" not in texts and "SCRIPTMARKER" not in texts
    assert not Path("/tmp/pwned").exists()
    written = [p for p in Path("/tmp").iterdir() if p not in before and p.name == "payload.sh"]
    assert written == [] and not list(home.rglob("payload.sh"))
