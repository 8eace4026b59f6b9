"""Citation parsing and resolution (no model needed)."""

from __future__ import annotations

from retrieval.citations import cited_numbers, resolve_citations
from retrieval.search import merge_neighbours
from vigie.contracts import Chunk, Hit, Level


def make_hit(name: str, page: int, score: float) -> Hit:
    chunk = Chunk(
        document_id=name, chunk_index=page, text="t", file_name=name, source_path=name,
        sha256=name, page=page, element_type="NarrativeText", language="fr",
        level=Level.NON_PROTEGE,
    )  # fmt: skip
    return Hit(chunk, score)


def test_cited_numbers_in_order_without_duplicates() -> None:
    assert cited_numbers("A [2]. B [1, 3]. C [2][4] and [x] [12]") == [2, 1, 3, 4, 12]


def test_citations_resolve_to_document_and_page_and_drop_unknown_numbers() -> None:
    hits = [make_hit("a.pdf", 1, 0.9), make_hit("b.pdf", 7, 0.5)]
    citations = resolve_citations("Oui [2]. Non [5].", hits)
    assert [(c.document, c.page, c.cited) for c in citations] == [("b.pdf", 7, True)]


def test_without_markers_every_source_is_listed_as_consulted() -> None:
    hits = [make_hit("a.pdf", 1, 0.9), make_hit("b.pdf", 7, 0.5)]
    citations = resolve_citations("Une réponse sans marqueur.", hits)
    assert [(c.number, c.cited) for c in citations] == [(1, False), (2, False)]


def test_sentences_without_markers_are_attributed_by_shared_words() -> None:
    hits = [make_hit("a.pdf", 1, 0.9), make_hit("b.pdf", 3, 0.5)]
    hits[0].chunk.text = "Le budget municipal de 2022 prévoit des redevances."
    hits[1].chunk.text = "Le Président partit de Dunkerque sur le croiseur Colbert."
    citations = resolve_citations("Le croiseur Colbert attendait à Dunkerque.", hits)
    assert [(c.document, c.page, c.how) for c in citations] == [("b.pdf", 3, "attributed")]


def _piece(index: int, page: int, text: str, document: str = "doc") -> Hit:
    chunk = Chunk(document, index, text, f"{document}.pdf", "/a", document, page,
                  "NarrativeText", "fr", Level.NON_PROTEGE)  # fmt: skip
    return Hit(chunk, 1.0 / (index + 1))


def test_sources_drop_duplicates_and_join_neighbours_on_the_same_page() -> None:
    hits = [
        _piece(4, 2, "Suite du paragraphe."),
        _piece(3, 2, "Début du paragraphe,"),
        _piece(9, 2, "Un autre passage."),
        _piece(5, 3, "Page suivante : pas jointe."),
        _piece(7, 2, "Un autre passage.", document="copie"),  # same text elsewhere: dropped
        _piece(3, 2, "Début d'un autre document.", document="autre"),
    ]
    sources = merge_neighbours(hits)
    assert [s.chunk.text for s in sources] == [
        "Début du paragraphe,\nSuite du paragraphe.",
        "Un autre passage.",
        "Page suivante : pas jointe.",
        "Début d'un autre document.",
    ]
    assert sources[0].chunk.chunk_index == 3 and sources[0].score == hits[0].score
