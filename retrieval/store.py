"""The store interface: what ingestion writes through and search reads through.

Two adapters implement it: `QdrantEdgeStore` (embedded, the default) and
`QdrantServerStore` (a Qdrant server through qdrant-client, or qdrant-client's
local mode in tests). `open_store(settings)` picks one from the configuration.

Every read takes a `Clearance`: the level and caveat filter is added to the
Qdrant query itself by each adapter, never applied afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vigie.config import Settings
from vigie.contracts import Chunk, Clearance, Hit, Level

SEARCH_MODES = ("dense", "sparse", "hybrid")
FUSION_K = 60  # reciprocal rank fusion's k (the usual 60)


def candidates(limit: int) -> int:
    """How many chunks each side of a hybrid query brings to the fusion."""
    return max(50, limit * 4)


@dataclass(frozen=True)
class SearchFilter:
    """What a reader asks to narrow a search to, on top of the clearance.

    Applied inside the Qdrant query (on indexed payload fields), never after it.
    """

    document_id: str | None = None
    languages: tuple[str, ...] = ()  # "fr", "en"
    element_types: tuple[str, ...] = ()  # "NarrativeText", "Title", "Table", ...
    max_level: Level | None = None  # at most this level (never above the clearance)

    def level_cap(self, clearance: Clearance) -> int:
        if self.max_level is None:
            return int(clearance.level)
        return min(int(clearance.level), int(self.max_level))


class StoreError(RuntimeError):
    """The store could not be opened or used; the message says why and what to do."""


class VectorStore(Protocol):
    def ensure_collection(self, dimension: int) -> None:
        """Create the collection (dense vector of `dimension`, sparse slot, payload indexes)."""

    def upsert(
        self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], pending: bool = False
    ) -> None:
        """Insert or replace chunks by their deterministic chunk id.

        `pending=True` writes them invisible to every read until `publish`.
        """

    def publish(
        self, document_id: str, level: int, level_label: str, caveats: Sequence[str]
    ) -> None:
        """Make a document's pending chunks visible, with its final level and caveats."""

    def delete_document(self, document_id: str) -> None:
        """Remove every chunk of one document, pending or not."""

    def chunk_count(self) -> int:
        """Every chunk in the store, whatever its level, pending ones included."""

    def export(self) -> list[tuple[str, dict]]:
        """Every chunk as (chunk id, payload), sorted by id: for checks and tests, not search."""

    def search(
        self,
        vector: Sequence[float] | None,
        clearance: Clearance,
        limit: int = 5,
        document_id: str | None = None,
        text: str | None = None,
        mode: str = "dense",
        weights: tuple[float, float] = (1.0, 1.0),
        where: SearchFilter | None = None,
    ) -> list[Hit]:
        """Chunks the clearance (and `where`) allows, best first (higher score is better).

        `mode`: "dense" (nearest `vector`), "sparse" (lexical match of `text`), or
        "hybrid" (both, fused by reciprocal rank inside one Qdrant query, with `weights`
        for the dense and the sparse ranking).
        """

    def count(self, clearance: Clearance, document_id: str | None = None) -> int:
        """How many chunks the clearance allows (optionally of one document)."""

    def close(self) -> None:
        """Flush and release the store (the embedded store holds a lock while open)."""


def open_store(settings: Settings) -> VectorStore:
    """The configured adapter: a Qdrant server when `qdrant_url` is set, else Qdrant Edge."""
    if settings.qdrant_url:
        from retrieval.qdrant_server import QdrantServerStore

        return QdrantServerStore.connect(
            settings.qdrant_url, api_key=settings.qdrant_api_key, collection=settings.collection
        )
    from retrieval.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore.open(settings.store_path)
