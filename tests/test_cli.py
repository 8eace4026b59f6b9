"""The command line as an operator meets it: help everywhere, bad input, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import CORPUS, SAMPLES, run_vigie
from vigie.models import MULTILINGUAL_EMBEDDER_DIR, MULTILINGUAL_EMBEDDER_SHA256

COMMANDS = [[], ["ingest"], ["status"], ["remove"], ["search"], ["ask"], ["eval"], ["ui"],
            ["translate"], ["summarize"], ["doctor"], ["init"],
            ["users"], ["users", "add"], ["users", "list"], ["users", "set"],
            ["users", "disable"], ["users", "passwd"],
            ["audit"], ["audit", "verify"], ["audit", "export"],
            ["bundle"], ["bundle", "keygen"], ["bundle", "build"], ["bundle", "inspect"],
            ["bundle", "verify"],
            ["models"], ["models", "prepare"], ["models", "verify"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "vigie")
def test_every_command_has_help(command: list[str], home: Path, models_dir: Path) -> None:
    result = run_vigie([*command, "--help"], home, models_dir, offline=False)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.splitlines()) > 3


def test_bad_inputs_are_reported_one_line_each_and_the_batch_goes_on(
    tmp_path: Path, home: Path, models_dir: Path
) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.copy(SAMPLES / "plumber_2023-06-20-PV.pdf", batch / "good.pdf")
    shutil.copy(CORPUS / "edge-cases" / "empty-0-bytes.pdf", batch / "empty.pdf")
    shutil.copy(CORPUS / "edge-cases" / "ocrmypdf_invalid.pdf", batch / "corrupt.pdf")
    shutil.copy(CORPUS / "edge-cases" / "pypdf_libreoffice-writer-password.pdf", batch / "pw.pdf")
    (batch / "notes.pdf").write_text("these are plain notes, not a PDF\n")
    empty_folder = tmp_path / "empty-folder"
    empty_folder.mkdir()
    missing = tmp_path / "does-not-exist"

    result = run_vigie(
        ["ingest", str(batch), str(empty_folder), str(missing), "--level", "NON PROTÉGÉ", "--json"],
        home,
        models_dir,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert by_name["good.pdf"]["state"] == "ingested"
    assert by_name["empty.pdf"]["reason"] == "empty file (0 bytes)"
    assert "corrupt" in by_name["corrupt.pdf"]["reason"]
    assert "password" in by_name["pw.pdf"]["reason"]
    assert "not a PDF" in by_name["notes.pdf"]["reason"]
    assert by_name["empty-folder"]["state"] == "skipped"
    assert by_name["does-not-exist"]["reason"] == "path not found"
    for name in ("empty.pdf", "corrupt.pdf", "pw.pdf", "notes.pdf"):
        assert by_name[name]["state"] == "quarantined"
        assert "\n" not in by_name[name]["reason"]
    # Nothing is lost: quarantined files stay where they were.
    assert (batch / "corrupt.pdf").exists()
    assert report["totals"]["ingested"] == 1 and report["totals"]["quarantined"] == 4


def test_question_over_an_empty_store_says_so(home: Path, models_dir: Path) -> None:
    result = run_vigie(["ask", "Quel est le budget ?", "--json"], home, models_dir)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answered"] is False
    assert "aucun document que vous pouvez consulter" in answer["answer"]
    assert answer["refusal_reason"] == "empty archive"
    assert answer["citations"] == []


def test_corrupt_model_is_named_with_its_expected_checksum(
    tmp_path: Path, home: Path, models_dir: Path
) -> None:
    broken = tmp_path / "models"
    name = MULTILINGUAL_EMBEDDER_DIR
    shutil.copytree(models_dir / name, broken / name)
    weights = broken / name / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))

    result = run_vigie(["search", "budget"], home, broken)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(weights) in result.stderr
    assert MULTILINGUAL_EMBEDDER_SHA256["model.safetensors"] in result.stderr


def test_missing_llm_file_is_named(home: Path, models_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "mistral-7b-instruct.Q4_K_M.gguf"
    result = run_vigie(
        ["models", "verify"], home, models_dir, VIGIE_LLM_PATH=str(missing),
        VIGIE_LLM_SHA256="ab" * 32,
    )  # fmt: skip
    assert result.returncode == 2
    assert str(missing) in result.stderr and "ab" * 32 in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_level_is_a_clear_error(home: Path, models_dir: Path) -> None:
    result = run_vigie(
        ["ingest", str(SAMPLES / "plumber_2023-06-20-PV.pdf"), "--level", "ULTRA"],
        home, models_dir,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown classification level" in result.stderr
    assert "Traceback" not in result.stderr
