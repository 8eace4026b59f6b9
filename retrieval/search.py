"""Search: embed a query, ask the store with the reader's clearance.

`Searcher` is the plain-Python core; `ArchiveRetriever` exposes it to
llama-index as a retriever, numbering the sources in rank order so that the
answer can cite them as [1], [2], ...
"""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from retrieval.embedder import Embedder
from retrieval.lexical import query_vector
from retrieval.prompts import fence
from retrieval.rerank import Reranker, SentenceFocusReranker, build_reranker
from retrieval.store import SearchFilter, SparseQuery, VectorStore, check_embedder
from vigie.config import SearchMode, Settings
from vigie.contracts import Chunk, Clearance, Hit
from vigie.errors import InputError
from vigie.language import confident_language

RERANK = "+rerank"


MODES: tuple[str, ...] = get_args(SearchMode)  # the first stages, each with +rerank too


class Searcher:
    """Search by meaning, by words, or both, optionally reranked.

    Modes: "dense", "sparse", "hybrid" (both, fused inside Qdrant), each with an
    optional "+rerank" second stage over the first `rerank_depth` candidates.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        mode: str = "hybrid+rerank",
        fusion: str = "dbsf",
        reranker: Reranker | None = None,
        rerank_depth: int = 20,
    ) -> None:
        check_mode(mode)
        self.embedder = embedder
        self.store = store
        self.mode = mode
        self.fusion = fusion
        self.reranker = reranker
        self.rerank_depth = rerank_depth

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder, store: VectorStore) -> Searcher:
        """The configured searcher; `StoreError` if the store was built with another embedder."""
        has_chunks = store.chunk_count() > 0
        check_embedder(store.built_with(), embedder.identity, "the configured store", has_chunks)
        reranker = build_reranker(settings, embedder) if RERANK in settings.search_mode else None
        return cls(
            embedder,
            store,
            mode=settings.search_mode,
            fusion=settings.fusion,
            reranker=reranker,
            rerank_depth=settings.rerank_depth,
        )

    def search(
        self,
        query: str,
        clearance: Clearance,
        limit: int = 5,
        mode: str | None = None,
        where: SearchFilter | None = None,
        vector: list[float] | None = None,
    ) -> list[Hit]:
        """`vector`: the query's vector when the caller has it already (it travels with
        the request; the embedder keeps nothing between requests)."""
        query = " ".join(query.split())
        if not query:
            return []
        mode = check_mode(mode or self.mode)
        first_stage, rerank = mode.removesuffix(RERANK), mode.endswith(RERANK)
        depth = max(limit, self.rerank_depth) if rerank else limit
        if vector is None and (first_stage != "sparse" or rerank):
            vector = self.embedder.embed_query(query)
        language = confident_language(query)
        hits = self.store.search(
            None if first_stage == "sparse" else vector,
            clearance,
            limit=depth,
            sparse=SparseQuery.of(query_vector(query)) if first_stage != "dense" else None,
            mode=first_stage,
            where=where,
            fusion=self.fusion,
            lexical_languages=(language,) if language else (),
        )
        if rerank:
            assert vector is not None
            hits = self._rerank(query, vector, hits)
        return hits[:limit]

    def sentence_vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Each sentence's passage vector: from the sentence reranker's cache when it
        has scored them already (it has, for the candidates of the last search)."""
        if isinstance(self.reranker, SentenceFocusReranker):
            return self.reranker.sentence_vectors(texts)
        unique = list(dict.fromkeys(texts))
        vectors = self.embedder.embed_passages(unique) if unique else []
        return {t: np.asarray(v, dtype=np.float32) for t, v in zip(unique, vectors, strict=True)}

    def _rerank(self, query: str, vector: list[float], hits: list[Hit]) -> list[Hit]:
        """Rerank the first `rerank_depth` hits; any further ones follow in their first-stage
        order, scored just below the last reranked one."""
        if self.reranker is None:
            self.reranker = SentenceFocusReranker(self.embedder)
        head = self.reranker.rerank(query, hits[: self.rerank_depth], vector)
        floor = min((h.score for h in head), default=0.0)
        tail = hits[self.rerank_depth :]
        return head + [Hit(h.chunk, floor - (n + 1) * 1e-6) for n, h in enumerate(tail)]


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"unknown search mode {mode!r} (known: {', '.join(MODES)})")
    return mode


def hit_to_node(hit: Hit, number: int) -> NodeWithScore:
    """A llama-index node whose text, as the LLM sees it, is a numbered, fenced passage."""
    chunk = hit.chunk
    node = TextNode(
        id_=chunk.chunk_id,
        text=fence(
            chunk.text,
            n=number,
            document=chunk.file_name,
            page=chunk.page,
            niveau=chunk.level.label,
        ),  # fmt: skip
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

    def __init__(
        self,
        searcher: Searcher,
        clearance: Clearance,
        top_k: int = 5,
        vector: list[float] | None = None,
    ) -> None:
        super().__init__()
        self._searcher = searcher
        self._clearance = clearance
        self._top_k = top_k
        self._vector = vector  # the question's vector, computed once by the caller
        self.last_hits: list[Hit] = []

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._searcher.search(
            query_bundle.query_str, self._clearance, limit=self._top_k, vector=self._vector
        )
        self.last_hits = merge_neighbours(hits)
        return [hit_to_node(hit, n) for n, hit in enumerate(self.last_hits, start=1)]


def merge_neighbours(hits: list[Hit]) -> list[Hit]:
    """The sources as the model gets them: best first, duplicates dropped, and chunks that
    follow each other on the same page of a document joined into one source (at the rank
    of the better one), so a passage cut in two reads whole and is cited once."""
    groups: list[list[Hit]] = []
    seen_texts: set[str] = set()
    for hit in hits:
        text = " ".join(hit.chunk.text.split())
        if text in seen_texts:
            continue
        seen_texts.add(text)
        for group in groups:
            if _next_to(group, hit.chunk):
                group.append(hit)
                break
        else:
            groups.append([hit])
    return [_joined(group) for group in groups]


def _next_to(group: list[Hit], chunk: Chunk) -> bool:
    first = group[0].chunk
    if first.document_id != chunk.document_id or first.page != chunk.page:
        return False
    indexes = [h.chunk.chunk_index for h in group]
    return chunk.chunk_index in (min(indexes) - 1, max(indexes) + 1)


def _joined(group: list[Hit]) -> Hit:
    """One source from neighbouring chunks, in reading order, scored as the best of them."""
    if len(group) == 1:
        return group[0]
    ordered = sorted((h.chunk for h in group), key=lambda c: c.chunk_index)
    chunk = replace(
        ordered[0],
        text="\n".join(c.text for c in ordered),
        level=max(c.level for c in ordered),
        caveats=tuple(sorted({caveat for c in ordered for caveat in c.caveats})),
    )
    return Hit(chunk, group[0].score)
