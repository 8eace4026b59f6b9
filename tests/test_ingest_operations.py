"""An operator's day: a file changes, a document is removed, a quarantined file is
retried, and `vigie status` tells the truth about the ledger and the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from tests.conftest import SAMPLES, run_vigie
from tests.pdfmaker import make_text_pdf
from ui.services import Services
from vigie.config import Settings
from vigie.contracts import Clearance, Level

EVERYTHING = Clearance(Level.TRES_SECRET)


def texts(services: Services) -> set[str]:
    return {payload["text"] for _, payload in services.store.export()}


@pytest.fixture
def services(tmp_path: Path, models_dir: Path) -> Services:
    settings = Settings(home=tmp_path / "home", models_dir=models_dir, unmarked_level="NON PROTÉGÉ")
    opened = Services(settings)
    yield opened
    opened.close()


def test_a_changed_file_replaces_its_old_version(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    note = folder / "note.pdf"
    make_text_pdf(note, [["Première version : le convoi part de Brest le 3 mai."]])
    services.pipeline.run([folder])
    assert any("Première version" in t for t in texts(services))

    make_text_pdf(note, [["Seconde version : le convoi part de Toulon le 9 mai."]])
    report = services.pipeline.run([folder])

    assert [(o.state, o.reason) for o in report.outcomes] == [
        ("ingested", "new version of a file ingested before")
    ]
    assert all("Première version" not in t for t in texts(services))
    assert any("Seconde version" in t for t in texts(services))
    assert services.ledger.totals() == {"ingested": 1, "replaced": 1}
    again = services.pipeline.run([folder])
    assert [o.state for o in again.outcomes] == ["unchanged"]


def test_a_quarantined_file_is_retried_only_when_asked(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    scan = pdfium.PdfDocument(SAMPLES / "ocrmypdf_francais.pdf")
    scan[0].render(scale=150 / 72).to_pil().save(folder / "scan.png", dpi=(150, 150))
    scan.close()
    services.settings.max_image_pixels = 1000  # a site limit this scan is over
    first = services.pipeline.run([folder])
    assert [o.state for o in first.outcomes] == ["quarantined"]
    assert "image too large" in first.outcomes[0].reason

    services.settings.max_image_pixels = 200_000_000  # the limit is raised
    second = services.pipeline.run([folder])
    assert [o.state for o in second.outcomes] == ["quarantined"]
    assert second.outcomes[0].reason.startswith("still quarantined: image too large")

    third = services.pipeline.run([], retry_quarantined=True)
    assert [(Path(o.path).name, o.state) for o in third.outcomes] == [("scan.png", "ingested")]
    assert third.outcomes[0].ocr_pages == 1
    assert services.ledger.totals() == {"ingested": 1}


def test_status_and_remove_through_the_cli(tmp_path: Path, models_dir: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(SAMPLES / "pypdf_multicolumn.pdf", folder / "multicolumn.pdf")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n%broken\n")
    ingested = run_vigie(["ingest", str(folder), "--level", "NON PROTÉGÉ"], home, models_dir)
    assert ingested.returncode == 0, ingested.stderr
    assert "ingested 1, quarantined 1" in ingested.stdout

    status = json.loads(run_vigie(["status", "--json"], home, models_dir).stdout)
    assert status["documents"] == 1 and status["pages"] == 3
    assert status["chunks_in_store"] == status["states"]["ingested"]["chunks"] > 0
    assert [Path(q["path"]).name for q in status["quarantined"]] == ["broken.pdf"]
    readable = run_vigie(["status"], home, models_dir)
    assert "ingested" in readable.stdout and "chunks in the store" in readable.stdout

    removed = run_vigie(["remove", str(folder / "multicolumn.pdf")], home, models_dir)
    assert removed.returncode == 0, removed.stderr
    assert "removed" in removed.stdout
    after = json.loads(run_vigie(["status", "--json"], home, models_dir).stdout)
    assert after["documents"] == 0 and after["chunks_in_store"] == 0
    assert after["states"]["removed"]["files"] == 1

    unknown = run_vigie(["remove", "/no/such/file.pdf"], home, models_dir)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "vigie: error: not in the ledger: /no/such/file.pdf"
