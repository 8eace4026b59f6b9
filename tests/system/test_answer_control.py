"""Streaming answers can be cancelled and time-limited, with the real stand-in model."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retrieval.answer import Answerer
from retrieval.llm import LocalLLM
from retrieval.search import Searcher
from tests.conftest import make_chunk
from vigie.contracts import Chunk, Clearance, Level

pytestmark = pytest.mark.slow
READER = Clearance(Level.DIFFUSION_RESTREINTE)
QUESTION = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"


@pytest.fixture(scope="module")
def searcher(small_archive: Callable[[list[Chunk]], Searcher]) -> Searcher:
    return small_archive(
        [
            make_chunk(
                "journal-1",
                "Le croiseur Colbert attendait le Président du Conseil à Dunkerque.",
                Level.DIFFUSION_RESTREINTE,
                page=3,
            ),
            make_chunk(
                "journal-2", "La récolte de blé a été abondante cette année dans la Beauce.", page=3
            ),
        ]
    )


def test_a_cancelled_answer_stops_after_the_current_token(
    searcher: Searcher, llm: LocalLLM
) -> None:
    stream = Answerer(searcher, llm, top_k=2, max_tokens=200).ask(QUESTION, READER)
    received = []
    for token in stream:
        received.append(token)
        stream.cancel()
    answer = stream.answer
    assert len(received) == 1
    assert answer.stopped == "cancelled"
    assert answer.to_dict()["stopped"] == "cancelled"
    assert answer.citations  # what was said is still resolved against its sources
    assert answer.label == "DIFFUSION RESTREINTE"


def test_the_time_limit_stops_generation(searcher: Searcher, llm: LocalLLM) -> None:
    stream = Answerer(searcher, llm, top_k=2, max_tokens=200, time_limit=0.0).ask(QUESTION, READER)
    answer = stream.consume()
    assert answer.stopped == "time limit"
    assert llm.count_tokens(answer.text) <= 2  # one token (stripped), at most two pieces
    # The same question without a limit runs to its end.
    full = Answerer(searcher, llm, top_k=2, max_tokens=200).ask(QUESTION, READER).consume()
    assert full.stopped == "" and llm.count_tokens(full.text) > 2


def test_an_answer_the_reader_abandons_stops_the_model_and_is_recorded(
    searcher: Searcher, llm: LocalLLM
) -> None:
    """The UI's stop button reruns the page: the loop over the stream is left mid-answer
    and the stream closed, as Python does with an abandoned generator."""
    stream = Answerer(searcher, llm, top_k=2, max_tokens=200).ask(QUESTION, READER)
    finished = []
    stream.on_done.append(finished.append)
    tokens = iter(stream)
    received = [next(tokens), next(tokens)]
    tokens.close()  # what the interrupted page does
    answer = stream.answer
    assert answer.stopped == "cancelled" and finished == [answer]
    assert answer.text == "".join(received).strip()
    assert answer.citations and answer.timings["total"] > 0
    # The model's generator was closed too: a new question runs at once, from its start.
    again = Answerer(searcher, llm, top_k=2, max_tokens=8).ask(QUESTION, READER).consume()
    assert again.text and again.stopped == ""


def test_an_answer_abandoned_before_its_first_token_is_recorded_once(
    searcher: Searcher, llm: LocalLLM
) -> None:
    """The stop button pressed while the model reads its sources: the page's run ends
    before the stream is ever read. `abandon()` records it; a finished one is left be."""
    stream = Answerer(searcher, llm, top_k=2, max_tokens=200).ask(QUESTION, READER)
    finished = []
    stream.on_done.append(finished.append)
    tokens = iter(stream)
    tokens.close()  # never started: closing it runs nothing
    assert finished == []
    stream.abandon()
    stream.abandon()
    answer = stream.answer
    assert finished == [answer] and answer.stopped == "cancelled" and answer.text == ""
    done = Answerer(searcher, llm, top_k=2, max_tokens=8).ask(QUESTION, READER)
    calls = []
    done.on_done.append(calls.append)
    done.consume()
    done.abandon()
    assert len(calls) == 1 and done.answer.stopped == ""
