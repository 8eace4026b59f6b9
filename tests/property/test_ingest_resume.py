"""Killed at any moment, a re-run of the same command ends in a clean run's state.

`vigie ingest` runs as a user runs it (a subprocess, no network); its whole
process group (the main process and its parsing workers) gets SIGKILL at a
random moment of its run, as a power cut would (the batch holds born-digital pages, a
scan to OCR and a recording to transcribe). The same command is then run
to its end, and the store is compared with a clean run's chunk for chunk (id
and payload), and the ledger file for file.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ingest.ledger import Ledger
from retrieval.qdrant_edge import QdrantEdgeStore
from tests.conftest import ROOT, SAMPLES, VIGIE, run_vigie
from tests.pdfmaker import make_text_pdf

AUDIO = ROOT.parent / "shared" / "corpus" / "audio" / "en"
SEEDS = (11, 37)  # kill moments early and late in the batch (uniform over 25-95% of it)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("resume") / "batch"
    folder.mkdir()
    shutil.copy(SAMPLES / "plumber_2023-06-20-PV.pdf", folder / "pv.pdf")
    shutil.copy(SAMPLES / "ocrmypdf_francais.pdf", folder / "scan.pdf")  # one page to OCR
    shutil.copy(AUDIO / "jfk.flac", folder / "discours.flac")  # 11 s to transcribe
    make_text_pdf(
        folder / "secret.pdf",
        [
            ["SECRET", "", f"Compte rendu {n} de la réunion d'état-major à Toulon.", "SECRET"]
            for n in range(3)
        ],
    )
    return folder


def store_state(home: Path) -> list[tuple[str, dict]]:
    store = QdrantEdgeStore.open(home / "qdrant")
    try:
        return store.export()
    finally:
        store.close()


def ledger_state(home: Path) -> list[tuple]:
    ledger = Ledger(home / "ledger.sqlite3", read_only=True)
    try:
        entries = [
            e for state in ("ingested", "quarantined", "refused") for e in ledger.in_state(state)
        ]
        others = ledger.summary().keys() - {"ingested", "quarantined", "refused"}
    finally:
        ledger.close()
    assert not others, f"entries left in states {others}"
    return sorted((e.sha256, e.path, e.state, e.chunks, e.level, tuple(e.caveats)) for e in entries)


def environment(home: Path, models_dir: Path) -> dict[str, str]:
    return dict(
        os.environ,
        VIGIE_HOME=str(home),
        VIGIE_MODELS_DIR=str(models_dir),
        VIGIE_UNMARKED_LEVEL="NON PROTÉGÉ",
        PYTHONPATH=str(ROOT),
    )


@pytest.fixture(scope="module")
def clean_run(
    batch: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[float, list, list]:
    home = tmp_path_factory.mktemp("clean") / "home"
    started = time.monotonic()
    result = run_vigie(["ingest", str(batch)], home, models_dir, VIGIE_UNMARKED_LEVEL="NON PROTÉGÉ")
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    state = store_state(home)
    assert len({payload["document_id"] for _, payload in state}) == 4
    return seconds, state, ledger_state(home)


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_a_random_moment_then_rerun_equals_a_clean_run(
    seed: int, batch: Path, models_dir: Path, tmp_path: Path, clean_run: tuple[float, list, list]
) -> None:
    seconds, clean_store, clean_ledger = clean_run
    home = tmp_path / "home"
    # Past start-up (models load in the first seconds), up to the clean run's end.
    delay = random.Random(seed).uniform(0.25 * seconds, 0.95 * seconds)
    process = subprocess.Popen(
        [*VIGIE, "ingest", str(batch)],
        env=environment(home, models_dir),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the workers die with it
    )
    time.sleep(delay)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)

    rerun = run_vigie(["ingest", str(batch)], home, models_dir, VIGIE_UNMARKED_LEVEL="NON PROTÉGÉ")

    assert rerun.returncode == 0, rerun.stderr
    assert store_state(home) == clean_store  # same chunks, same ids, same payloads
    assert ledger_state(home) == clean_ledger
