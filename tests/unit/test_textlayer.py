"""Text-layer plausibility: garbage from unmapped fonts is caught, genuine pages are kept."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from ingest.textlayer import judge_text_layer, text_layer_is_plausible

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "documents"
MIN_PAGE_CHARS = 20

FRENCH = (
    "Le conseil municipal a adopté, lors de la séance ordinaire du 20 octobre, le règlement "
    "relatif à l'occupation du domaine public. Toute personne qui désire installer une "
    "terrasse, un étalage ou une enseigne sur le trottoir doit d'abord obtenir un permis "
    "auprès du service de l'urbanisme. La demande est accompagnée d'un plan à l'échelle et "
    "de la preuve d'une assurance responsabilité civile. Le permis est valide pour une "
    "saison et il peut être révoqué en tout temps si les conditions ne sont pas respectées. "
    "Les œuvres d'art, les ﬁgures et les sculptures exposées dans les parcs font l'objet "
    "d'une entente distincte avec la ville, qui en précise la durée et les modalités."
)
ENGLISH = (
    "This Agreement shall be governed by and construed in accordance with the laws of the "
    "State of California, without regard to its conflict of law provisions. Any dispute "
    "arising out of or in connection with this Agreement shall be submitted to the exclusive "
    "jurisdiction of the courts located in San Francisco County. If any provision of this "
    "Agreement is held to be invalid or unenforceable, the remaining provisions shall remain "
    "in full force and effect. The failure of either party to enforce any right under this "
    "Agreement shall not constitute a waiver of that right, and no waiver shall be effective "
    "unless it is made in writing and signed by the party against whom it is asserted."
)
TABLE_OF_CONTENTS = """TABLE OF CONTENTS
INTRODUCTION ........................................ 3
MAIN GAME ......6
Setting Up the Board .............................. 7
Turn Sequence ...................................... 9
Combat ............................................ 12
Appendix A: Tables ................................ 31
Index ............................................. 40
"""
NUMBER_TABLE = """Code Désignation Quantité Prix unitaire Total
A-101 Borne 12 1 250,00 15 000,00
A-102 Dalle 340 18,50 6 290,00
B-210 Regard 4 2 100,00 8 400,00
C-3 Bordure 1 200 12,75 15 300,00
Total HT 44 990,00 TVA 20 % 8 998,00 Total TTC 53 988,00
"""
# Rows of a layoff table: company names and places, no function word at all.
NAME_LIST = " ".join(
    f"{name} Inc Sacramento Layoff Permanent"
    for name in ("Walmart", "Amazon", "Kaiser", "Oracle", "Chevron", "Safeway", "Wells Fargo") * 3
)


def caesar(text: str, shift: int) -> str:
    """Each ASCII letter moved `shift` places along the alphabet, as some broken fonts do."""
    out = []
    for char in text:
        if "a" <= char <= "z":
            out.append(chr((ord(char) - 97 + shift) % 26 + 97))
        elif "A" <= char <= "Z":
            out.append(chr((ord(char) - 65 + shift) % 26 + 65))
        else:
            out.append(char)
    return "".join(out)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(FRENCH, id="french-accents-ligatures"),
        pytest.param(ENGLISH, id="english-legal"),
        pytest.param(TABLE_OF_CONTENTS, id="table-of-contents"),
        pytest.param(NUMBER_TABLE, id="number-table"),
        pytest.param(NAME_LIST, id="list-of-names"),
        pytest.param("RÈGLEMENT NO 1000-2008-PPC", id="short-title"),
        pytest.param("Chapitre 3 — L'œuvre", id="short-title-dash"),
        pytest.param("\uf0b7 Article 12", id="symbol-font-bullet"),
        pytest.param("suré(e) qui ouvre droit aux prestations \x03 Je demande", id="one-stray"),
        pytest.param(FRENCH.replace("tion", "\x02tion"), id="pdfium-soft-hyphens"),
        pytest.param("", id="empty"),
    ],
)
def test_genuine_text_is_plausible(text: str) -> None:
    verdict = judge_text_layer(text)
    assert verdict.plausible, verdict


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "\x01\x03\x02\x05\x04\x07\x06\t\x08\n\x01\x0c\x0b \r\x0f\x0e\x11\x10\x12\x06\x11",
            id="c0-controls",
        ),
        pytest.param("\x01\x03\x02\x05", id="short-controls"),
        pytest.param(
            "rps\x12f3dvb\x93e\x15\x9c%©2 &5{#:l\x83ljie {*z}\x83i{T\x83I=jib\x01h=&5h",
            id="c1-controls",
        ),
        pytest.param("\ue000\ue001\ue002 \ue003\ue004 \ufffd\ufffd\ufffd text", id="private-use"),
        pytest.param(
            "µc.,'&/:D,%.&/'&;HDF/+! '%^,3@/f#2[R7':AMX!+D)!H& 7,-T,-;,H&/ h#a/! L@ "
            "egfhITwxjyz evf~ IOikj 2[Ca/ ¥ i¥ t$p,-. .T+&, '7,- 7)#,-.aC0!)!:7a! L@zD:'9D&",
            id="punctuation-soup",
        ),
        pytest.param(
            "ºh»¹¼ Á»¹ÇwÀUÁc¼{Ç(Ë¸Ä»¹¼H¾-T0úH÷¹És¼cÃPÄ¿Ë Ç-T ZÀUÃ¹¼c¿{ÎKkÆÐNÎ(n Ð§¾(Ã¹Â Ñ Î",
            id="latin1-soup",
        ),
        pytest.param(
            "xQzTr pLmWk vBnRt qWeRtY zXcVb nMkLp aSdFg hJkLö yXcVbN mQwErT", id="case-soup"
        ),
    ],
)
def test_garbage_is_not_plausible(text: str) -> None:
    verdict = judge_text_layer(text)
    assert not verdict.plausible, verdict
    assert not text_layer_is_plausible(text)


@pytest.mark.parametrize("shift", [1, 3, 10, 13, 25])
@pytest.mark.parametrize("text", [FRENCH, ENGLISH], ids=["french", "english"])
def test_caesar_shifted_prose_is_not_plausible(text: str, shift: int) -> None:
    assert text_layer_is_plausible(text)
    verdict = judge_text_layer(caesar(text, shift))
    assert not verdict.plausible, verdict
    assert "not French or English" in verdict.reason


def test_list_of_names_is_judged_on_its_letters() -> None:
    """No function words, but letters distributed like English: a table, not letter soup."""
    verdict = judge_text_layer(NAME_LIST)
    assert verdict.function_word_ratio == 0 and verdict.letter_profile is not None
    assert verdict.plausible


def test_short_shifted_text_is_not_judged_on_language() -> None:
    """A title's few words are too few to tell a shifted text from names or codes."""
    assert text_layer_is_plausible(caesar("Rapport annuel de la commission", 3))


