"""Search: embed a query, ask the store with the reader's clearance.

`Searcher` is the plain-Python core; `ArchiveRetriever` exposes it to
llama-index as a retriever, numbering the sources in rank order so that the
answer can cite them as [1], [2], ...
"""

from __future__ import annotations

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from retrieval.embedder import Embedder
from retrieval.store import SEARCH_MODES, SearchFilter, VectorStore
from vigie.contracts import Clearance, Hit


class Searcher:
    """Search by meaning, by words, or both ("dense", "sparse", "hybrid": the default)."""

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        mode: str = "hybrid",
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        if mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode {mode!r} (known: {', '.join(SEARCH_MODES)})")
        self.embedder = embedder
        self.store = store
        self.mode = mode
        self.weights = weights  # of the dense and the sparse ranking in hybrid fusion

    def search(
        self,
        query: str,
        clearance: Clearance,
        limit: int = 5,
        mode: str | None = None,
        where: SearchFilter | None = None,
    ) -> list[Hit]:
        query = " ".join(query.split())
        if not query:
            return []
        mode = mode or self.mode
        vector = None if mode == "sparse" else self.embedder.embed_query(query)
        return self.store.search(
            vector, clearance, limit=limit, text=query, mode=mode, weights=self.weights, where=where
        )


def _fence(text: str) -> str:
    """A passage cannot close its own fence (documents are data, not instructions)."""
    return text.replace("<extrait", "‹extrait").replace("</extrait", "‹/extrait")


def _attr(value: str) -> str:
    return value.replace('"', "'").replace("<", "‹").replace(">", "›")


def hit_to_node(hit: Hit, number: int) -> NodeWithScore:
    """A llama-index node whose text, as the LLM sees it, is a numbered, fenced passage."""
    chunk = hit.chunk
    node = TextNode(
        id_=chunk.chunk_id,
        text=(
            f'<extrait n="{number}" document="{_attr(chunk.file_name)}" page="{chunk.page}">\n'
            f"{_fence(chunk.text)}\n</extrait>"
        ),
        metadata={
            "source": number,
            "document": chunk.file_name,
            "page": chunk.page,
            "level": chunk.level.label,
            "chunk_id": chunk.chunk_id,
        },
        excluded_llm_metadata_keys=["source", "document", "page", "level", "chunk_id"],
        excluded_embed_metadata_keys=["source", "document", "page", "level", "chunk_id"],
    )
    return NodeWithScore(node=node, score=hit.score)


class ArchiveRetriever(BaseRetriever):
    """A llama-index retriever over Vigie's store, bound to one reader's clearance."""

    def __init__(self, searcher: Searcher, clearance: Clearance, top_k: int = 5) -> None:
        super().__init__()
        self._searcher = searcher
        self._clearance = clearance
        self._top_k = top_k
        self.last_hits: list[Hit] = []

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.last_hits = self._searcher.search(
            query_bundle.query_str, self._clearance, limit=self._top_k
        )
        return [hit_to_node(hit, n) for n, hit in enumerate(self.last_hits, start=1)]
