"""Markings decide a document's level; declarations only raise it; reads are filtered in Qdrant."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pdfmaker import make_text_pdf
from ui.services import Services
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
    return folder


@pytest.fixture(scope="module")
def ingested(archive: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Services:
    settings = Settings(home=tmp_path_factory.mktemp("classified") / "home", models_dir=models_dir)
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
    }


def test_a_declaration_raises_but_never_lowers(
    archive: Path, models_dir: Path, tmp_path: Path
) -> None:
    services = Services(Settings(home=tmp_path / "home", models_dir=models_dir))
    try:
        report = services.pipeline.run(
            [archive / "dr.pdf", archive / "sd-sf.pdf"],
            level=Level.DIFFUSION_RESTREINTE,
            caveats=["special france"],
        )
    finally:
        services.close()
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
            {"unmarked.pdf", "dr.pdf", "nato.pdf", "sd-sf.pdf"},
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
