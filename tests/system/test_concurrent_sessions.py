"""No state shared between users' requests: two sessions asking at once each get their
own hits, and the shared embedder keeps nothing of a query once it has answered."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from app.services import Services
from app.session import Session
from retrieval.embedder import Embedder
from retrieval.search import Searcher
from tests.conftest import make_chunk
from vigie.contracts import Chunk, Clearance, Level
from vigie.users import Role, User

CHUNKS = [
    make_chunk("convoi", "Le convoi de ravitaillement quitte Brest le 3 mai à l'aube."),
    make_chunk("croiseur", "Le croiseur attend le Président du Conseil à Dunkerque."),
    make_chunk("budget", "Le budget de la deuxième section s'élève à trois millions."),
    make_chunk("secret", "Le plan d'évacuation secret passe par Toulon.", Level.SECRET),
    make_chunk("hangar", "Les avions sont rangés dans le hangar nord de la base."),
]
QUESTIONS = {
    "public": ("Quand part le convoi de Brest ?", Clearance(Level.NON_PROTEGE)),
    "secret": ("Par où passe le plan d'évacuation ?", Clearance(Level.SECRET)),
}


def test_the_embedder_keeps_nothing_of_a_query(embedder: Embedder) -> None:
    before = copy.copy(vars(embedder))
    first = embedder.embed_query("Quand part le convoi ?")
    embedder.embed_query("Qui attend à Dunkerque ?")
    assert vars(embedder).keys() == before.keys()
    assert all(vars(embedder)[k] is v for k, v in before.items())
    assert embedder.embed_query("Quand part le convoi ?") == pytest.approx(first, abs=1e-6)


def test_two_sessions_asking_at_once_get_their_own_hits(
    small_archive: Callable[[list[Chunk]], Searcher],
) -> None:
    searcher = small_archive(CHUNKS)
    searcher.mode = "dense+rerank"  # the query vector decides both stages
    alone = {
        who: [h.chunk.document_id for h in searcher.search(q, clearance, limit=3)]
        for who, (q, clearance) in QUESTIONS.items()
    }
    assert alone["public"] != alone["secret"]
    assert alone["public"][0] == "convoi" and alone["secret"][0] == "secret"
    got: dict[str, list[list[str]]] = {who: [] for who in QUESTIONS}
    start = threading.Barrier(len(QUESTIONS))

    def ask(who: str) -> None:
        question, clearance = QUESTIONS[who]
        start.wait()
        for _ in range(15):
            hits = searcher.search(question, clearance, limit=3)
            got[who].append([h.chunk.document_id for h in hits])

    threads = [threading.Thread(target=ask, args=(who,)) for who in QUESTIONS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for who, runs in got.items():
        assert len(runs) == 15 and all(run == alone[who] for run in runs), who
    assert not any("secret" in run for run in got["public"])


def test_two_signed_in_sessions_search_concurrently(tmp_path: Path, models_dir: Path) -> None:
    """The same through the application room: one `Services` (as the UI process holds
    it), two users of different clearances, at once."""
    from vigie.config import Settings

    services = Services(Settings(home=tmp_path / "home", models_dir=models_dir))
    try:
        store, embedder = services.store, services.embedder
        store.ensure_collection(embedder.dimension, embedder.identity)
        store.upsert(CHUNKS, embedder.embed_passages([c.text for c in CHUNKS]))
        sessions = {
            who: Session(services, User(who, Role.ANALYST, c.level, frozenset(), True), "test")
            for who, (_, c) in QUESTIONS.items()
        }
        results: dict[str, list[set[str]]] = {who: [] for who in QUESTIONS}
        start = threading.Barrier(len(QUESTIONS))

        def search(who: str) -> None:
            start.wait()
            for _ in range(5):
                hits = sessions[who].search(QUESTIONS[who][0], limit=2)
                results[who].append({h.chunk.document_id for h in hits})

        threads = [threading.Thread(target=search, args=(who,)) for who in QUESTIONS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert all("convoi" in found and "secret" not in found for found in results["public"])
        assert all("secret" in found for found in results["secret"])
        assert len(results["public"]) == len(results["secret"]) == 5
    finally:
        services.close()
