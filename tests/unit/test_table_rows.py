"""How a ruled table's rows are written (ingest/tables.py): with their column names when
the first row names the columns, as key : value when it does not; a caption row kept as
a title; a table run on from the page before given that page's header; the paragraphs
a table covers replaced by it, in place."""

from __future__ import annotations

from ingest.tables import FoundTable, table_pieces, with_tables
from vigie.contracts import Element

BOX = (100.0, 200.0, 500.0, 400.0)


def table(rows: list[list[str]], page: int = 1, bbox=BOX) -> FoundTable:
    return FoundTable(page, rows, bbox)


def test_a_header_row_names_every_value() -> None:
    pieces, header = table_pieces(
        table([["Company", "City", "No. Of"], ["Boeing", "Long Beach", "56"]]), None
    )
    assert [p.text for p in pieces] == ["Company : Boeing ; City : Long Beach ; No. Of : 56"]
    assert header == ["Company", "City", "No. Of"]


def test_a_table_without_header_is_read_as_its_rows() -> None:
    for rows in (
        [["Phase I - Pentes 40-80", "6 470 000 $"], ["Poste 117 Est", "2 830 000 $"]],
        [["Avis de motion", "21 février 2022"], ["Adoption du projet", "21 mars 2022"]],
    ):
        pieces, header = table_pieces(table(rows), None)
        assert header is None
        assert pieces[0].text == "\n".join(f"{a} : {b}" for a, b in rows), pieces


def test_a_caption_row_is_a_title_and_a_continued_table_gets_its_header() -> None:
    first = table([["Tableau 1 – Effectifs", "", ""], ["Unité", "Ville", "Hommes"],
                   ["2e RIMa", "Auvours", "800"]])  # fmt: skip
    pieces, header = table_pieces(first, None)
    assert (pieces[0].kind, pieces[0].text) == ("Title", "Tableau 1 – Effectifs")
    assert pieces[1].text == "Unité : 2e RIMa ; Ville : Auvours ; Hommes : 800"
    more, _ = table_pieces(table([["3e RIMa", "Vannes", "750"]], page=2), header)
    assert more[0].text == "Unité : 3e RIMa ; Ville : Vannes ; Hommes : 750"


def test_the_paragraphs_a_table_covers_are_replaced_in_place() -> None:
    elements = [
        Element("Avant le tableau", 1, "NarrativeText", bbox=(100, 100, 500, 120)),
        Element("Company City", 1, "NarrativeText", bbox=(110, 210, 490, 230)),
        Element("Boeing Long Beach", 1, "NarrativeText", bbox=(110, 250, 490, 270)),
        Element("Après le tableau", 1, "NarrativeText", bbox=(100, 450, 500, 470)),
    ]
    merged = with_tables(elements, [table([["Company", "City"], ["Boeing", "Long Beach"]])])
    assert [e.text for e in merged] == [
        "Avant le tableau", "Company : Boeing ; City : Long Beach", "Après le tableau",
    ]  # fmt: skip
    assert merged[1].element_type == "Table" and merged[1].bbox == BOX
