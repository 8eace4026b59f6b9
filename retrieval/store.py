"""The store interface: what ingestion writes through and search reads through.

Two adapters implement it: `QdrantEdgeStore` (embedded, the default) and
`QdrantServerStore` (a Qdrant server through qdrant-client, or qdrant-client's
local mode in tests). `retrieval.open_store.open_store(settings)` picks one from the
configuration.

Every read takes a `Clearance`: the level and caveat filter is added to the
Qdrant query itself, never applied afterwards. The rule and the shape of each
query are written once (`retrieval.query_plan`); each adapter only translates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol, get_args

from vigie.config import Fusion, SearchMode, Settings
from vigie.contracts import Chunk, Clearance, Hit, Level, day_number
from vigie.errors import Unavailable

# The first stages; each may be followed by "+rerank" (`vigie.config.SearchMode`).
SEARCH_MODES = tuple(m for m in get_args(SearchMode) if "+" not in m)
# How a hybrid query fuses its dense and sparse candidates, inside Qdrant:
# "dbsf" normalises each list's scores by its own spread (mean +/- 3 sigma) and adds
# them; "rrf" adds 1 / (k + rank). Measured on piaf-fr, DBSF keeps more of each
# side's confidence (MRR@10 0.847 vs 0.830): see the README's retrieval figures.
FUSIONS: tuple[str, ...] = get_args(Fusion)
FUSION_K = 60  # reciprocal rank fusion's k (the usual 60)


@dataclass(frozen=True)
class IndexTuning:
    """How the dense index is built and searched (measured by bench/search.py at 1M chunks).

    `hnsw_ef`: candidates the graph search keeps (more: better recall, slower).
    `acorn`: for filters that keep few points (under 40%), Qdrant's ACORN walks the
    graph through filtered-out neighbours too; without it, a narrow filter (one
    language and one element type, 2% of a million chunks) loses half its recall.
    `quantization`: "int8" stores a scalar-quantised copy of the vectors, searched
    first, then `oversampling` x the candidates are rescored on the float vectors;
    set when the collection is created.
    """

    hnsw_ef: int = 128
    acorn: bool = True
    quantization: str = "none"  # or "int8"
    oversampling: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexTuning:
        return cls(settings.hnsw_ef, settings.acorn, settings.quantization)


DEFAULT_TUNING = IndexTuning()


FUSION_DEPTH = 100


def candidates(limit: int) -> int:
    """How many chunks each side of a hybrid query brings to the fusion.

    Fixed rather than grown with `limit`: DBSF normalises each side by the spread
    of the scores it brings, so a deeper list would change every fused score, and
    `vigie eval` (which asks for 100) would measure another ranking than a reader's
    search (which asks for 20).
    """
    return max(FUSION_DEPTH, limit)


@dataclass(frozen=True)
class SearchFilter:
    """What a reader asks to narrow a search to, on top of the clearance.

    Applied inside the Qdrant query (on indexed payload fields), never after it.
    Every field narrows: an empty tuple or None means "no restriction" on it.

    `caveats`: only passages carrying at least one of these caveats. The clearance's
    own caveat filter still applies on top, so naming a caveat the reader does not
    hold finds nothing more: a filter never widens access.
    `document_ids`: only passages of these documents (a document type, an ingestion
    batch: the ledger knows which documents those are). An empty tuple is no
    restriction, so a caller whose selection matched no document must not pass it
    as is: it uses `only_documents(ids)`, which sets `matches_nothing` when `ids` is
    empty. `matches_nothing`: the search finds nothing, without querying the store.
    """

    document_id: str | None = None
    languages: tuple[str, ...] = ()  # "fr", "en"
    element_types: tuple[str, ...] = ()  # "NarrativeText", "Title", "Table", ...
    max_level: Level | None = None  # at most this level (never above the clearance)
    date_from: date | None = None  # documents dated on or after this day
    date_to: date | None = None  # documents dated on or before this day (undated ones drop out)
    caveats: tuple[str, ...] = ()  # at least one of these ("SPÉCIAL FRANCE", ...)
    document_ids: tuple[str, ...] = ()  # one of these documents (their SHA-256)
    matches_nothing: bool = False  # an empty selection: nothing can match

    def only_documents(self, document_ids: Sequence[str]) -> SearchFilter:
        """This filter kept to `document_ids`; none at all (an empty selection) matches nothing."""
        ids = tuple(dict.fromkeys(document_ids))
        return replace(self, document_ids=ids, matches_nothing=self.matches_nothing or not ids)

    def level_cap(self, clearance: Clearance) -> int:
        if self.max_level is None:
            return int(clearance.level)
        return min(int(clearance.level), int(self.max_level))

    def day_range(self) -> tuple[int | None, int | None] | None:
        """The date bounds as the integers the payload holds (19940312), or None if unbounded."""
        if self.date_from is None and self.date_to is None:
            return None
        return day_number(self.date_from), day_number(self.date_to)

    def for_lexical(self, languages: Sequence[str]) -> SearchFilter | None:
        """This filter for the sparse side of a hybrid query, kept to `languages`.

        Words only match words of the same language: the sparse side of a query
        asked in English is limited to English passages, so it cannot push
        French passages that merely share a name or a number above the ones the
        dense side found across languages. None: nothing left to search.
        """
        if not languages:
            return self
        kept = tuple(lang for lang in languages if not self.languages or lang in self.languages)
        return replace(self, languages=kept) if kept else None


@dataclass(frozen=True)
class SparseQuery:
    """A sparse vector (stem indices and weights), computed by the caller like a dense one
    (`retrieval.lexical.query_vector` for a query)."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    @classmethod
    def of(cls, pair: tuple[Sequence[int], Sequence[float]]) -> SparseQuery:
        return cls(tuple(pair[0]), tuple(pair[1]))


