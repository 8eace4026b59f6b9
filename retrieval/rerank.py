"""Second-stage reranking of a search's first candidates (optional, switchable).

Two rerankers share one small interface, `rerank(query, hits) -> hits`:

- `SentenceFocusReranker` needs no extra model. A chunk holds several
  sentences and the question is usually answered by one of them, so each
  candidate is also scored by its sentence closest to the query (the same
  embedder, sentence vectors cached). The first-stage score and that sentence
  score are each normalised by their spread over the candidates (mean +/- 3
  sigma, as Qdrant's DBSF fusion does) and added.
- `CrossEncoderReranker` runs a sentence-transformers cross-encoder from a
  local directory, verified by its SHA256SUMS, and orders by its score.

`build_reranker(settings, embedder)` picks one from the configuration.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.citations import sentences
from retrieval.embedder import Embedder
from vigie.config import Settings
from vigie.contracts import Hit
from vigie.models import verify_embedder_dir

log = logging.getLogger(__name__)

RERANKERS = ("sentences", "cross-encoder")


class Reranker(Protocol):
    name: str

    def rerank(
        self, query: str, hits: Sequence[Hit], vector: list[float] | None = None
    ) -> list[Hit]:
        """The same hits, best first, with their new scores. `vector`: the query's, when
        the request has it already."""


def spread_normalised(scores: Sequence[float]) -> np.ndarray:
    """Scores mapped so that mean - 3 sigma -> 0 and mean + 3 sigma -> 1 (all 0.5 if flat)."""
    values = np.asarray(scores, dtype=np.float64)
    sigma = values.std()
    if values.size == 0 or sigma == 0:
        return np.full(values.shape, 0.5)
    return (values - values.mean() + 3 * sigma) / (6 * sigma)


class SentenceFocusReranker:
    """First-stage score + best-sentence cosine, each spread-normalised, equal weights.

    Returns the same chunk hits (never documents: the answer path cites chunks).
    Parameters chosen on `vigie eval ../shared/corpus/eval/piaf-fr` (hybrid first
    stage, 20 candidates; MRR@10 French / English, nDCG@10 on `--long-documents`,
    where each article's passages are one document of up to 30 chunks):

    - equal weights: French 0.859, English 0.810, long 0.960 (hybrid alone 0.845,
      0.770, 0.956; dense 0.780, 0.771, 0.925). First stage weighted 0.8 / 1.2:
      French 0.852 / 0.857, English 0.812 / 0.797.
    - tried on long documents, kept out for gaining nothing there (within one
      query of 300) while costing elsewhere or nothing: giving each chunk a share
      of its document's other candidates (0.05-0.3 of their sum: long 0.959-0.942;
      half its gap to the document's best first-stage plus best-sentence score:
      0.961), normalising over documents instead of chunks (0.960), and weighting
      the sentence score by its margin over the next candidate's (French 0.854-0.858).
    """

    name = "sentences"

    def __init__(self, embedder: Embedder, cache_sentences: int = 50_000) -> None:
        self.embedder = embedder
        # Sentence vectors by text, shared by every session of the process (the lock
        # keeps concurrent requests from evicting under each other's feet).
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_sentences
        self._lock = threading.Lock()

    def rerank(
        self, query: str, hits: Sequence[Hit], vector: list[float] | None = None
    ) -> list[Hit]:
        if len(hits) < 2:
            return list(hits)
        if vector is None:
            vector = self.embedder.embed_query(query)
        query_vector = np.asarray(vector, dtype=np.float32)
        per_hit = [sentences(hit.chunk.text) or [hit.chunk.text] for hit in hits]
        vectors = self._vectors([s for group in per_hit for s in group])
        best = [max(float(vectors[s] @ query_vector) for s in group) for group in per_hit]
        combined = spread_normalised([hit.score for hit in hits]) + spread_normalised(best)
        order = np.argsort(-combined, kind="stable")
        return [Hit(hits[i].chunk, float(combined[i])) for i in order]

    def sentence_vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Each text's passage vector, cached (the answer's quotes reuse them)."""
        return self._vectors(texts)

    def _vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Each text's vector, from the cache or embedded now (then cached, oldest evicted)."""
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            for text, vector in zip(missing, self.embedder.embed_passages(missing), strict=True):
                found[text] = np.asarray(vector, dtype=np.float32)
        with self._lock:
            for text, vector in found.items():
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found


class CrossEncoderReranker:
    name = "cross-encoder"

    def __init__(self, path: Path, device: str = "cpu", batch_size: int = 16) -> None:
        verify_embedder_dir(path)
        from sentence_transformers import CrossEncoder

        self.path = path
        self.batch_size = batch_size
        self._model = CrossEncoder(str(path), device=device, local_files_only=True)
        log.info("cross-encoder %s loaded", path.name)

    def rerank(
        self, query: str, hits: Sequence[Hit], vector: list[float] | None = None
    ) -> list[Hit]:
        if not hits:
            return []
        pairs = [(query, hit.chunk.text) for hit in hits]
        scores = self._model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        scores = np.asarray(scores, dtype=np.float64).reshape(len(hits), -1)[:, -1]
        order = np.argsort(-scores, kind="stable")
        return [Hit(hits[i].chunk, float(scores[i])) for i in order]


def build_reranker(settings: Settings, embedder: Embedder) -> Reranker:
    """The configured second stage: a cross-encoder if `reranker_path` is set, else sentences."""
    if settings.reranker_path is not None:
        return CrossEncoderReranker(settings.reranker_path, device=settings.embedder_device)
    return SentenceFocusReranker(embedder)
