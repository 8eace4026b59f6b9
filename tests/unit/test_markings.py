"""Classification markings read from page text: banners, capitals, portion marks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.markings import (
    DEFAULT_CAVEATS,
    LEVEL_NAMES,
    Marking,
    MarkingReading,
    document_marking,
    fold,
    read_markings,
    weigh_markings,
)
from vigie import contracts
from vigie.contracts import Level

SF = "SPÉCIAL FRANCE"
NP, DR, S, TS = (
    Level.NON_PROTEGE,
    Level.DIFFUSION_RESTREINTE,
    Level.SECRET,
    Level.TRES_SECRET,
)


def read_line(line: str, known_caveats: tuple[str, ...] = DEFAULT_CAVEATS) -> list[Marking]:
    return read_markings([(1, line)], known_caveats)


def level_of(line: str) -> Level | None:
    return document_marking(read_line(line))[0]


def test_every_alias_level_parse_knows_is_a_level_name() -> None:
    assert {fold(name) for name in LEVEL_NAMES} == set(contracts._ALIASES)


def test_fold_uppercases_strips_accents_and_punctuation() -> None:
    assert fold("  Très-Secret // Défense_ n°3 ") == "TRES SECRET DEFENSE N 3"


@pytest.mark.parametrize(
    ("line", "level"),
    [
        # current French names
        ("NON PROTÉGÉ", NP),
        ("DIFFUSION RESTREINTE", DR),
        ("SECRET", S),
        ("TRÈS SECRET", TS),
        # pre-2021 names
        ("CONFIDENTIEL DÉFENSE", S),
        ("SECRET DÉFENSE", S),
        ("TRÈS SECRET DÉFENSE", TS),
        # NATO names
        ("NATO UNCLASSIFIED", NP),
        ("NATO RESTRICTED", DR),
        ("NATO CONFIDENTIAL", S),
        ("NATO SECRET", S),
        ("COSMIC TOP SECRET", TS),
        # English names Level.parse also knows
        ("UNCLASSIFIED", NP),
        ("RESTRICTED", DR),
        ("CONFIDENTIAL", S),
        ("TOP SECRET", TS),
    ],
)
def test_banner_line_for_every_level_name(line: str, level: Level) -> None:
    markings = read_line(line)
    assert markings == [Marking(level, frozenset(), 1, line, "banner", 1)]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("Diffusion Restreinte", DR),
        ("diffusion restreinte", DR),
        ("Secret", S),
        ("secret defense", S),
        ("Tres Secret", TS),
        ("TRES SECRET DEFENSE", TS),
        ("Non protege", NP),
        ("Confidentiel-Défense", S),
        ("Nato Secret", S),
        ("— SECRET —", S),
        ("  ** DIFFUSION  RESTREINTE **  ", DR),
        ("Top Secret", TS),
    ],
)
def test_banner_lines_ignore_case_accents_and_separators(line: str, level: Level) -> None:
    assert level_of(line) == level


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("DIFFUS1ON RESTRElNTE", DR),  # 1 for I, l for I
        ("SECRET DEFENSF", S),  # one wrong letter
        ("SECRFT DÉFENSE", S),
        ("TRÈS SECRÈT", TS),  # stray accent
        ("5ECRET", S),  # 5 for S
        ("C0NFIDENTIEL DÉFENSE", S),  # 0 for O
        ("NAT0 RESTRlCTED", DR),
        ("COSMIC T0P SECRET", TS),
        ("S E C R E T", S),  # letter-spaced banner
        ("T R È S   S E C R E T   D É F E N S E", TS),
        ("SECRETDEFENSE", S),  # words run together
        ("SEC RET", S),  # word split
        ("DIFFUSI0N RESTREINTE - SPECIAL FRANCF", DR),
        ("D1FFUS10N RESTRE1NTE", DR),  # four digit-for-letter confusions
    ],
)
def test_ocr_noisy_banners_still_read(line: str, level: Level) -> None:
    assert level_of(line) == level


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("SECRET - EXEMPLAIRE N° 3", S),
        ("SECRET - EXEMPLAIRE N° 3 SUR 5", S),  # numbers are not counted
        ("EXEMPLAIRE N° 3 SUR 5 — DIFFUSION RESTREINTE", DR),
        ("SECRET DÉFENSE   PAGE 2 / 5", S),
        ("Classification : Secret", S),
        ("NIVEAU DE PROTECTION : DIFFUSION RESTREINTE", DR),
        ("Niveau de protection : Diffusion Restreinte", DR),
    ],
)
def test_banner_lines_may_carry_page_furniture(line: str, level: Level) -> None:
    assert level_of(line) == level


def test_at_most_three_furniture_words_beside_a_banner_marking() -> None:
    assert level_of("ANNEXE FEUILLET ORIGINAL SECRET") == S
    assert read_line("ANNEXE FEUILLET ORIGINAL COPIE SECRET") == []


@pytest.mark.parametrize(
    ("line", "level", "caveats"),
    [
        ("SECRET // SPÉCIAL FRANCE", S, {SF}),
        ("DIFFUSION RESTREINTE - SPECIAL FRANCE", DR, {SF}),
        ("secret défense / spécial france", S, {SF}),
        ("TRÈS SECRET SPÉClAL FRANCE", TS, {SF}),
        ("SECRET", S, set()),
    ],
)
def test_caveats_on_banner_lines_in_canonical_form(
    line: str, level: Level, caveats: set[str]
) -> None:
    assert document_marking(read_line(line)) == (level, frozenset(caveats))


def test_caveats_come_from_the_known_list_in_its_spelling() -> None:
    known = ("SPÉCIAL FRANCE", "ESPACE")
    _, caveats = document_marking(read_line("SECRET // espace // special france", known))
    assert caveats == {"SPÉCIAL FRANCE", "ESPACE"}
    _, caveats = document_marking(read_line("SECRET // ESPACE"))  # not a known caveat
    assert caveats == frozenset()


def test_a_caveat_alone_implies_at_least_diffusion_restreinte() -> None:
    assert document_marking(read_line("SPÉCIAL FRANCE")) == (DR, frozenset({SF}))


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("La note porte la mention SECRET DÉFENSE en tête de chaque page.", S),
        ("Ce rapport, CONFIDENTIEL DÉFENSE, a été transmis au ministre.", S),
        ("Pièce jointe classée TRÈS SECRET DÉFENSE par le cabinet.", TS),
        ("Le mémorandum marqué DIFFUSION RESTREINTE est joint en annexe.", DR),
        ("The annex, NATO RESTRICTED, lists the exercise dates.", DR),
        ("Distribution of the COSMIC TOP SECRET annex is limited.", TS),
        ("The draft is NATO CONFIDENTIAL until approved by the council.", S),
        ("Le compte rendu NON PROTÉGÉ est public.", NP),
    ],
)
def test_distinctive_markings_in_capitals_anywhere_in_a_line(line: str, level: Level) -> None:
    assert level_of(line) == level


def test_caveat_in_capitals_anywhere_in_a_line() -> None:
    line = "Ce document SECRET DÉFENSE est SPÉCIAL FRANCE et ne peut être communiqué."
    assert document_marking(read_line(line)) == (S, frozenset({SF}))


@pytest.mark.parametrize(
    ("line", "level", "caveats"),
    [
        ("(NP) Le calendrier des réunions est public.", NP, set()),
        ("(DR) Les effectifs sont répartis en trois groupes.", DR, set()),
        ("(TS) Les codes de lancement sont changés chaque jour.", TS, set()),
        ("(CD) Les essais ont eu lieu à Mururoa.", S, set()),
        ("(SD) Le dispositif est renforcé.", S, set()),
        ("(TSD) La cible prioritaire est désignée.", TS, set()),
        ("(NU) The meeting is open.", NP, set()),
        ("(NR) The exercise starts on Monday.", DR, set()),
        ("(NC) The convoy leaves at dawn.", S, set()),
        ("(NS) The frigate is at sea.", S, set()),
        ("(CTS) The plan is approved.", TS, set()),
        ("(S SF) Le rapport reste en France.", S, {SF}),
        ("(DR-SF) Les stocks sont suffisants.", DR, {SF}),
        ("(S//SF) Le site est surveillé.", S, {SF}),
        ("  1. (TS) Premier point de l'ordre du jour.", TS, set()),
        ("- (DR) Un élément de liste.", DR, set()),
    ],
)
def test_portion_markings(line: str, level: Level, caveats: set[str]) -> None:
    assert document_marking(read_line(line)) == (level, frozenset(caveats))
    assert all(m.kind == "portion" for m in read_line(line))


@pytest.mark.parametrize(
    "line",
    [
        "Le texte cite (voir annexe) les sources.",
        "Il a ajouté (S) au milieu de la phrase.",  # not at the start of the line
        "(s) minuscules, comme dans un pluriel",
        "(X) une autre lettre",
    ],
)
def test_not_portion_markings(line: str) -> None:
    assert read_line(line) == []


@pytest.mark.parametrize(
    "line",
    [
        "le secret professionnel est protégé par la loi",
        "the secret of the recipe",
        "une diffusion restreinte aux membres du conseil",
        "Ce document est confidentiel et doit rester au bureau.",
        "la défense nationale est une priorité du gouvernement",
        "The defense secretary kept the plan secret for months.",
        "Access to the building is restricted to staff.",
        "Secret de famille",
        "A secret",
        "de diffusion restreinte",
        "secret.",  # tail of a wrapped paragraph
        "No secret",
        "Secrets",
        "Confidentiality",
        "Confidentiel",
        "DÉCRET N° 2011-1425",
        "Secret 120",  # a table row, not a banner
        "TOP SECRET PLANS REVEALED IN THE PRESS TODAY",
        "Secrétariat général de la défense et de la sécurité nationale",
        "Exemplaire n° 3",
    ],
)
def test_prose_and_near_misses_are_not_markings(line: str) -> None:
    assert read_line(line) == []


# -- weak marks: "(S)" alone, and signatures ------------------------------------------------

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "documents"
SIGNED = (  # real bylaws of a Québec town, signed "(s) Name" above the title
    "fr-born-digital/alexis_Rgl-1314-2021-L-Lotissement.pdf",
    "fr-born-digital/alexis_2022-04-19-Rgl-1324-redevances-adopte.pdf",
)


def pdf_pages(path: Path) -> list[tuple[int, str]]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        return [(n, page.get_textpage().get_text_range()) for n, page in enumerate(document, 1)]
    finally:
        document.close()


@pytest.mark.parametrize("name", SIGNED)
def test_real_signature_blocks_are_not_markings_even_in_capitals(name: str) -> None:
    pages = pdf_pages(CORPUS / name)
    signed = [(n, re.sub(r"\(s\)", "(S)", text)) for n, text in pages]  # as others write it
    assert sum(text.count("(S)") for _, text in signed) >= 4
    assert read_markings(signed) == []
    assert weigh_markings(read_markings(signed)) == MarkingReading(None, frozenset())


@pytest.mark.parametrize(
    "block",
    [
        "Le maire,\n\n(S) Jean Dupont",
        "(S) Jean-Pierre DE LA TOUR, greffier",
        "(S) Marie Gagnon              (S) Luc Roy\n_______\nMarie Gagnon   Luc Roy\n"
        "Mairesse   Directeur général",
        "Signé à Toulon, le 3 mai 1986.\n(S) Amiral Henri Martin",
        "(S) John Smith\nMayor",
        # as the parser joins a block: name, rule, name and title on one line
        "(S) Audrey Senécal ____ Me Audrey Senécal Greffière et directrice des services",
    ],
)
def test_a_mark_before_a_name_beside_a_title_is_a_signature(block: str) -> None:
    assert read_markings([(1, block)]) == []


def test_a_lone_one_letter_mark_is_weak_and_left_to_confirm() -> None:
    page = "Note de service\n\n(S) Le sous-marin appareille le 12 mars de Brest.\n\nFin."
    markings = read_markings([(4, page)])
    assert [(m.level, m.kind, m.page, m.line) for m in markings] == [(S, "weak", 4, 3)]
    reading = weigh_markings(markings)
    assert (reading.level, reading.to_confirm) == (None, tuple(markings))
    assert level_of("(S) Jean Dupont") is None  # a name without a title: weak, not counted
    for sentence in ("(S) Le directeur de la base a ordonné le départ.\nLe maire",
                     "(S) Opération Daguet est lancée.\nLe général"):  # fmt: skip
        assert [m.kind for m in read_markings([(1, sentence)])] == ["weak"]


@pytest.mark.parametrize(
    "pages",
    [
        [(1, "DIFFUSION RESTREINTE"), (2, "(S) Le sous-marin appareille le 12 mars.")],
        [(1, "(S) Le convoi part de Toulon.\n(DR) Les effectifs sont de 40 hommes.")],
        [(1, "(S) The convoy leaves Toulon at dawn."), (3, "(S) The escort is two frigates.")],
    ],
)
def test_a_one_letter_mark_counts_beside_a_banner_or_other_portion_marks(pages) -> None:
    reading = weigh_markings(read_markings(pages))
    assert (reading.level, reading.to_confirm) == (S, ())


def test_highest_level_across_pages_wins() -> None:
    pages = [
        (1, "DIFFUSION RESTREINTE\nRapport annuel\nDIFFUSION RESTREINTE"),
        (2, "Introduction\n(S) Le point sensible.\nsuite du texte"),
        (3, "NON PROTÉGÉ\nAnnexe publique"),
    ]
    markings = read_markings(pages)
    assert [(m.page, m.level) for m in markings] == [(1, DR), (1, DR), (2, S), (3, NP)]
    assert document_marking(markings) == (S, frozenset())


def test_caveats_are_united_across_pages() -> None:
    pages = [(1, "SECRET"), (2, "(DR-SF) Détail des stocks.")]
    assert document_marking(read_markings(pages)) == (S, frozenset({SF}))


def test_a_lower_marking_never_lowers_the_level() -> None:
    pages = [(1, "TRÈS SECRET"), (2, "SECRET"), (3, "NON PROTÉGÉ")]
    assert document_marking(read_markings(pages))[0] == TS


def test_the_higher_level_on_a_single_line_wins() -> None:
    assert level_of("(DR) La mention TRÈS SECRET DÉFENSE figure sur la pièce.") == TS


def test_no_marking_gives_none() -> None:
    pages = [
        (1, "Rapport annuel\n\nLe secret professionnel est protégé par la loi."),
        (2, "the secret of the recipe\nune diffusion restreinte aux membres du conseil"),
    ]
    markings = read_markings(pages)
    assert markings == []
    assert document_marking(markings) == (None, frozenset())
    assert document_marking([]) == (None, frozenset())


def test_evidence_is_the_stripped_line_truncated() -> None:
    long_line = "Le document SECRET DÉFENSE " + "x" * 200
    [marking] = read_markings([(4, "   " + long_line + "   ")])
    assert marking.page == 4
    assert marking.evidence == long_line[:120]
