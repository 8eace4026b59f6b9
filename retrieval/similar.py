"""Documents close to one document, within the reader's clearance ("find similar").

The document is represented by the mean of up to `SAMPLED` of its passages' vectors,
taken evenly from start to end; the store's dense search (under the reader's
clearance filter, like every read) finds the nearest passages, which are grouped by
document, each scored by its best passage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.embedder import Embedder
from retrieval.store import VectorStore
from vigie.contracts import Chunk, Clearance, Level

SAMPLED = 8  # passages that stand for the document
DEPTH = 60  # nearest passages read to find `limit` other documents


@dataclass(frozen=True)
class SimilarDocument:
    document_id: str
    file_name: str
    score: float  # cosine similarity of its best passage to the document's mean vector
    page: int  # the page of that passage
    level: Level
    caveats: tuple[str, ...]


def sample(chunks: Sequence[Chunk], count: int = SAMPLED) -> list[Chunk]:
    """Up to `count` chunks spread evenly over the document."""
    if len(chunks) <= count:
        return list(chunks)
    step = len(chunks) / count
    return [chunks[int(i * step)] for i in range(count)]


def mean_vector(vectors: Sequence[Sequence[float]]) -> list[float]:
    dims = len(vectors[0])
    mean = [sum(v[i] for v in vectors) / len(vectors) for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in mean)) or 1.0
    return [x / norm for x in mean]


def similar_documents(
    chunks: Sequence[Chunk],
    embedder: Embedder,
    store: VectorStore,
    clearance: Clearance,
    limit: int = 5,
) -> list[SimilarDocument]:
    """The `limit` documents nearest to the one `chunks` come from, best first (never
    that document itself, never one above `clearance`)."""
    if not chunks:
        return []
    own = chunks[0].document_id
    vectors = embedder.embed_passages([c.text for c in sample(chunks)])
    hits = store.search(mean_vector(vectors), clearance, limit=DEPTH, mode="dense")
    best: dict[str, SimilarDocument] = {}
    for hit in hits:
        chunk = hit.chunk
        if chunk.document_id == own or chunk.document_id in best:
            continue  # hits come best first: the first one of a document is its best
        best[chunk.document_id] = SimilarDocument(
            chunk.document_id, chunk.file_name, hit.score, chunk.page, chunk.level, chunk.caveats
        )
        if len(best) == limit:
            break
    return list(best.values())
