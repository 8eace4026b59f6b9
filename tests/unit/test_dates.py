"""Document dates: the formats `find_date` reads, what it rejects, and the preference order."""

from __future__ import annotations

from datetime import date

import pypdfium2 as pdfium
import pytest

from ingest.dates import HEAD_CHARS, document_date, find_date, pdf_metadata_date
from tests.conftest import CORPUS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # French, written out
        ("12 mars 1994", date(1994, 3, 12)),
        ("Paris, le 1er février 2003", date(2003, 2, 1)),
        ("Paris, le 1ᵉʳ février 2003", date(2003, 2, 1)),
        ("le 3 aout 1987", date(1987, 8, 3)),
        ("LE 3 AOÛT 1987", date(1987, 8, 3)),
        ("Brest, le 14 juillet 1950.", date(1950, 7, 14)),
        ("Toulon,\u00a0le 5\u00a0décembre\u00a01961", date(1961, 12, 5)),
        ("séance du 19 avril\n2022 à 19h", date(2022, 4, 19)),
        # abbreviated months, with or without the dot or accent
        ("12 déc. 1994", date(1994, 12, 12)),
        ("12 dec 1994", date(1994, 12, 12)),
        ("3 sept. 1945", date(1945, 9, 3)),
        ("3 sept 1945", date(1945, 9, 3)),
        ("7 févr. 2001", date(2001, 2, 7)),
        ("7 fevr 2001", date(2001, 2, 7)),
        ("2 janv. 1990", date(1990, 1, 2)),
        ("9 juil. 1969", date(1969, 7, 9)),
        # English
        ("12 March 1994", date(1994, 3, 12)),
        ("12 Dec 1994", date(1994, 12, 12)),
        ("12 Dec. 1994", date(1994, 12, 12)),
        ("1st June 1944", date(1944, 6, 1)),
        ("the 2nd of May, 1945", date(1945, 5, 2)),
        ("March 12, 1994", date(1994, 3, 12)),
        ("MARCH 12 1994", date(1994, 3, 12)),
        ("London, Sept. 3rd, 1939", date(1939, 9, 3)),
        ("Aug 4th, 1914", date(1914, 8, 4)),
        # figures: day first, "/" or "." (or "-"), and ISO
        ("12/03/1994", date(1994, 3, 12)),
        ("12.03.1994", date(1994, 3, 12)),
        ("12-03-1994", date(1994, 3, 12)),
        ("Le 5/6/1970, à Lorient", date(1970, 6, 5)),
        ("1994-03-12", date(1994, 3, 12)),
        ("Réf. du 1994-03-12.", date(1994, 3, 12)),
        # limits of the accepted years
        ("1 janvier 1900", date(1900, 1, 1)),
        ("31/12/2100", date(2100, 12, 31)),
    ],
)
def test_find_date_reads(text: str, expected: date) -> None:
    assert find_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Aucune date ici.",
        "31/02/1994",  # impossible day
        "12/13/1994",  # month-first is not read: no 13th month
        "30 février 1994",
        "1994-02-30",
        "12/03/94",  # two-digit years are never read
        "12 mars 94",
        "réf. 12/03/94-117",  # reference number
        "réf. 12/03/1994-117",
        "n° 112/03/1994",
        "1/2/3/1994",
        "12 mars 1899",  # year out of range
        "12/03/2101",
        "1899-03-12",
        "janvier 2021",  # no day
        "le 20 juin, à 16h00",  # no year
        "12 marsupiaux 1994",  # not a month
        "Règlement 1132-2010, article 12.5",
        "12.03.19945",
    ],
)
def test_find_date_rejects(text: str) -> None:
    assert find_date(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Le 31/02/1994, pardon : le 28/02/1994.", date(1994, 2, 28)),
        ("Réf. 12/03/94-117 du 4 mai 1994", date(1994, 5, 4)),
        ("Copie 1899-01-01, originale du 2 janvier 1901", date(1901, 1, 2)),
        # the first written date wins, whatever its format
        ("Le 2 mai 1990, vu la note du 01/01/1980", date(1990, 5, 2)),
        ("1980-01-01 ; 2 mai 1990", date(1980, 1, 1)),
    ],
)
def test_find_date_skips_bad_candidates_and_keeps_the_first_good_one(
    text: str, expected: date
) -> None:
    assert find_date(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("D:19940312103000+01'00'", date(1994, 3, 12)),
        ("D:20220516084313-04'00'", date(2022, 5, 16)),
        ("D:19940312", date(1994, 3, 12)),
        ("D:199403", date(1994, 3, 1)),
        ("D:1994", date(1994, 1, 1)),
        ("19940312103000Z", date(1994, 3, 12)),
        ("1994-03-12", date(1994, 3, 12)),
        ("1994-03-12T10:30:00+01:00", date(1994, 3, 12)),
    ],
)
def test_pdf_metadata_date_reads(value: str, expected: date) -> None:
    assert pdf_metadata_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [None, "", "D:", "D:abc", "garbage", "D:19941312", "D:19940230", "D:18990101", "1994-13-01"],
)
def test_pdf_metadata_date_rejects_malformed(value: str | None) -> None:
    assert pdf_metadata_date(value) is None


@pytest.mark.parametrize(
    ("text", "metadata", "expected"),
    [
        ("Paris, le 1er février 2003", "D:20090101000000", date(2003, 2, 1)),  # text wins
        ("Paris, le 1er février 2003", None, date(2003, 2, 1)),
        ("Rapport final\nJanvier 2021", "D:20210128160204-05'00'", date(2021, 1, 28)),
        ("", "D:1994", date(1994, 1, 1)),
        ("Sans date.", None, None),
        ("Sans date.", "not a date", None),
        ("", None, None),
    ],
)
def test_document_date_preference(text: str, metadata: str | None, expected: date | None) -> None:
    assert document_date(text, metadata) == expected


def test_document_date_ignores_dates_far_down_the_pages() -> None:
    text = "Note de service\n" + "x " * HEAD_CHARS + "\nvu l'ordre du 6 juin 1944"
    assert find_date(text) == date(1944, 6, 6)
    assert document_date(text) is None
    assert document_date(text, "D:19991231") == date(1999, 12, 31)


def _first_page(path) -> tuple[str, str | None]:
    pdf = pdfium.PdfDocument(path)
    try:
        text = pdf[0].get_textpage().get_text_range()
        return text, pdf.get_metadata_dict().get("CreationDate")
    finally:
        pdf.close()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Page header "... – 19 avril 2022 (Adoption) page 1" (created 2022-05-16).
        ("alexis_2022-04-19-Rgl-1324-redevances-adopte.pdf", date(2022, 4, 19)),
        # "Règlement 1132-2010, adopté le 19 avril 2010, ..." (created 2019-07-04).
        (
            "alexis_RGL-1132-occupation-domaine-public-CODIFICATION-ADMINISTRATIVE.pdf",
            date(2010, 4, 19),
        ),
        # Cover says only "Janvier 2021": no day, so the creation date is used.
        ("plumber_chelsea_pdta.pdf", date(2021, 1, 28)),
    ],
)
def test_document_date_on_real_french_pdfs(name: str, expected: date) -> None:
    text, metadata = _first_page(CORPUS / "fr-born-digital" / name)
    found = document_date(text, metadata)
    assert found is not None and date(1990, 1, 1) <= found <= date(2030, 1, 1)
    assert found == expected
