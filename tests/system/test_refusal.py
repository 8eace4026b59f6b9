"""Honest refusal: a question the archive does not answer gets a refusal, not an invention."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from retrieval.answer import Answer, Answerer, AnswerStream
from retrieval.citations import MARKER
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


def answerer(
    parts: tuple, thresholds: tuple[float, float] | None, withdraw: bool = True
) -> Answerer:
    _, searcher, llm = parts
    return Answerer(
        searcher,
        llm,
        top_k=3,
        max_tokens=64,
        refusal_threshold=thresholds,
        withdraw_unsupported=withdraw,
    )


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
    # The answer check is off here: it would withdraw an invented answer (tested below).
    unchecked = answerer(parts, None, withdraw=False).ask(question, READER).consume()
    assert unchecked.refusal != "too far"  # the model may still decline by itself
    score = answerer(parts, None).evidence(question, READER).score
    assert 0 < score < 1
    below = answerer(parts, (score - 0.001,) * 2, withdraw=False).ask(question, READER)
    assert below.consume().refusal != "too far"
    above = answerer(parts, (score + 0.001,) * 2, withdraw=False).ask(question, READER).consume()
    assert above.refused and above.refusal == "too far"
    assert above.quotes == [] and above.prompt_tokens == 0  # refused before the model read


def _stream(parts: tuple, generated: list[str], question: str) -> AnswerStream:
    """An answer to `question` over the three passages, whose text is `generated`
    (standing in for the model, to inject an invented or a grounded answer)."""
    searcher = parts[1]
    hits = searcher.search(question, READER, limit=3)
    answer = Answer(question=question, sources=hits)
    return AnswerStream(answer, iter(generated), time.perf_counter(), searcher.embedder)


def test_an_answer_the_sources_do_not_support_is_withdrawn_and_refused(parts: tuple) -> None:
    question = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"
    invented = ["Le cuirassé Jean Bart ", "attendait le Président ", "à Toulon en 1920 [1]."]
    answer = _stream(parts, invented, question).consume()
    assert answer.refused and answer.refusal == "unsupported"
    assert answer.withdrawn == "Le cuirassé Jean Bart attendait le Président à Toulon en 1920 [1]."
    assert answer.text.startswith("Les archives que vous pouvez consulter ne permettent pas")
    assert "journal-0.pdf, page 1" in answer.text  # the nearest documents are listed
    assert not any(c.cited for c in answer.citations)
    shown = answer.to_dict()
    assert shown["refused"] is True and shown["refusal_reason"] == "unsupported"


def test_a_supported_answer_stands_with_or_without_markers(parts: tuple) -> None:
    question = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"
    for generated in (
        ["Le croiseur Colbert attendait ", "le Président du Conseil à Dunkerque [1]."],
        ["Le croiseur Colbert attendait le Président du Conseil à Dunkerque."],
        ["The cruiser Colbert was waiting for the Prime Minister in Dunkirk."],
    ):
        answer = _stream(parts, generated, question).consume()
        assert not answer.refused, generated
        assert answer.withdrawn == ""
        assert MARKER.sub("", answer.text) == MARKER.sub("", "".join(generated))
        assert answer.text.endswith("[1].")  # cited by the model, or in code
        assert [c.document for c in answer.citations if c.cited] == ["journal-0.pdf"]


def test_a_stopped_answer_is_not_withdrawn(parts: tuple) -> None:
    question = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"
    stream = _stream(parts, ["Le cuirassé ", "Jean Bart ", "à Toulon [1]."], question)
    for _ in stream:
        stream.cancel()
    assert stream.answer.stopped == "cancelled" and not stream.answer.refused
