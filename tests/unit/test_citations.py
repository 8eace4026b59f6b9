"""The citation checker and the answer label (retrieval/citations.py, vigie/contracts.py)."""

from __future__ import annotations

from retrieval.answer import Answer
from retrieval.citations import check_answer, resolve_citations
from retrieval.embedder import Embedder
from vigie.contracts import Chunk, Hit, Level, answer_label

SF = "SPÉCIAL FRANCE"


def hit(text: str, level: Level = Level.NON_PROTEGE, caveats: tuple[str, ...] = ()) -> Hit:
    chunk = Chunk(
        document_id=text[:12],
        chunk_index=0,
        text=text,
        file_name=f"{text[:12]}.pdf",
        source_path="/archives/x.pdf",
        sha256=text[:12],
        page=3,
        element_type="NarrativeText",
        language="fr",
        level=level,
        caveats=caveats,
    )
    return Hit(chunk, 0.9)


SOURCES = [
    hit(
        "Le journal de bord mentionne une tempête. Le croiseur Colbert attendait le Président "
        "du Conseil à Dunkerque le 3 juin.",
        Level.DIFFUSION_RESTREINTE,
    ),
    hit("La récolte de blé a été abondante cette année dans la Beauce.", Level.SECRET, (SF,)),
]


def test_a_citation_naming_no_source_is_removed_and_counted() -> None:
    checked = check_answer("Le Colbert attendait à Dunkerque [1] [7]. Rien d'autre [9].", SOURCES)
    assert checked.removed == 2
    assert "[7]" not in checked.text and "[9]" not in checked.text and "[1]" in checked.text
    # It cites nothing any more, and no source says it: unsupported.
    assert checked.sentences[1].sources == [] and checked.sentences[1].supported is False


def test_a_sentence_its_source_says_is_supported_with_the_matching_quote() -> None:
    checked = check_answer("Le croiseur Colbert attendait le Président à Dunkerque [1].", SOURCES)
    (source,) = checked.sentences[0].sources
    assert source.supported and source.coverage >= 0.5
    assert source.quote.startswith("Le croiseur Colbert attendait")
    assert checked.unsupported == []


def test_a_sentence_its_source_does_not_say_is_flagged() -> None:
    answer = "Le croiseur Colbert a coulé en mer du Nord en 1940 [2]."
    checked = check_answer(answer, SOURCES)
    assert checked.sentences[0].supported is False
    assert checked.unsupported == [answer]


def test_one_supporting_source_is_enough_for_a_sentence_citing_two() -> None:
    checked = check_answer("Le Colbert attendait le Président à Dunkerque [1, 2].", SOURCES)
    verdicts = {c.number: c.supported for c in checked.sentences[0].sources}
    assert verdicts == {1: True, 2: False}
    assert checked.sentences[0].supported is True


def test_an_english_answer_over_a_french_source_is_checked_across_languages(
    embedder: Embedder,
) -> None:
    supported = "The cruiser Colbert was waiting for the Prime Minister in Dunkirk [1]."
    invented = "The wheat harvest was ruined by floods in Brittany [1]."
    assert check_answer(supported, SOURCES).sentences[0].supported is False  # no shared words
    assert check_answer(supported, SOURCES, embedder).sentences[0].supported is True
    assert check_answer(invented, SOURCES, embedder).sentences[0].supported is False


def test_the_label_is_the_highest_level_and_every_caveat_of_the_cited_sources() -> None:
    assert answer_label([], []) == "NON PROTÉGÉ"
    assert answer_label([Level.SECRET, Level.DIFFUSION_RESTREINTE], [(), (SF,)]) == (
        "SECRET SPÉCIAL FRANCE"
    )
    only_first = Answer("q", citations=resolve_citations("Le Colbert [1].", SOURCES))
    assert only_first.label == "DIFFUSION RESTREINTE"
    both = Answer("q", citations=resolve_citations("Le Colbert [1]. Le blé [2].", SOURCES))
    assert both.label == "SECRET SPÉCIAL FRANCE"
    # No citation at all: every source given is shown, so the label covers them all.
    none = Answer("q", citations=resolve_citations("Je ne sais pas.", SOURCES))
    assert none.label == "SECRET SPÉCIAL FRANCE"


def test_json_citations_carry_quote_support_and_level() -> None:
    text = "Le croiseur Colbert attendait le Président à Dunkerque [1]."
    checked = check_answer(text, SOURCES)
    answer = Answer("q", text=checked.text, citations=resolve_citations(text, SOURCES, checked))
    data = answer.to_dict()
    assert data["label"] == "DIFFUSION RESTREINTE" and data["refused"] is False
    (citation,) = data["citations"]
    assert citation["supported"] is True and citation["quote"].startswith("Le croiseur Colbert")
    assert citation["level"] == "DIFFUSION RESTREINTE" and citation["page"] == 3
