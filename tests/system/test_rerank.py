"""The second stage: sentence-focus reranking (no extra model) and a local cross-encoder."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedder import Embedder
from retrieval.qdrant_edge import QdrantEdgeStore
from retrieval.rerank import (
    CrossEncoderReranker,
    SentenceFocusReranker,
    build_reranker,
    sentences,
    spread_normalised,
)
from retrieval.search import Searcher
from vigie.config import Settings
from vigie.contracts import Chunk, Clearance, Hit, Level
from vigie.models import MULTILINGUAL_EMBEDDER_DIR, ModelError, sha256_of

PUBLIC = Clearance(Level.NON_PROTEGE)


def chunk(document_id: str, text: str, language: str = "fr") -> Chunk:
    return Chunk(
        document_id=document_id,
        chunk_index=0,
        text=text,
        file_name=f"{document_id}.pdf",
        source_path=f"/archives/{document_id}.pdf",
        sha256=document_id,
        page=1,
        element_type="NarrativeText",
        language=language,
        level=Level.NON_PROTEGE,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Une phrase assez longue pour compter. Une autre phrase assez longue ici.",
         ["Une phrase assez longue pour compter.", "Une autre phrase assez longue ici."]),
        ("Court. Encore court. Puis une phrase bien plus longue que les autres.",
         ["Court. Encore court. Puis une phrase bien plus longue que les autres."]),
        ("Ligne de titre assez longue\nUne seconde ligne assez longue aussi",
         ["Ligne de titre assez longue", "Une seconde ligne assez longue aussi"]),
        ("Un seul bout", ["Un seul bout"]),
        ("", []),
    ],
)  # fmt: skip
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_spread_normalisation_maps_three_sigma_to_the_unit_range() -> None:
    values = spread_normalised([1.0, 2.0, 3.0])
    sigma = np.std([1.0, 2.0, 3.0])
    assert values[1] == pytest.approx(0.5)
    assert values[2] - values[0] == pytest.approx(2 / (6 * sigma))
    assert spread_normalised([4.0, 4.0]).tolist() == [0.5, 0.5]


def test_sentence_focus_lifts_the_passage_whose_sentence_answers(embedder: Embedder) -> None:
    filler = " ".join(
        f"Le comité s'est réuni une {n}e fois pour examiner les questions budgétaires."
        for n in range(2, 8)
    )
    answer = chunk("reponse", f"{filler} Le croiseur Colbert attendait le Président à Dunkerque.")
    vague = chunk("vague", "Les navires de la flotte attendaient des ordres dans plusieurs ports.")
    others = [
        chunk("ble", "La récolte de blé a été abondante cette année dans la Beauce."),
        chunk("traite", "Le traité fut signé à Versailles en juin 1919 par les délégations."),
    ]
    # The first stage put the vague passage first and the answer second.
    hits = [Hit(vague, 1.0), Hit(answer, 0.9), Hit(others[0], 0.5), Hit(others[1], 0.45)]
    reranked = SentenceFocusReranker(embedder).rerank(
        "Quel croiseur attendait le Président à Dunkerque ?", hits
    )
    assert [h.chunk.document_id for h in reranked][:2] == ["reponse", "vague"]
    assert reranked[0].score > reranked[1].score


def test_a_long_documents_chunks_stay_chunk_hits_its_answer_first(embedder: Embedder) -> None:
    """A document of several chunks among the candidates: every chunk comes back as its own
    hit (the answer path cites chunks, not documents), the one whose sentence answers
    leads, and the document's other chunks are not lifted with it (no document share:
    on piaf-fr's long documents it gained nothing, see SentenceFocusReranker)."""
    texts = [
        "Le rapport annuel décrit l'organisation des services portuaires de Brest.",
        "Les bassins de radoub furent agrandis en 1912 pour les cuirassés.",
        "Le croiseur Colbert attendait le Président du Conseil à Dunkerque.",
        "Les dépenses de fonctionnement ont augmenté de huit pour cent.",
    ]
    long_doc = [replace(chunk("rapport", t), chunk_index=n) for n, t in enumerate(texts)]
    vague = chunk("vague", "Les navires de la flotte attendaient des ordres dans plusieurs ports.")
    other = chunk("ble", "La récolte de blé a été abondante cette année dans la Beauce.")
    # The first stage put the answering chunk of the long document third.
    hits = [Hit(vague, 1.0), Hit(long_doc[0], 0.95), Hit(long_doc[2], 0.9), Hit(other, 0.6),
            Hit(long_doc[1], 0.55), Hit(long_doc[3], 0.5)]  # fmt: skip
    reranked = SentenceFocusReranker(embedder).rerank(
        "Quel croiseur attendait le Président à Dunkerque ?", hits
    )
    keys = [(h.chunk.document_id, h.chunk.chunk_index) for h in reranked]
    assert sorted(keys) == sorted((h.chunk.document_id, h.chunk.chunk_index) for h in hits)
    # The answer leads; the document's other chunks are scored on their own evidence.
    assert keys[:3] == [("rapport", 2), ("vague", 0), ("rapport", 0)]
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)


