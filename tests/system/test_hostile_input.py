"""Hostile input: questions with control characters or of any length, and PDFs that
carry JavaScript and embedded files (read for their text, never run or unpacked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.session import clean_text
from tests.conftest import ROOT, run_vigie
from tests.pdfmaker import make_active_pdf
from vigie.language import unserved_language
from vigie.users import UserError

PIAF = ROOT.parent / "shared" / "corpus" / "eval" / "piaf-fr"

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


def test_a_ten_thousand_character_question_is_refused_clearly() -> None:
    with pytest.raises(UserError, match="10000 characters long; the limit is 2000"):
        clean_text("q" * 10_000, 2000)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Wer hat die Weltmeisterschaft 1998 gewonnen?", "German"),
        ("¿Quién ganó la copa del mundo en 1998?", "Spanish"),
        ("Chi ha vinto la coppa del mondo nel 1998?", "Italian"),
        ("Кто выиграл чемпионат мира?", "Cyrillic script"),
    ],
)
def test_a_question_in_a_language_vigie_does_not_serve_is_named(
    question: str, language: str
) -> None:
    assert unserved_language(question) == language


def test_french_and_english_questions_are_served_even_with_foreign_names() -> None:
    questions = [
        json.loads(line)["text"]
        for name in ("queries_all.jsonl", "queries_en50.jsonl")
        for line in (PIAF / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    questions += ["What did Müller say about the Düsseldorf plan?", "Quel rôle pour Señor Gómez ?"]
    assert len(questions) > 1900
    assert [q for q in questions if unserved_language(q)] == []


def test_a_question_in_another_language_is_one_line_from_the_cli(
    home: Path, models_dir: Path
) -> None:
    result = run_vigie(["ask", "Wer hat die Weltmeisterschaft 1998 gewonnen?"], home, models_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "vigie: error: Vigie answers questions in French or English; this one reads as German"
    )
