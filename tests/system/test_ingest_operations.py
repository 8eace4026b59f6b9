"""An operator's day: a file changes, a document is removed, a quarantined file is
retried, and `vigie status` tells the truth about the ledger and the store."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from app.services import Services
from ingest.ledger import Ledger, LedgerEntry
from retrieval.store import SearchFilter
from tests.conftest import SAMPLES, run_vigie
from tests.pdfmaker import make_text_pdf
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

    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n%broken\n")
    broken = services.pipeline.run([folder / "broken.pdf"])
    assert [o.state for o in broken.outcomes] == ["quarantined"]
    # One file retried alone (the UI's per-file button): the other stays as it was.
    alone = services.pipeline.run([folder / "broken.pdf"], retry_quarantined=True, retry_all=False)
    assert [(Path(o.path).name, o.state) for o in alone.outcomes] == [("broken.pdf", "quarantined")]
    assert services.ledger.totals() == {"quarantined": 2}
    (folder / "broken.pdf").unlink()

    third = services.pipeline.run([], retry_quarantined=True)
    assert [(Path(o.path).name, o.state) for o in third.outcomes] == [("scan.png", "ingested")]
    assert third.outcomes[0].ocr_pages == 1
    assert services.ledger.totals() == {"ingested": 1, "quarantined": 1}


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


BATCH_ID = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(-\d+)?")


def test_each_run_is_a_batch_that_its_ledger_entries_carry(
    services: Services, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    make_text_pdf(first / "a.pdf", [["Note A : le convoi part de Brest le 3 mai."]])
    make_text_pdf(first / "b.pdf", [["Note B : le croiseur Colbert appareille de Toulon."]])
    (first / "broken.pdf").write_bytes(b"%PDF-1.4\n%broken\n")
    make_text_pdf(second / "c.pdf", [["Note C : la station radar de Cherbourg est en service."]])

    one = services.pipeline.run([first])
    two = services.pipeline.run([second])

    assert BATCH_ID.fullmatch(one.batch) and BATCH_ID.fullmatch(two.batch)
    assert one.batch != two.batch
    assert one.to_dict()["batch"] == one.batch
    ledger = services.ledger
    assert ledger.batches() == [(two.batch, 1), (one.batch, 2)]  # newest first
    states = {(Path(e.path).name, e.state, e.batch) for e in ledger.in_batch(one.batch)}
    assert states == {
        ("a.pdf", "ingested", one.batch),
        ("b.pdf", "ingested", one.batch),
        ("broken.pdf", "quarantined", one.batch),
    }
    assert [Path(e.path).name for e in ledger.in_batch(two.batch)] == ["c.pdf"]
    assert ledger.in_batch("1999-01-01T00:00:00Z") == []

    # A later run that ingests nothing new leaves every entry in the batch that ingested it.
    three = services.pipeline.run([first, second])
    assert three.batch not in {one.batch, two.batch}
    assert {o.state for o in three.outcomes} == {"unchanged", "quarantined"}
    assert [batch for batch, _ in ledger.batches()] == [two.batch, one.batch]

    # The search page's batch filter: the batch's ingested documents, inside the query.
    ids = [e.sha256 for e in ledger.in_batch(one.batch) if e.state == "ingested"]
    where = SearchFilter().only_documents(ids)
    query = services.embedder.embed_query("convoi croiseur radar")
    hits = services.store.search(query, EVERYTHING, limit=20, where=where)
    assert {h.chunk.file_name for h in hits} == {"a.pdf", "b.pdf"}


# The ledger's table as the first release created it, before any added column.
FIRST_SCHEMA = """
CREATE TABLE files (
    sha256     TEXT PRIMARY KEY,
    path       TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    pages      INTEGER NOT NULL DEFAULT 0,
    chunks     INTEGER NOT NULL DEFAULT 0,
    ocr_pages  INTEGER NOT NULL DEFAULT 0,
    level      INTEGER,
    updated_at REAL NOT NULL
);
INSERT INTO files
VALUES ('abc123', '/archives/old.pdf', 'old.pdf', 'ingested', '', 3, 7, 1, 0, 1.5);
"""


def test_an_old_ledger_without_batches_opens_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(FIRST_SCHEMA)
    db.close()
    old = LedgerEntry("abc123", "/archives/old.pdf", "old.pdf", "ingested", "", 3, 7, 1, 0)
    old.updated_at = 1.5

    reader = Ledger(path, read_only=True)  # the UI's read: nothing written, defaults read
    try:
        assert reader.in_state("ingested") == [old]
        assert reader.batches() == [] and reader.in_batch("") == []
    finally:
        reader.close()

    ledger = Ledger(path)
    try:
        assert ledger.get("abc123") == old  # batch "": recorded before batches had ids
        assert ledger.batches() == []
        new = LedgerEntry("def456", "/archives/new.pdf", "new.pdf", "ingested", chunks=2)
        new.batch = "2026-11-26T09:48:12Z"
        ledger.record(new)
        later = LedgerEntry("fed789", "/archives/late.pdf", "late.pdf", "quarantined", "bad")
        later.batch = "2026-11-26T09:48:12Z-2"
        ledger.record(later)
        assert ledger.batches() == [("2026-11-26T09:48:12Z-2", 0), ("2026-11-26T09:48:12Z", 1)]
        assert [e.sha256 for e in ledger.in_batch("2026-11-26T09:48:12Z")] == ["def456"]
        assert ledger.get("def456").batch == "2026-11-26T09:48:12Z"
    finally:
        ledger.close()
    db = sqlite3.connect(path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(files)")]
    db.close()
    assert columns[-8:] == [
        "caveats",
        "seconds",
        "rescan_pages",
        "batch",
        "fed_by",
        "audio_seconds",
        "review",
        "to_confirm",
    ]
    Ledger(path).close()  # opening again changes nothing
