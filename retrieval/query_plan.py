"""The store's query plan, written once: what a read asks of Qdrant, in neutral terms.

Every read of the store carries a clearance; the rule that turns it (and the
reader's own filters, and the pending state of half-ingested documents) into
conditions is `clearance_conditions`, here and nowhere else. `plan_search` decides
the shape of a search: dense only, sparse only, or both sides fused in Qdrant,
each with its filter and depth. The adapters (`qdrant_edge`, `qdrant_server`) only
translate a `Conditions` or a `SearchPlan` into their client's objects; they make
no decision of their own. Likewise `points` makes the points an upsert writes.

Vectors come from the caller: the dense one from the embedder, the sparse one
from `retrieval.lexical` (a query's stems; a passage's BM25 weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from retrieval.lexical import passage_vector
from retrieval.schema import DENSE_VECTOR, PENDING, SPARSE_VECTOR
from retrieval.store import FUSIONS, SearchFilter, SparseQuery, candidates
from vigie.config import Fusion
from vigie.contracts import Chunk, Clearance, Hit
from vigie.errors import InputError

ConditionKind = Literal["equals", "any_of", "only_these", "range"]


@dataclass(frozen=True)
class Condition:
    """One payload condition. `equals`: the field is `value`; `any_of`: one of
    `values`; `only_these`: no value outside `values` (an empty field passes);
    `range`: between `low` and `high` (None: unbounded)."""

    field: str
    kind: ConditionKind
    value: object = None
    values: tuple = ()
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Conditions:
    """Every `must` holds and no `must_not` does."""

    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Nearest:
    """The nearest points to one vector, under `conditions`. `tuned`: the dense index's
    search parameters apply (HNSW ef, quantisation, ACORN)."""

    using: str  # DENSE_VECTOR or SPARSE_VECTOR
    dense: tuple[float, ...] | None
    sparse: SparseQuery | None
    conditions: Conditions
    limit: int
    tuned: bool


@dataclass(frozen=True)
class SearchPlan:
    """One query: a single `Nearest`, or two `prefetches` fused by `fusion`, then
    `conditions` and `limit` on the result."""

    limit: int
    conditions: Conditions
    nearest: Nearest | None = None
    prefetches: tuple[Nearest, ...] = ()
    fusion: Fusion = "dbsf"


@dataclass(frozen=True)
class PointPlan:
    """One chunk as the store holds it: its id, both vectors and its payload."""

    point_id: str
    dense: list[float]
    sparse: SparseQuery
    payload: dict


def clearance_conditions(
    clearance: Clearance, document_id: str | None = None, where: SearchFilter | None = None
) -> Conditions:
    """Published, level at most the reader's, no caveat outside the reader's, and `where`."""
    where = where or SearchFilter()
    must = [Condition("level", "range", high=where.level_cap(clearance))]
    for document in (document_id, where.document_id):
        if document is not None:
            must.append(Condition("document_id", "equals", value=document))
    if where.document_ids:
        must.append(Condition("document_id", "any_of", values=tuple(where.document_ids)))
    if where.caveats:
        # At least one of these; the must_not below still drops any caveat outside the reader's.
        must.append(Condition("caveats", "any_of", values=tuple(where.caveats)))
    if where.languages:
        must.append(Condition("language", "any_of", values=tuple(where.languages)))
    if where.element_types:
        must.append(Condition("element_type", "any_of", values=tuple(where.element_types)))
    if (days := where.day_range()) is not None:
        must.append(Condition("document_date", "range", low=days[0], high=days[1]))
    # must_not "has a caveat other than these": chunks without caveats always pass.
    outside = Condition("caveats", "only_these", values=tuple(sorted(clearance.caveats)))
    pending = Condition(PENDING, "equals", value=1)
    return Conditions(must=tuple(must), must_not=(outside, pending))


def same_document(document_id: str) -> Conditions:
    """Every chunk of one document, pending or not (publish, delete)."""
    return Conditions(must=(Condition("document_id", "equals", value=document_id),))


def plan_search(
    dense: Sequence[float] | None,
    sparse: SparseQuery | None,
    clearance: Clearance,
    limit: int = 5,
    document_id: str | None = None,
    mode: str = "dense",
    where: SearchFilter | None = None,
    fusion: str = "dbsf",
    lexical_languages: Sequence[str] = (),
) -> SearchPlan | None:
    """The query for these vectors and filters; None when nothing can match (a selection
    of no document, or a sparse search with no known word)."""
    if fusion not in FUSIONS:
        raise InputError(f"unknown fusion {fusion!r} (known: {', '.join(FUSIONS)})")
    if where is not None and where.matches_nothing:
        return None
    allowed = clearance_conditions(clearance, document_id, where)
    dense_vector = None if dense is None else tuple(float(x) for x in dense)
    has_words = sparse is not None and bool(sparse.indices)
    if mode == "sparse" or dense_vector is None:
        if not has_words:
            return None
        side = Nearest(SPARSE_VECTOR, None, sparse, allowed, limit, tuned=False)
        return SearchPlan(limit, allowed, nearest=side)
    lexical_where = (where or SearchFilter()).for_lexical(lexical_languages)
    if mode == "hybrid" and has_words and lexical_where is not None:
        depth = candidates(limit)
        lexical = clearance_conditions(clearance, document_id, lexical_where)
        sides = (
            Nearest(DENSE_VECTOR, dense_vector, None, allowed, depth, tuned=True),
            Nearest(SPARSE_VECTOR, None, sparse, lexical, depth, tuned=False),
        )
        return SearchPlan(limit, allowed, prefetches=sides, fusion=fusion)  # type: ignore[arg-type]
    side = Nearest(DENSE_VECTOR, dense_vector, None, allowed, limit, tuned=True)
    return SearchPlan(limit, allowed, nearest=side)


def points(
    chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], pending: bool
) -> list[PointPlan]:
    """The points an upsert writes: dense vector, the passage's BM25 weights, payload."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    return [
        PointPlan(
            chunk.chunk_id,
            [float(x) for x in vector],
            SparseQuery.of(passage_vector(chunk.text, chunk.language)),
            chunk.to_payload() | {PENDING: int(pending)},
        )
        for chunk, vector in zip(chunks, vectors, strict=True)
    ]


class PlannedSearch:
    """`VectorStore.search` for both adapters: plan the query here, then the adapter's
    `run` translates and runs it. An adapter that can find nothing yet (no collection)
    returns [] from `run`."""

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
        plan = plan_search(
            vector, sparse, clearance, limit, document_id, mode, where, fusion, lexical_languages
        )
        return [] if plan is None else self.run(plan)

    def run(self, plan: SearchPlan) -> list[Hit]:
        raise NotImplementedError
