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
    assert "not a document or recording" in by_name["notes.pdf"]["reason"]
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


# -- one error boundary: an expected error is one line and exit 2, a bug is a traceback --


def one_line_exit_2(result) -> str:  # noqa: ANN001 - CompletedProcess
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigie: error: "), result.stderr
    return lines[0]


def test_an_analyst_listing_users_is_refused_in_one_line(home: Path, models_dir: Path) -> None:
    from tests.conftest import add_user
    from vigie.contracts import Level

    add_user(home, "lecteur", "analyst", Level.NON_PROTEGE, (), "lecteur-password")
    result = run_vigie(
        ["users", "list"], home, models_dir, VIGIE_USER="lecteur", VIGIE_PASSWORD="lecteur-password"
    )
    assert "may not manage users" in one_line_exit_2(result)
    assert "admin" not in result.stdout  # no user's name leaks before the refusal


def test_a_misspelt_configuration_key_is_named_with_the_nearest(
    home: Path, models_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "vigie.toml"
    config.write_text('serch_mode = "hybrid"\n', encoding="utf-8")
    line = one_line_exit_2(run_vigie(["--config", str(config), "status"], home, models_dir))
    assert "'serch_mode'" in line and "'search_mode'" in line


def test_an_option_value_is_checked_where_it_is_parsed(home: Path, models_dir: Path) -> None:
    since = one_line_exit_2(run_vigie(["audit", "export", "--since", "hier"], home, models_dir))
    assert "--since" in since and "'hier'" in since
    day = one_line_exit_2(run_vigie(["search", "convoi", "--since", "3/5/1940"], home, models_dir))
    assert "YYYY-MM-DD" in day
    mode = one_line_exit_2(run_vigie(["search", "convoi", "--mode", "fast"], home, models_dir))
    assert "hybrid+rerank" in mode  # the valid choices are named
    role = one_line_exit_2(
        run_vigie(
            ["users", "add", "x", "--role", "chef", "--clearance", "SECRET"], home, models_dir
        )
    )
    assert "analyst, operator, admin" in role


def test_a_bug_is_a_traceback_and_exit_1(home: Path, models_dir: Path) -> None:
    """A fault injected into a use case: not dressed up as a user's mistake."""
    import subprocess
    import sys

    from tests.conftest import ROOT, ensure_admin

    ensure_admin(home)
    inject = (
        "import app.session as s, ui.cli as c\n"
        "def broken(self): raise KeyError('injected')\n"
        "s.Session.status = broken\n"
        "c.main(['status'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", inject],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **__import__("os").environ,
            "PYTHONPATH": str(ROOT),
            "VIGIE_HOME": str(home),
            "VIGIE_MODELS_DIR": str(models_dir),
            "VIGIE_USER": "admin",
            "VIGIE_PASSWORD": "test-admin-password",
        },
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" in result.stderr and "KeyError: 'injected'" in result.stderr
    assert "please report it" in result.stderr