def _page_texts(pdf_path: Path, pages: range | None = None) -> list[tuple[int, str]]:
    """(page number, text layer as pdfium reads it) for pages with some text."""
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        texts = []
        for index in pages if pages is not None else range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded()
            textpage.close()
            page.close()
            if len("".join(text.split())) >= MIN_PAGE_CHARS:
                texts.append((index + 1, text))
        return texts
    finally:
        pdf.close()


def test_every_page_of_a_pdf_without_unicode_maps_is_garbage() -> None:
    pages = _page_texts(CORPUS / "edge-cases" / "playa_scp05.pdf")
    assert len(pages) >= 60
    plausible = [number for number, text in pages if text_layer_is_plausible(text)]
    assert plausible == []


@pytest.mark.parametrize(
    ("name", "pages"),
    [
        # French regulation, accents throughout.
        (
            "fr-born-digital/alexis_RGL-1132-occupation-domaine-public-CODIFICATION-ADMINISTRATIVE.pdf",
            None,
        ),
        # Tables of company names: few function words.
        ("en-born-digital/plumber_ca-warn-report.pdf", None),
        # A form with some Caesar-shifted lines and U+0003 check boxes: mostly real text.
        ("fr-born-digital/pdfjs_issue6127.pdf", None),
        # Two-column scientific paper with formulas.
        ("en-born-digital/unst_multi-column.pdf", None),
        # A 619-page game book: table of contents, prose, tables; every 20th page.
        ("edge-cases/unst_DA-619p.pdf", range(0, 619, 20)),
        # Text layer written by OCR on a scan.
        ("fr-scanned/alexis_00-Reglement-1000-2008-PPC.pdf", None),
    ],
)
def test_genuine_corpus_pages_are_plausible(name: str, pages: range | None) -> None:
    texts = _page_texts(CORPUS / name, pages)
    assert texts
    rejected = {n: judge_text_layer(t).reason for n, t in texts if not text_layer_is_plausible(t)}
    assert rejected == {}
