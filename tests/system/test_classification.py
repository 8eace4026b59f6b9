"""Markings decide a document's level; declarations only raise it; reads are filtered in Qdrant."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services import Services
from tests.pdfmaker import make_text_pdf
from vigie.config import Settings
from vigie.contracts import Clearance, Level

BODY = [
    "",
    "",
    "",
    "Rapport sur la logistique du port de Brest et le ravitaillement des navires.",
    "Le ravitaillement est assuré chaque semaine par la base navale de Brest.",
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("marked")
    make_text_pdf(
        folder / "dr.pdf", [["DIFFUSION RESTREINTE", *BODY, "", "", "DIFFUSION RESTREINTE"]]
    )
    make_text_pdf(
        folder / "sd-sf.pdf",
        [["NON PROTÉGÉ", *BODY], ["SECRET DÉFENSE // SPÉCIAL FRANCE", *BODY]],
    )
    make_text_pdf(folder / "nato.pdf", [["NATO RESTRICTED", *BODY]])
    make_text_pdf(folder / "unmarked.pdf", [BODY[3:]])
    # A folder declared SECRET DÉFENSE (a pre-2021 name) by its sidecar file.
    declared = folder / "declared"
    declared.mkdir()
    (declared / "vigie-classification.toml").write_text(
        'level = "secret defense"\ncaveats = ["Spécial France"]\n', encoding="utf-8"
    )
    make_text_pdf(declared / "dr-in-secret-folder.pdf", [["DIFFUSION RESTREINTE", *BODY]])
    make_text_pdf(declared / "ts-in-secret-folder.pdf", [["TRÈS SECRET", *BODY]])
    make_text_pdf(declared / "unmarked-in-secret-folder.pdf", [BODY[4:]])
    return folder


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """A fresh home, no site level for unmarked documents."""
    opened = Services(settings)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def ingested(archive: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Services:
    settings = Settings(
        home=tmp_path_factory.mktemp("classified") / "home",
        models_dir=models_dir,
        unmarked_level="NON PROTÉGÉ",  # this site files unmarked documents as unclassified
    )
    services = Services(settings)
    services.report = services.pipeline.run([archive])  # type: ignore[attr-defined]
    yield services
    services.close()


def levels(services: Services) -> dict[str, tuple[str, list[str]]]:
    report = services.report  # type: ignore[attr-defined]
    return {Path(o.path).name: (o.level, o.caveats) for o in report.outcomes}


def test_each_document_takes_its_highest_marking(ingested: Services) -> None:
    assert levels(ingested) == {
        "dr.pdf": ("DIFFUSION RESTREINTE", []),
        "sd-sf.pdf": ("SECRET", ["SPÉCIAL FRANCE"]),  # page 2 outranks page 1
        "nato.pdf": ("DIFFUSION RESTREINTE", []),
        "unmarked.pdf": ("NON PROTÉGÉ", []),  # the site's level for unmarked documents
        # The folder's declaration raises what is below it, never lowers what is above.
        "dr-in-secret-folder.pdf": ("SECRET", ["SPÉCIAL FRANCE"]),
        "ts-in-secret-folder.pdf": ("TRÈS SECRET", ["SPÉCIAL FRANCE"]),
        "unmarked-in-secret-folder.pdf": ("SECRET", ["SPÉCIAL FRANCE"]),
    }


def test_two_copies_in_one_batch_make_one_document_at_the_higher_level(
    archive: Path, tmp_path: Path, services: Services
) -> None:
    batch = tmp_path / "batch"
    (batch / "secret").mkdir(parents=True)
    (batch / "secret" / "vigie-classification.toml").write_text('level = "SECRET"\n')
    shutil.copy(archive / "dr.pdf", batch / "a-copy.pdf")
    shutil.copy(archive / "dr.pdf", batch / "secret" / "b-copy.pdf")
    report = services.pipeline.run([batch])
    states = sorted((Path(o.path).name, o.state, o.level) for o in report.outcomes)
    assert states == [
        ("a-copy.pdf", "ingested", "DIFFUSION RESTREINTE"),
        ("b-copy.pdf", "reclassified", "SECRET"),
    ]
    assert services.store.count(Clearance(Level.DIFFUSION_RESTREINTE)) == 0
    exported = services.store.export()
    assert exported and {p["level"] for _, p in exported} == {int(Level.SECRET)}


def test_unmarked_document_is_refused_unless_declared(
    archive: Path, tmp_path: Path, services: Services
) -> None:
    refused = services.pipeline.run([archive / "unmarked.pdf"])
    assert [o.state for o in refused.outcomes] == ["refused"]
    assert "no classification marking" in refused.outcomes[0].reason
    assert services.store.chunk_count() == 0  # nothing of it left in the store

    declared = services.pipeline.run(
        [archive / "unmarked.pdf"], level=Level.parse("diffusion restreinte")
    )
    assert [(o.state, o.level) for o in declared.outcomes] == [("ingested", "DIFFUSION RESTREINTE")]


def test_declaring_a_higher_level_later_reclassifies_without_reparsing(
    archive: Path, tmp_path: Path, services: Services
) -> None:
    services.pipeline.run([archive / "dr.pdf"])
    assert services.store.count(Clearance(Level.DIFFUSION_RESTREINTE)) > 0

    again = services.pipeline.run([archive / "dr.pdf"], level=Level.SECRET)

    assert [(o.state, o.level) for o in again.outcomes] == [("reclassified", "SECRET")]
    assert services.store.count(Clearance(Level.DIFFUSION_RESTREINTE)) == 0
    assert services.store.count(Clearance(Level.SECRET)) > 0
    lower = services.pipeline.run([archive / "dr.pdf"], level=Level.NON_PROTEGE)
    assert [(o.state, o.level) for o in lower.outcomes] == [("unchanged", "SECRET")]


def test_a_declaration_raises_but_never_lowers(
    archive: Path, tmp_path: Path, services: Services
) -> None:
    report = services.pipeline.run(
        [archive / "dr.pdf", archive / "sd-sf.pdf"],
        level=Level.DIFFUSION_RESTREINTE,
        caveats=["special france"],
    )
    got = {Path(o.path).name: (o.level, o.caveats) for o in report.outcomes}
    assert got == {
        "dr.pdf": ("DIFFUSION RESTREINTE", ["SPÉCIAL FRANCE"]),
        "sd-sf.pdf": ("SECRET", ["SPÉCIAL FRANCE"]),
    }


@pytest.mark.parametrize(
    ("clearance", "visible"),
    [
        (Clearance(Level.NON_PROTEGE), {"unmarked.pdf"}),
        (Clearance(Level.DIFFUSION_RESTREINTE), {"unmarked.pdf", "dr.pdf", "nato.pdf"}),
        (Clearance(Level.TRES_SECRET), {"unmarked.pdf", "dr.pdf", "nato.pdf"}),
        (
            Clearance(Level.SECRET, frozenset({"SPÉCIAL FRANCE"})),
            {
                "unmarked.pdf",
                "dr.pdf",
                "nato.pdf",
                "sd-sf.pdf",
                "dr-in-secret-folder.pdf",
                "unmarked-in-secret-folder.pdf",
            },
        ),
    ],
)
def test_search_returns_only_what_the_clearance_allows(
    ingested: Services, clearance: Clearance, visible: set[str]
) -> None:
    hits = ingested.searcher.search("ravitaillement des navires à Brest", clearance, limit=50)
    assert {hit.chunk.file_name for hit in hits} == visible
    assert ingested.store.count(clearance) == len(hits)
    assert all(clearance.allows(h.chunk.level, h.chunk.caveats) for h in hits)


def test_a_text_met_twice_in_a_batch_is_embedded_once(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = "Consignes communes : " + " ".join(BODY[3:]) + " Fin des consignes."
    batch = tmp_path / "notes"
    batch.mkdir()
    for name in ("brest", "toulon"):
        first = f"Note de service du port de {name.title()} sur la relève des équipages."
        (batch / f"{name}.txt").write_text(f"{first}\n\f{shared}\n", encoding="utf-8")
    embedded: list[str] = []
    real = services.embedder.embed_passages

    def counted(texts: list[str]) -> list[list[float]]:
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(services.embedder, "embed_passages", counted)
    report = services.pipeline.run([batch], level=Level.NON_PROTEGE)
    assert sorted(o.state for o in report.outcomes) == ["ingested", "ingested"]
    assert len(embedded) == len(set(embedded)) == 3  # two first pages, one shared page
    hits = services.store.search(
        services.embedder.embed_query("consignes communes du port"),
        Clearance(Level.NON_PROTEGE),
        limit=10,
    )
    pages = sorted((h.chunk.file_name, h.chunk.page) for h in hits if h.chunk.page == 2)
    assert pages == [("brest.txt", 2), ("toulon.txt", 2)]  # each document keeps its chunk
