"""`vigie eval`: score retrieval modes on a BEIR-layout set, side by side.

The set is chunked, embedded and stored through the ingestion code into a
throw-away store (the archive's store is not touched); a document is scored by
its best chunk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.evaluate import index_eval_set, run_mode
from retrieval.embedder import Embedder
from retrieval.evaluation import EvalSet, ModeResult
from retrieval.qdrant_edge import QdrantEdgeStore
from retrieval.search import Searcher
from vigie.config import Settings


@dataclass(frozen=True)
class EvalReport:
    folder: str
    queries: int
    documents: int
    chunks: int
    embedder: str
    long_documents: bool
    default_mode: str
    modes: list[ModeResult]

    def to_dict(self) -> dict:
        return {
            "folder": self.folder,
            "queries": self.queries,
            "documents": self.documents,
            "chunks": self.chunks,
            "embedder": self.embedder,
            "long_documents": self.long_documents,
            "default_mode": self.default_mode,
            "modes": [m.to_dict() for m in self.modes],
        }


def evaluate(
    settings: Settings,
    folder: Path,
    queries: Path | None,
    modes: Sequence[str],
    long_documents: bool,
) -> EvalReport:
    eval_set = EvalSet.load(folder, queries)
    if long_documents:
        eval_set = eval_set.long_documents()
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="vigie-eval-") as tmp:
        store = QdrantEdgeStore.open(Path(tmp) / "qdrant")
        try:
            chunks = index_eval_set(eval_set, settings, embedder, store)
            searcher = Searcher.from_settings(settings, embedder, store)
            results = [run_mode(mode, eval_set, searcher) for mode in modes]
        finally:
            store.close()
    return EvalReport(
        folder=str(folder),
        queries=len(eval_set.queries),
        documents=len(eval_set.corpus),
        chunks=chunks,
        embedder=settings.resolved_embedder_path.name,
        long_documents=long_documents,
        default_mode=settings.search_mode,
        modes=results,
    )
