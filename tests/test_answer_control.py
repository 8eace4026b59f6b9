"""Streaming answers can be cancelled and time-limited, with the real stand-in model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.answer import Answerer
from retrieval.embedder import Embedder
from retrieval.llm import LocalLLM
from retrieval.qdrant_edge import QdrantEdgeStore
from retrieval.search import Searcher
from vigie.config import Settings
from vigie.contracts import Chunk, Clearance, Level

pytestmark = pytest.mark.slow
READER = Clearance(Level.DIFFUSION_RESTREINTE)
QUESTION = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"


def chunk(index: int, text: str, level: Level = Level.NON_PROTEGE) -> Chunk:
    return Chunk(
        document_id=f"journal-{index}",
        chunk_index=0,
        text=text,
        file_name=f"journal-{index}.pdf",
        source_path=f"/archives/journal-{index}.pdf",
        sha256=f"journal-{index}",
        page=3,
        element_type="NarrativeText",
        language="fr",
        level=level,
    )


@pytest.fixture(scope="module")
def searcher(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    settings = Settings(models_dir=models_dir)
    embedder = Embedder.from_settings(settings)
    store = QdrantEdgeStore.open(tmp_path_factory.mktemp("answers") / "qdrant")
    store.ensure_collection(embedder.dimension, embedder.identity)
    chunks = [
        chunk(1, "Le croiseur Colbert attendait le Président du Conseil à Dunkerque.",
              Level.DIFFUSION_RESTREINTE),
        chunk(2, "La récolte de blé a été abondante cette année dans la Beauce."),
    ]  # fmt: skip
    store.upsert(chunks, embedder.embed_passages([c.text for c in chunks]))
    yield Searcher(embedder, store, mode="hybrid")
    store.close()


@pytest.fixture(scope="module")
def llm(models_dir: Path) -> LocalLLM:
    return LocalLLM.from_settings(Settings(models_dir=models_dir))


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