def test_sentence_vectors_are_cached_and_bounded(embedder: Embedder) -> None:
    reranker = SentenceFocusReranker(embedder, cache_sentences=3)
    hits = [
        Hit(chunk(f"d{i}", f"Phrase numéro {i} du rapport annuel."), 1.0 / (i + 1))
        for i in range(5)
    ]
    calls: list[int] = []
    original = embedder.embed_passages

    def counting(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        return original(texts)

    embedder.embed_passages = counting  # type: ignore[method-assign]
    try:
        reranker.rerank("rapport annuel", hits[:2])
        reranker.rerank("rapport annuel", hits[:2])  # both sentences cached
        reranker.rerank("rapport annuel", hits)  # three new, the cache keeps the last three
    finally:
        del embedder.embed_passages
    assert calls == [2, 3]
    assert len(reranker._cache) == 3


def test_search_modes_with_rerank_go_through_the_store_clearance(
    embedder: Embedder, tmp_path: Path
) -> None:
    store = QdrantEdgeStore.open(tmp_path / "qdrant")
    store.ensure_collection(embedder.dimension)
    chunks = [
        chunk("colbert", "Le croiseur Colbert attendait le Président du Conseil à Dunkerque."),
        chunk("ble", "La récolte de blé a été abondante cette année dans la Beauce."),
        chunk("secret", "Le croiseur Colbert transportait des documents chiffrés."),
    ]
    chunks[2].level = Level.SECRET
    store.upsert(chunks, embedder.embed_passages([c.text for c in chunks]))
    searcher = Searcher(embedder, store)
    try:
        for mode in ("dense+rerank", "sparse+rerank", "hybrid+rerank", "hybrid"):
            hits = searcher.search("Quel croiseur attendait à Dunkerque ?", PUBLIC, 5, mode=mode)
            assert hits[0].chunk.document_id == "colbert", mode
            assert "secret" not in {h.chunk.document_id for h in hits}, mode
        english = searcher.search("Which cruiser waited at Dunkirk?", PUBLIC, 5)
        assert english[0].chunk.document_id == "colbert"
        with pytest.raises(ValueError, match="unknown search mode"):
            searcher.search("x", PUBLIC, mode="hybrid+magic")
    finally:
        store.close()


@pytest.fixture(scope="module")
def cross_encoder_dir(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real cross-encoder directory: the e5 encoder with a fresh one-score head.

    No reranker weights ship on PyPI, so its scores mean nothing; this checks the
    adapter (local load, checksums, ordering by the model's own scores).
    """
    from sentence_transformers import CrossEncoder

    target = tmp_path_factory.mktemp("cross") / "cross-encoder"
    model = CrossEncoder(str(models_dir / MULTILINGUAL_EMBEDDER_DIR), num_labels=1)
    model.save(str(target))
    files = sorted(p for p in target.rglob("*") if p.is_file())
    lines = [f"{sha256_of(p)}  {p.relative_to(target)}\n" for p in files]
    (target / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return target


def test_cross_encoder_orders_by_its_own_scores(cross_encoder_dir: Path) -> None:
    reranker = CrossEncoderReranker(cross_encoder_dir)
    texts = ["Le croiseur Colbert.", "La récolte de blé.", "Le traité de Versailles."]
    hits = [Hit(chunk(f"d{i}", t), 1.0) for i, t in enumerate(texts)]
    reranked = reranker.rerank("Quel croiseur ?", hits)
    expected = reranker._model.predict([("Quel croiseur ?", t) for t in texts])
    assert [h.chunk.text for h in reranked] == [texts[i] for i in np.argsort(-expected)]
    assert [h.score for h in reranked] == pytest.approx(sorted(expected.tolist(), reverse=True))


def test_reranker_choice_follows_the_configuration(
    cross_encoder_dir: Path, embedder: Embedder, models_dir: Path, tmp_path: Path
) -> None:
    assert isinstance(
        build_reranker(Settings(models_dir=models_dir), embedder), SentenceFocusReranker
    )
    settings = Settings(models_dir=models_dir, reranker_path=cross_encoder_dir)
    assert isinstance(build_reranker(settings, embedder), CrossEncoderReranker)
    tampered = tmp_path / "tampered"
    shutil.copytree(cross_encoder_dir, tampered)
    (tampered / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="config.json"):
        CrossEncoderReranker(tampered)
