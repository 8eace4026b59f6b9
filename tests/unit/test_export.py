"""An exported answer (ui/export.py): marked Markdown, and a PDF with its banner on every page;
a cited table drawn as a table in both."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import datetime

import pypdf
import pytest

from app.results import table_grid
from retrieval.answer import Answer
from tests.conftest import make_chunk
from ui.banner import BANNER_COLOURS, rgb
from ui.export import (
    QUOTE_CHARS,
    answer_level,
    answer_markdown,
    answer_pdf,
    export_file_name,
)
from vigie.contracts import Chunk, Citation, Hit, Level

WHEN = datetime(2026, 11, 26, 9, 48)
MARKING = "SECRET SPÉCIAL FRANCE"
QUESTION = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"
SECRET_QUOTE = "Le croiseur « Jules-Ferry » attendait le Président à Dunkerque, l’œuvre achevée."
PUBLIC_TEXT = "La note publique confirme l’arrivée du navire à Dunkerque le 3 août."
OPENING = "Le « Jules-Ferry » attendait à Dunkerque [1]. La note l’atteste [2]."
LONG_PARAGRAPH = (
    "Le journal décrit ensuite, jour après jour, les manœuvres de l’escadre, les réunions "
    "à l’Élysée et les télégrammes échangés avec Londres ; chaque entrée précise l’heure, "
    "le lieu et les personnes présentes. "
) * 40


def citation(number: int, chunk: Chunk, quote: str = "", cited: bool = True) -> Citation:
    return Citation(
        number=number,
        document=chunk.file_name,
        page=chunk.page,
        chunk_id=chunk.chunk_id,
        score=0.8,
        cited=cited,
        quote=quote,
        supported=True if cited else None,
        level=chunk.level,
        caveats=chunk.caveats,
    )


def sources() -> tuple[Chunk, Chunk]:
    secret = make_chunk(
        "journal-1914",
        f"Passage du journal. {SECRET_QUOTE} Suite du passage.",
        Level.SECRET,
        page=3,
        caveats=("SPÉCIAL FRANCE",),
    )
    public = make_chunk("note-publique", PUBLIC_TEXT, Level.NON_PROTEGE, page=1, index=1)
    return secret, public


def make_answer(text: str | None = None) -> Answer:
    """Two cited sources: [1] SECRET SPÉCIAL FRANCE with a quote, [2] NON PROTÉGÉ without."""
    secret, public = sources()
    if text is None:
        text = f"{OPENING}\n\n{LONG_PARAGRAPH}"
    return Answer(
        question=QUESTION,
        text=text,
        citations=[citation(1, secret, SECRET_QUOTE), citation(2, public)],
        sources=[Hit(secret, 0.9), Hit(public, 0.7)],
        unsupported=["Le croiseur avait appareillé la veille."],
    )


def refused_answer() -> Answer:
    secret, public = sources()
    return Answer(
        question=QUESTION,
        text="Les archives accessibles ne répondent pas. Les plus proches :\n- journal-1914.pdf",
        citations=[citation(1, secret, cited=False), citation(2, public, cited=False)],
        sources=[Hit(secret, 0.4), Hit(public, 0.3)],
        answered=False,
        refusal="unsupported",
        withdrawn="Le croiseur s’appelait « Inventé ».",
    )


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


# --- Markdown -------------------------------------------------------------------------


def test_markdown_starts_and_ends_with_the_marking() -> None:
    answer = make_answer()
    assert answer.label == MARKING
    lines = answer_markdown(answer, user="alice", exported_at=WHEN).splitlines()
    assert lines[0] == f"**{MARKING}**"
    assert lines[-1] == f"**{MARKING}**"


def test_markdown_holds_the_question_answer_and_quoted_sources() -> None:
    text = answer_markdown(make_answer(), user="alice", exported_at=WHEN)
    assert f"**Question :** {QUESTION}" in text
    assert "Exporté par alice le 26/11/2026 09:48" in text
    assert "## Réponse" in text and LONG_PARAGRAPH.strip() in text
    assert "## Phrases non étayées" in text
    assert "- Le croiseur avait appareillé la veille." in text
    sources_part = text.split("## Sources", 1)[1]
    assert "[1] journal-1914.pdf, page 3 — SECRET SPÉCIAL FRANCE" in sources_part
    assert "[2] note-publique.pdf, page 1 — NON PROTÉGÉ" in sources_part
    assert f"> {SECRET_QUOTE}" in sources_part
    # [2] has no quote: its passage stands in.
    assert f"> {PUBLIC_TEXT}" in sources_part
    assert sources_part.index("[1]") < sources_part.index(SECRET_QUOTE) < sources_part.index("[2]")


def test_only_cited_sources_are_listed_and_marked() -> None:
    answer = make_answer()
    extra = make_chunk("annexe", "Annexe très secrète.", Level.TRES_SECRET, page=9, index=2)
    answer.citations.append(citation(3, extra, cited=False))
    answer.sources.append(Hit(extra, 0.2))
    text = answer_markdown(answer, user="alice", exported_at=WHEN)
    assert "annexe.pdf" not in text and "Annexe très secrète" not in text
    assert text.startswith(f"**{MARKING}**")
    assert answer_level(answer) is Level.SECRET


def test_a_passage_without_quote_is_cut() -> None:
    secret, _ = sources()
    long_chunk = make_chunk("rapport", "mot " * 1000, Level.DIFFUSION_RESTREINTE, page=2)
    answer = Answer(
        question=QUESTION,
        text="Réponse [1] [2].",
        citations=[citation(1, secret, SECRET_QUOTE), citation(2, long_chunk)],
        sources=[Hit(secret, 0.9), Hit(long_chunk, 0.8)],
    )
    text = answer_markdown(answer, user="alice", exported_at=WHEN)
    quoted = [line for line in text.splitlines() if line.startswith("> mot")]
    assert len(quoted) == 1
    assert len(quoted[0]) <= QUOTE_CHARS + 4 and quoted[0].endswith("…")
    assert answer_level(answer) is Level.SECRET


def test_refused_answer_exports_the_refusal_not_the_withdrawn_answer() -> None:
    answer = refused_answer()
    text = answer_markdown(answer, user="alice", exported_at=WHEN)
    assert text.splitlines()[0] == f"**{MARKING}**" == text.splitlines()[-1]
    assert "Vigie n'a pas répondu" in text
    assert "Les archives accessibles ne répondent pas." in text
    assert "Inventé" not in text
    # Nothing was cited: every source given is listed, under its own heading.
    assert "## Sources consultées" in text
    assert "[1] journal-1914.pdf" in text and "[2] note-publique.pdf" in text


def test_english_labels_and_date() -> None:
    text = answer_markdown(make_answer(), user="bob", exported_at=WHEN, language="en")
    assert "**Question:** " in text
    assert "Exported by bob on 2026-11-26 09:48" in text
    assert "## Answer" in text and "## Unsupported sentences" in text and "## Sources" in text
    assert "Réponse de Vigie" not in text and "Exporté" not in text
    refused = answer_markdown(refused_answer(), user="bob", exported_at=WHEN, language="en")
    assert "Vigie did not answer" in refused and "Sources consulted" in refused


# --- PDF ------------------------------------------------------------------------------


def test_pdf_every_page_is_marked_top_and_bottom() -> None:
    pages = pdf_pages(answer_pdf(make_answer(), user="alice", exported_at=WHEN))
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        lines = [line.strip() for line in page.strip().splitlines()]
        assert lines[0] == MARKING, (number, lines[:2])
        assert lines[-1] == MARKING, (number, lines[-2:])
        assert f"page {number} / {len(pages)}" in page


def test_pdf_holds_the_question_answer_and_quotes_with_accents() -> None:
    data = answer_pdf(make_answer(), user="alice", exported_at=WHEN)
    text = flat(" ".join(pdf_pages(data)))
    assert QUESTION in text
    assert "Exporté par alice le 26/11/2026 09:48" in text
    assert OPENING in text
    assert "les manœuvres de l’escadre, les réunions à l’Élysée" in text
    assert SECRET_QUOTE in text
    assert PUBLIC_TEXT in text
    assert "[1] journal-1914.pdf, page 3 — SECRET SPÉCIAL FRANCE" in text
    assert "Le croiseur avait appareillé la veille." in text


def test_pdf_metadata_and_same_bytes_for_same_inputs() -> None:
    answer = make_answer()
    first = answer_pdf(answer, user="alice", exported_at=WHEN)
    assert answer_pdf(answer, user="alice", exported_at=WHEN) == first
    assert answer_pdf(answer, user="alice", exported_at=datetime(2026, 11, 26, 9, 49)) != first
    meta = pypdf.PdfReader(io.BytesIO(first)).metadata
    assert meta is not None
    assert MARKING in (meta.title or "")
    assert meta.author == "alice"
    assert meta.creation_date is not None
    assert meta.creation_date.replace(tzinfo=None) == WHEN.astimezone().replace(tzinfo=None)


def test_pdf_refused_and_english() -> None:
    text = flat(" ".join(pdf_pages(answer_pdf(refused_answer(), user="a", exported_at=WHEN))))
    assert "Vigie n'a pas répondu" in text
    assert "Les archives accessibles ne répondent pas." in text
    assert "Inventé" not in text
    english = answer_pdf(make_answer("Short [1] [2]."), user="bob", exported_at=WHEN, language="en")
    pages = pdf_pages(english)
    text = flat(" ".join(pages))
    assert len(pages) == 1
    assert "Exported by bob on 2026-11-26 09:48" in text and "Réponse" not in text
    assert f"“{SECRET_QUOTE}”" in text


def banners(data: bytes) -> list[list[tuple[tuple[float, float, float], float, float, float]]]:
    """Per page, each filled rectangle: (fill colour, bottom, top, width) in points."""
    found = []
    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        stream = page.get_contents().get_data().decode("latin-1")
        rects = re.findall(
            r"([\d.]+) ([\d.]+) ([\d.]+) rg\s+([\d.]+) ([\d.]+) ([\d.]+) (-?[\d.]+) re f", stream
        )
        found.append(
            [
                (
                    (float(r), float(g), float(b)),
                    min(float(y), float(y) + float(h)),
                    max(float(y), float(y) + float(h)),
                    float(w),
                )
                for r, g, b, _x, y, w, h in rects
            ]
        )
    return found


def test_pdf_secret_banner_is_red_at_top_and_bottom_of_each_page() -> None:
    data = answer_pdf(make_answer(), user="alice", exported_at=WHEN)
    height = float(pypdf.PdfReader(io.BytesIO(data)).pages[0].mediabox.height)
    pages = banners(data)
    assert len(pages) >= 2
    red = (200 / 255, 16 / 255, 46 / 255)
    for rects in pages:
        assert len(rects) == 2
        for colour, _bottom, _top, width in rects:
            assert colour == pytest.approx(red, abs=1e-3)
            assert width == pytest.approx(595.28, abs=0.1)  # A4, edge to edge
        assert any(top == pytest.approx(height, abs=0.1) for _, _, top, _ in rects)
        assert any(bottom == pytest.approx(0, abs=0.1) for _, bottom, _, _ in rects)


@pytest.mark.parametrize("level", list(Level))
def test_pdf_banner_colour_follows_the_level(level: Level) -> None:
    chunk = make_chunk("doc", "Un passage.", level, page=1)
    answer = Answer(
        question="Q ?",
        text="R [1].",
        citations=[citation(1, chunk, "Un passage.")],
        sources=[Hit(chunk, 0.9)],
    )
    assert answer_level(answer) is level
    data = answer_pdf(answer, user="alice", exported_at=WHEN)
    expected = tuple(v / 255 for v in rgb(BANNER_COLOURS[level][0]))
    for rects in banners(data):
        assert [c for c, *_ in rects] == [pytest.approx(expected, abs=1e-3)] * 2
    assert flat(pdf_pages(data)[0]).startswith(level.label)


# --- File name ------------------------------------------------------------------------


def test_export_file_name() -> None:
    answer = make_answer()
    assert export_file_name(answer, WHEN, "md") == "vigie-reponse-20261126-0948.md"
    assert export_file_name(answer, WHEN, ".PDF") == "vigie-reponse-20261126-0948.pdf"
    assert "Dunkerque" not in export_file_name(answer, WHEN, "md")


# --- Tables ---------------------------------------------------------------------------

BUDGET = (
    "Unité : Base aérienne 113 ; Effectif : 1 902 ; Crédits (F) : 4 870 000\n"
    "Unité : Total des unités ; Crédits (F) : 9 295 750"  # its empty cell left out
)


def table_answer() -> Answer:
    table = replace(make_chunk("etat-des-unites", BUDGET, page=2), element_type="Table")
    return Answer(
        question="Quels crédits pour la base aérienne 113 ?",
        text="La base aérienne 113 a reçu 4 870 000 F [1].",
        citations=[citation(1, table)],
        sources=[Hit(table, 0.9)],
    )


def test_a_cited_table_is_drawn_as_a_table_in_markdown() -> None:
    text = answer_markdown(table_answer(), user="alice", exported_at=WHEN)
    assert "| Unité | Effectif | Crédits (F) |" in text
    assert "| Base aérienne 113 | 1 902 | 4 870 000 |" in text
    assert "| Total des unités |  | 9 295 750 |" in text  # the empty cell back in its place
    assert "Unité : Base" not in text  # not also as a flattened quote


def test_a_cited_table_is_drawn_as_a_table_in_the_pdf() -> None:
    page = flat(pdf_pages(answer_pdf(table_answer(), user="alice", exported_at=WHEN))[0])
    assert "Unité Effectif Crédits (F)" in page
    assert "Base aérienne 113 1 902 4 870 000" in page


def test_a_table_without_a_header_row_is_keys_and_values() -> None:
    chunk = replace(make_chunk("reglement", "Avis de motion : 21 février 2022\nAdoption : 19 "
                                            "avril 2022"), element_type="Table")  # fmt: skip
    assert table_grid(chunk) == (["", ""], [["Avis de motion", "21 février 2022"],
                                            ["Adoption", "19 avril 2022"]])  # fmt: skip
    assert table_grid(replace(chunk, element_type="NarrativeText")) is None


def test_a_table_whose_columns_share_a_name_is_keys_and_values() -> None:
    text = "Année : 1986 ; Budget : 120 ; Budget : 130\nAnnée : 1987 ; Budget : 140"
    chunk = replace(make_chunk("budgets", text), element_type="Table")
    columns, rows = table_grid(chunk)
    assert columns == ["", ""] and ["Budget", "120"] in rows and ["Budget", "130"] in rows


def test_a_table_too_wide_for_the_page_is_quoted_as_text() -> None:
    wide = " ; ".join(f"Colonne {n} : {n * 7}" for n in range(1, 15))
    table = replace(make_chunk("large", wide, page=4), element_type="Table")
    answer = Answer(question="Quelle valeur ?", text="La colonne 3 vaut 21 [1].",
                    citations=[citation(1, table)], sources=[Hit(table, 0.9)])  # fmt: skip
    text = answer_markdown(answer, user="alice", exported_at=WHEN)
    assert "| Colonne 1 |" not in text and "> Colonne 1 : 7 ; Colonne 2 : 14" in text
    assert answer_pdf(answer, user="alice", exported_at=WHEN)  # no table to overflow
