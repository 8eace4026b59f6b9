"""Chunking: pages kept apart, size limits held, titles carried as sections, stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document, split_text
from ingest.parse import parse_file
from vigie.config import Settings
from vigie.contracts import Element, Level, SourceDocument
from vigie.language import detect_language

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "documents"
SETTINGS = Settings(chunk_max_chars=300, chunk_soft_chars=200)


@pytest.fixture(scope="module")
def bylaw() -> SourceDocument:
    """A real 4-page French bylaw with articles and fee tables (text layer, no OCR)."""
    return parse_file(
        CORPUS / "fr-born-digital" / "alexis_2022-04-19-Rgl-1324-redevances-adopte.pdf", Settings()
    )


def make_doc(elements: list[Element]) -> SourceDocument:
    return SourceDocument(
        path="/archives/note.pdf",
        sha256="ab" * 32,
        file_name="note.pdf",
        pages=max(e.page for e in elements),
        elements=elements,
    )


def test_real_document_chunks_stay_on_their_page_and_under_the_limit(
    bylaw: SourceDocument,
) -> None:
    chunks = chunk_document(bylaw, Level.DIFFUSION_RESTREINTE, ("SPÉCIAL FRANCE",), SETTINGS)

    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert {c.page for c in chunks} == {e.page for e in bylaw.elements}
    assert all(0 < len(c.text) <= SETTINGS.chunk_max_chars for c in chunks)
    assert all(c.text.strip() for c in chunks)
    # Reading order: pages never go backwards.
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)
    # Every chunk's text comes from elements of its own page.
    for chunk in chunks:
        page_words = {
            word for e in bylaw.elements if e.page == chunk.page for word in e.text.split()
        }
        assert set(chunk.text.split()) <= page_words
    assert {c.language for c in chunks} >= {"fr"}
    assert all(c.level is Level.DIFFUSION_RESTREINTE for c in chunks)
    assert all(c.caveats == ("SPÉCIAL FRANCE",) for c in chunks)
    assert all(c.document_id == bylaw.sha256 and c.file_name == bylaw.file_name for c in chunks)
    assert any(c.section for c in chunks)


def test_chunk_ids_are_deterministic(bylaw: SourceDocument) -> None:
    first = chunk_document(bylaw, Level.NON_PROTEGE, (), SETTINGS)
    second = chunk_document(bylaw, Level.NON_PROTEGE, (), SETTINGS)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert [c.text for c in first] == [c.text for c in second]
    assert len({c.chunk_id for c in first}) == len(first)


def test_titles_start_chunks_and_become_sections() -> None:
    doc = make_doc(
        [
            Element("Préambule sans titre.", 1),
            Element("CHAPITRE 1", 1, "Title"),
            Element("DISPOSITIONS GÉNÉRALES", 1, "Title"),
            Element("Le présent règlement s'applique à tout le territoire.", 1),
            Element("Article 2", 1, "Title"),
            Element("Les redevances sont payables avant le début des travaux.", 1),
            Element("Elles sont calculées selon le tableau suivant.", 2),
        ]
    )
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), SETTINGS)

    assert [(c.page, c.section) for c in chunks] == [
        (1, ""),
        (1, "DISPOSITIONS GÉNÉRALES"),
        (1, "Article 2"),
        (2, "Article 2"),
    ]
    assert chunks[1].text.startswith("CHAPITRE 1\n\nDISPOSITIONS GÉNÉRALES\n\nLe présent")
    assert chunks[1].element_type == "NarrativeText"


def test_long_paragraphs_split_at_sentences_and_tables_stand_alone() -> None:
    sentence = "La commission a examiné la demande de démolition du bâtiment. "
    table = " ".join(f"Ligne {i} 1 250,00 $" for i in range(60))
    doc = make_doc(
        [
            Element("Introduction courte.", 1),
            Element(sentence * 12, 1),
            Element(table, 1, "Table"),
            Element("Conclusion.", 1),
        ]
    )
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), SETTINGS)

    assert all(len(c.text) <= SETTINGS.chunk_max_chars for c in chunks)
    tables = [c for c in chunks if c.element_type == "Table"]
    assert len(tables) >= 2
    assert " ".join(c.text for c in tables) == table
    prose = [c.text for c in chunks if c.element_type != "Table"]
    # Cut between sentences: every prose chunk ends a sentence.
    assert all(text.endswith(".") for text in prose)
    assert chunks[-1].text == "Conclusion."
    assert " ".join(" ".join(prose).split()) == " ".join(
        ("Introduction courte. " + sentence * 12 + "Conclusion.").split()
    )


def test_split_text_falls_back_to_words_then_characters() -> None:
    words = "mot " * 100
    assert all(len(piece) <= 50 for piece in split_text(words, 50))
    assert " ".join(split_text(words, 50)).split() == words.split()
    cut = split_text("x" * 120, 50)
    assert "".join(cut) == "x" * 120 and len(cut) == 3 and all(len(p) <= 50 for p in cut)


def test_split_text_makes_even_pieces_not_a_scrap() -> None:
    sentences = " ".join(f"Phrase numéro {n} du rapport." for n in range(12))  # ~330 chars
    pieces = split_text(sentences, 300)
    assert len(pieces) == 2
    assert min(len(p) for p in pieces) > 100


def test_blank_elements_and_running_heads_make_no_chunk() -> None:
    doc = make_doc(
        [
            Element("   \n ", 1),
            Element("Règlement 1324 – page 2", 2, "Header"),
            Element("Texte.", 2),
            Element("2", 2, "PageNumber"),
            Element("\t", 3),
            Element("Règlement 1324 – page 3", 3, "Footer"),
        ]
    )
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), SETTINGS)
    assert [(c.page, c.text, c.chunk_index) for c in chunks] == [(2, "Texte.", 0)]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Le conseil municipal a adopté le règlement sur les redevances de développement.", "fr"),
        ("The committee approved the demolition of the building on the main street.", "en"),
        ("1324-2022", "fr"),  # nothing to tell: the default
    ],
)
def test_language_heuristic(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_chunk_language_follows_its_text() -> None:
    doc = make_doc(
        [
            Element("Le rapport de la commission est adopté par le conseil.", 1),
            Element("The report of the committee is adopted by the council.", 2),
        ]
    )
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), SETTINGS)
    assert [c.language for c in chunks] == ["fr", "en"]


def test_long_text_labelled_header_is_kept_short_running_heads_are_not() -> None:
    body = "Rapport sur la logistique du port de Brest et le ravitaillement des navires. " * 2
    doc = SourceDocument(
        path="x.pdf", sha256="h" * 64, file_name="x.pdf", pages=1,
        elements=[
            Element("DIFFUSION RESTREINTE", 1, "Header"),
            Element(body.strip(), 1, "Header"),
            Element("3", 1, "PageNumber"),
        ],
    )  # fmt: skip
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), Settings())
    assert [c.text for c in chunks] == [body.strip()]


def test_a_document_with_only_a_running_head_keeps_it() -> None:
    doc = make_doc([Element("Note de service n° 12 : relève à 6 h.", 1, "Header")])
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), SETTINGS)
    assert [(c.page, c.text) for c in chunks] == [(1, "Note de service n° 12 : relève à 6 h.")]


@pytest.mark.parametrize("number", ["100", "- 12 -", "Page 3", "p. 4", "3/12", "3 sur 12", "iv"])
def test_a_page_number_alone_is_not_a_chunk(number: str) -> None:
    doc = make_doc([Element("Le convoi quitte Brest à l'aube.", 1), Element(number, 1)])
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), SETTINGS)
    assert [c.text for c in chunks] == ["Le convoi quitte Brest à l'aube."]


def test_a_year_or_a_short_title_is_kept() -> None:
    doc = make_doc([Element("Mémoire", 1, "Title"), Element("1944", 1), Element("Texte.", 1)])
    chunks = chunk_document(doc, Level.NON_PROTEGE, (), SETTINGS)
    assert chunks[0].text == "Mémoire\n\n1944\n\nTexte."


TOPICS = ("eau potable", "égouts", "voirie", "parcs", "déneigement")


def body(page: int) -> Element:
    return Element(
        f"Article {page}. Le conseil municipal adopte la disposition relative au service "
        f"de {TOPICS[page - 1]}, applicable dès la publication du présent règlement.",
        page,
        "NarrativeText",
    )


def test_repeated_page_furniture_is_left_out_of_chunks() -> None:
    footer = "Règlement 1324 – Contribution pour financer une dépense, page {}"
    elements = []
    for page in range(1, 6):
        elements += [
            Element(footer.format(page), page, "NarrativeText"),  # first in reading order
            body(page),
            Element("Ville de Sainte-Adèle", page, "Title"),  # at the foot of every page
        ]
    chunks = chunk_document(make_doc(elements), Level.NON_PROTEGE, (), SETTINGS)
    text = "\n".join(c.text for c in chunks)
    assert "Règlement 1324" not in text and "Sainte-Adèle" not in text
    assert all(f"Article {n}." in text for n in range(1, 6))  # the body is all there


def test_text_on_a_few_pages_only_is_not_furniture() -> None:
    elements = [body(page) for page in range(1, 6)]
    elements.insert(2, Element("Annexe B : tarifs 2022", 2, "Title"))
    elements.insert(4, Element("Annexe B : tarifs 2022", 3, "Title"))
    chunks = chunk_document(make_doc(elements), Level.NON_PROTEGE, (), SETTINGS)
    assert sum("Annexe B" in c.text for c in chunks) == 2
    # Two pages fed at a time learn nothing: too few to tell furniture from text.
    from ingest.chunking import DocumentChunker

    chunker = DocumentChunker(make_doc(elements), Level.NON_PROTEGE, (), SETTINGS)
    same = [Element("Confidentiel", n, "NarrativeText") for n in (1, 2)] + [body(1), body(2)]
    fed = chunker.feed(sorted(same, key=lambda e: e.page)) + chunker.finish()
    assert any("Confidentiel" in c.text for c in fed)