class StoreError(Unavailable):
    """The store could not be opened or used; the message says why and what to do."""


class VectorStore(Protocol):
    def ensure_collection(self, dimension: int, embedder: str = "") -> None:
        """Create the collection (dense vector of `dimension`, sparse slot, payload indexes).

        `embedder` (an `Embedder.identity`) is recorded at creation; an existing
        collection built with another embedder, or holding chunks from an unrecorded
        one, raises `StoreError` (its vectors would be compared with foreign ones).
        """

    def built_with(self) -> str | None:
        """The embedder identity recorded at creation, if any."""

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

    def optimize(self) -> bool:
        """Merge segments and build the vector index now (after a bulk load); True if
        anything changed. A Qdrant server does this by itself: False."""

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
        sparse: SparseQuery | None = None,
        mode: str = "dense",
        where: SearchFilter | None = None,
        fusion: str = "dbsf",
        lexical_languages: Sequence[str] = (),
    ) -> list[Hit]:
        """Chunks the clearance (and `where`) allows, best first (higher score is better).

        `mode`: "dense" (nearest `vector`), "sparse" (nearest `sparse`: the query's stems), or
        "hybrid" (both, prefetched under the same filter and fused inside one Qdrant
        query by `fusion`). `lexical_languages` limits the sparse side to passages in
        those languages (see `SearchFilter.for_lexical`). A `where` that
        `matches_nothing` gives an empty list.
        """

    def count(self, clearance: Clearance, document_id: str | None = None) -> int:
        """How many chunks the clearance allows (optionally of one document)."""

    def document_chunks(self, document_id: str, clearance: Clearance) -> list[Chunk]:
        """Every chunk of one document that the clearance allows, in `chunk_index` order.

        The same clearance filter as `search`, inside the scroll's own filter; pending
        chunks are left out. A document the reader may not see gives an empty list.
        """

    def close(self) -> None:
        """Flush and release the store (the embedded store holds a lock while open)."""


def check_embedder(recorded: str | None, embedder: str, where: str, has_chunks: bool) -> None:
    """Raise `StoreError` unless a store built with `recorded` may take `embedder`'s vectors."""
    if not embedder or recorded == embedder:
        return
    if recorded is None and not has_chunks:
        return
    built = f"with {recorded}" if recorded else "before Vigie recorded its embedder"
    raise StoreError(
        f"the store at {where} was built {built}, but the configured embedder is {embedder}: "
        "their vectors cannot be compared. Configure the embedder the store was built with "
        "(EMBEDDER_PATH), or ingest again into a new store (another HOME or COLLECTION)"
    )
