"""The whole path, PDF to cited answer, through the CLI, with the network unavailable."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import (
    SAMPLES,
    SCANNED_DOC,
    SCANNED_QUESTION,
    network_attempts,
    run_vigie,
)


def test_every_sample_is_ingested_with_pages_and_chunks(sample_home: Path) -> None:
    report = json.loads((sample_home / "ingest-report.json").read_text())
    files = {Path(f["path"]).name: f for f in report["files"]}
    assert set(files) == {p.name for p in SAMPLES.glob("*.pdf")}
    assert all(f["state"] == "ingested" for f in files.values()), files
    assert all(f["chunks"] > 0 for f in files.values())
    # None of these public documents carries a classification marking.
    assert {f["level"] for f in files.values()} == {"NON PROTÉGÉ"}
    # Image-only scans went through OCR, born-digital files did not.
    assert files[SCANNED_DOC]["ocr_pages"] == 9
    assert files["plumber_2023-06-20-PV.pdf"]["ocr_pages"] == 0


def test_search_finds_the_scanned_french_page(sample_home: Path, models_dir: Path) -> None:
    result = run_vigie(["search", "croiseur Colbert Dunkerque", "--json"], sample_home, models_dir)
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)["results"]
    # In the top 3, not necessarily first: the English stand-in embedder ranks French
    # poorly (a list of French names can outscore the passage); issue 4 replaces it.
    on_page = [r for r in results[:5] if (r["document"], r["page"]) == (SCANNED_DOC, 3)]
    assert on_page and on_page[0]["rank"] <= 3, results[:5]
    assert any("Colbert" in r["text"] for r in on_page)  # the word, read by OCR
    assert network_attempts(sample_home) == []


def test_ask_answers_from_a_scanned_page_and_cites_it(sample_home: Path, models_dir: Path) -> None:
    result = run_vigie(["ask", SCANNED_QUESTION, "--json"], sample_home, models_dir)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answered"] is True
    assert SCANNED_DOC in {c["document"] for c in answer["citations"]}
    # The model was given the scanned page's passage that holds the answer, read by OCR.
    # Whether the 0.5B stand-in model then names the cruiser ("Colbert") and cites that
    # very passage is beyond what a stand-in can promise (issue 5 measures answers).
    search = run_vigie(
        ["search", SCANNED_QUESTION, "--json", "--limit", "5"], sample_home, models_dir
    )
    given = json.loads(search.stdout)["results"]
    assert any(
        (r["document"], r["page"]) == (SCANNED_DOC, 3) and "croiseur Colbert" in r["text"]
        for r in given
    ), given
    for citation in answer["citations"]:
        assert set(citation) >= {"document", "page", "chunk_id", "score", "quote", "supported"}
        assert citation["page"] >= 1
    # The label: the highest level (and caveats) of what the answer shows, never below a
    # cited source's level.
    assert answer["refused"] is False
    order = ["NON PROTÉGÉ", "DIFFUSION RESTREINTE", "SECRET", "TRÈS SECRET"]
    cited = [c for c in answer["citations"] if c["cited"]] or answer["citations"]
    highest = max((c["level"] for c in cited), key=order.index)
    assert answer["label"].startswith(highest)
    assert answer["timings"]["total"] > 0
    assert network_attempts(sample_home) == []


def test_ask_streams_text_then_lists_sources(sample_home: Path, models_dir: Path) -> None:
    result = run_vigie(["ask", "Who wrote the LinnSequencer brochure?"], sample_home, models_dir)
    assert result.returncode == 0, result.stderr
    label, _, rest = result.stdout.partition("\n")
    assert label.startswith("[") and label.endswith("]")  # the marking comes first
    body, _, sources = rest.partition("\nSources")
    assert body.strip()
    assert ", page " in sources
    assert "Traceback" not in result.stderr


def test_second_ingest_of_the_same_files_changes_nothing(
    sample_home: Path, models_dir: Path
) -> None:
    result = run_vigie(["ingest", str(SAMPLES), "--json"], sample_home, models_dir)
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    assert totals["unchanged"] == len(list(SAMPLES.glob("*.pdf")))
    assert totals["ingested"] == 0
