"""Honest refusal: a question the archive does not answer gets a refusal, not an invention."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from retrieval.answer import Answerer
from retrieval.llm import LocalLLM
from retrieval.search import Searcher
from tests.conftest import make_chunk
from vigie.config import Settings
from vigie.contracts import Chunk, Clearance, Level

pytestmark = pytest.mark.slow
READER = Clearance(Level.NON_PROTEGE)
TEXTS = [
    "Le croiseur Colbert attendait le Président du Conseil à Dunkerque le 3 juin 1915.",
    "L'escadre de la Manche reçut l'ordre d'appareiller pour Cherbourg avant l'aube.",
    "Le journal de bord signale une tempête au large de Brest et deux avaries de machine.",
]


@pytest.fixture(scope="module")
def parts(
    models_dir: Path, small_archive: Callable[[list[Chunk]], Searcher], llm: LocalLLM
) -> tuple[Settings, Searcher, LocalLLM]:
    chunks = [make_chunk(f"journal-{i}", text, page=i + 1) for i, text in enumerate(TEXTS)]
    return Settings(models_dir=models_dir), small_archive(chunks), llm


def answerer(parts: tuple, thresholds: tuple[float, float] | None) -> Answerer:
    _, searcher, llm = parts
    return Answerer(searcher, llm, top_k=3, max_tokens=64, refusal_threshold=thresholds)


def test_a_question_far_from_every_passage_is_refused_with_the_nearest_documents(
    parts: tuple,
) -> None:
    settings = parts[0]
    stream = answerer(parts, settings.refusal_thresholds()).ask(
        "Quel était le cours du blé à la bourse de Chicago en 2020 ?", READER
    )
    answer = stream.consume()
    assert answer.refused and answer.to_dict()["refused"] is True
    assert answer.text.startswith("Les archives que vous pouvez consulter ne permettent pas")
    assert "journal-" in answer.text and ", page " in answer.text  # the nearest documents
    assert "first_token" in answer.timings and answer.timings["total"] < 5  # no generation


def test_an_answerable_question_is_not_refused(parts: tuple) -> None:
    settings = parts[0]
    for question in (
        "Quel croiseur attendait le Président du Conseil à Dunkerque ?",
        "Which cruiser was waiting for the Prime Minister in Dunkirk?",
    ):
        answer = answerer(parts, settings.refusal_thresholds()).ask(question, READER).consume()
        assert not answer.refused, question
        assert answer.text


def test_the_threshold_is_what_decides(parts: tuple) -> None:
    question = "Quel était le cours du blé à la bourse de Chicago en 2020 ?"
    assert not answerer(parts, None).ask(question, READER).consume().refused
    searcher = parts[1]
    evidence = searcher.evidence(question, READER)
    just_below = (evidence.similarity - 0.001, evidence.similarity - 0.001)
    just_above = (evidence.similarity + 0.001, evidence.similarity + 0.001)
    assert not answerer(parts, just_below).ask(question, READER).consume().refused
    assert answerer(parts, just_above).ask(question, READER).consume().refused
