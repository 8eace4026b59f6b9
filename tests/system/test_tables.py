"""Ruled tables kept as tables. Real born-digital PDFs (the shared corpus): a search hit
holding a row of the California WARN report also holds its column names; a question
about one cell of a Sainte-Adèle bylaw's fee table is answered from that page; with
table reading off, the same row comes back without its column names. A scanned table
(drawn here, tests/tablemaker.py): read cell by cell, its accuracy reported, and a row
found by search with its column names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.parse import parse_file
from tests.conftest import CORPUS, network_attempts, run_vigie
from tests.tablemaker import make_scanned_table
from vigie.config import Settings

WARN = CORPUS / "en-born-digital" / "plumber_ca-warn-report.pdf"
BYLAW = CORPUS / "fr-born-digital" / "alexis_2022-04-19-Rgl-1324-redevances-adopte.pdf"
HEADERS = ("Notice Date :", "Company :", "City :", "No. Of :")


def ingested(root: Path, models_dir: Path, **env: str) -> Path:
    batch = root / "batch"
    batch.mkdir(parents=True)
    for source in (WARN, BYLAW):
        shutil.copy(source, batch / source.name)
    make_scanned_table(batch / "etat-des-unites.pdf")
    home = root / "home"
    fed = run_vigie(["ingest", str(batch), "--level", "NON PROTÉGÉ"], home, models_dir, **env)
    assert fed.returncode == 0, fed.stderr
    return home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    return ingested(tmp_path_factory.mktemp("tables"), models_dir)


def search(home: Path, models_dir: Path, query: str) -> list[dict]:
    found = run_vigie(["search", query, "--json", "--limit", "5"], home, models_dir)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)["results"]


def test_a_row_is_found_with_its_column_names(home: Path, models_dir: Path) -> None:
    hits = search(home, models_dir, "Boeing Company layoff Long Beach")
    rows = [h for h in hits if "Boeing Company" in h["text"]]
    assert rows and rows[0]["document"] == WARN.name, hits
    line = next(line for line in rows[0]["text"].splitlines() if "Boeing Company" in line)
    assert all(name in line for name in HEADERS), line
    # The same row as a grid in the JSON: cells under their column names.
    table = rows[0]["table"]
    assert table and {"Company", "City"} <= set(table["columns"]), table
    company = table["columns"].index("Company")
    assert any("Boeing Company" in row[company] for row in table["rows"]), table
    assert network_attempts(home) == []


def test_a_question_about_one_cell_is_answered_from_its_page(home: Path, models_dir: Path) -> None:
    asked = run_vigie(["ask", "Quel est le coût de la phase II des pentes 40-80 ?", "--json"],
                      home, models_dir)  # fmt: skip
    answer = json.loads(asked.stdout)
    cited = [c for c in answer["citations"] if c["cited"]]
    assert cited and (cited[0]["document"], cited[0]["page"]) == (BYLAW.name, 3), answer
    assert "3790000" in answer["answer"].replace(" ", "").replace("\u202f", ""), answer["answer"]


def test_with_table_reading_off_the_row_loses_its_column_names(
    tmp_path: Path, models_dir: Path
) -> None:
    plain = ingested(tmp_path, models_dir, VIGIE_DETECT_TABLES="false")
    hits = search(plain, models_dir, "Boeing Company layoff Long Beach")
    text = "\n".join(h["text"] for h in hits if "Boeing Company" in h["text"])
    assert text and "Company : Boeing" not in text


def _cells(line: str) -> dict[str, str]:
    """A stored table row, "Unité : Laon ; Effectif : 812", as column: value."""
    pairs = (cell.split(" : ", 1) for cell in line.split(" ; "))
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def test_a_scanned_table_is_read_cell_by_cell(tmp_path: Path) -> None:
    drawn = make_scanned_table(tmp_path / "scan.pdf")
    header, rows = drawn[0], drawn[1:]
    parsed = parse_file(tmp_path / "scan.pdf", Settings(home=tmp_path / "home"))
    lines = [line for e in parsed.elements if e.element_type == "Table"
             for line in e.text.splitlines()]  # fmt: skip
    assert len(lines) == len(rows), lines
    exact = 0
    for line, row in zip(lines, rows, strict=True):
        cells = _cells(line)
        # Every value with its column's name (a cell read empty has neither).
        assert cells and all(name in header for name in cells), line
        exact += sum(cells.get(name) == value for name, value in zip(header, row, strict=True))
    accuracy = exact / (len(rows) * len(header))
    print(f"scanned table: {exact} of {len(rows) * len(header)} cells exact ({accuracy:.0%})")
    assert accuracy >= 0.9, (accuracy, lines)
    # The merged cell's text is in both columns it covers; the two-line cell is one cell.
    assert _cells(lines[-1])["Effectif"] == "Total des unités", lines[-1]
    assert _cells(lines[2])["Unité"] == "Base aérienne 113", lines[2]


def test_a_row_of_a_scanned_table_is_found_with_its_column_names(
    home: Path, models_dir: Path
) -> None:
    hits = search(home, models_dir, "crédits de la base aérienne 113 à Saint-Dizier")
    rows = [h for h in hits if "Saint-Dizier" in h["text"]]
    assert rows and rows[0]["document"] == "etat-des-unites.pdf", hits
    line = next(line for line in rows[0]["text"].splitlines() if "Saint-Dizier" in line)
    assert "Crédits (F) : 4 870 000" in line and "Unité :" in line, line
