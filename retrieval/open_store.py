"""The configured store adapter, chosen from the settings (kept out of the interface,
so that `retrieval.store` knows no adapter)."""

from __future__ import annotations

from retrieval.store import IndexTuning, VectorStore
from vigie.config import Settings


def open_store(settings: Settings) -> VectorStore:
    """A Qdrant server when `qdrant_url` is set, else embedded Qdrant Edge."""
    tuning = IndexTuning.from_settings(settings)
    if settings.qdrant_url:
        from retrieval.qdrant_server import QdrantServerStore

        return QdrantServerStore.connect(
            settings.qdrant_url,
            api_key=settings.qdrant_api_key,
            collection=settings.collection,
            tuning=tuning,
        )
    from retrieval.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore.open(settings.store_path, tuning)
