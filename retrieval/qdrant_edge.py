"""The embedded store: a Qdrant Edge shard in one local directory (the default).

Qdrant Edge runs in-process, with no server. A shard directory is opened by
one process at a time (Edge locks its write-ahead log), so a second Vigie
process on the same store gets a `StoreError` telling the user to close the
first one. Every write is flushed before returning, so data survives a crash
or an exit without `close()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import qdrant_edge as qe

from retrieval.query_plan import (
    Condition,
    Conditions,
    Nearest,
    PlannedSearch,
    SearchPlan,
    clearance_conditions,
    points,
    same_document,
)
from retrieval.schema import (
    DENSE_VECTOR,
    INTEGER_INDEXES,
    KEYWORD_INDEXES,
    PENDING,
    SPARSE_VECTOR,
)
from retrieval.store import (
    DEFAULT_TUNING,
    FUSION_K,
    IndexTuning,
    SearchFilter,
    SparseQuery,
    StoreError,
    check_embedder,
)
from vigie.contracts import Chunk, Clearance, Hit

# Written by Edge next to the segments; its presence means the directory holds a shard.
_CONFIG_FILE = "edge_config.json"
# Written by Vigie beside it: the embedder the shard's vectors come from.
_RECORD_FILE = "vigie-store.json"


def to_filter(conditions: Conditions) -> qe.Filter:
    """The plan's conditions as an Edge filter (the rule itself: `query_plan`)."""
    return qe.Filter(
        must=[_condition(c) for c in conditions.must],
        must_not=[_condition(c) for c in conditions.must_not] or None,
    )


def _condition(condition: Condition) -> qe.FieldCondition:
    if condition.kind == "equals":
        return qe.FieldCondition(condition.field, match=qe.MatchValue(condition.value))
    if condition.kind == "any_of":
        return qe.FieldCondition(condition.field, match=qe.MatchAny(list(condition.values)))
    if condition.kind == "only_these":
        return qe.FieldCondition(condition.field, match=qe.MatchExcept(list(condition.values)))
    span = qe.RangeFloat(gte=condition.low, lte=condition.high)
    return qe.FieldCondition(condition.field, range=span)


def clearance_filter(
    clearance: Clearance, document_id: str | None = None, where: SearchFilter | None = None
) -> qe.Filter:
    """The reader's filter, as Edge takes it."""
    return to_filter(clearance_conditions(clearance, document_id, where))


def search_params(tuning: IndexTuning) -> qe.SearchParams:
    """The dense search's parameters (bench/search.py measures these very ones)."""
    quantization = None
    if tuning.quantization == "int8":
        quantization = qe.QuantizationSearchParams(rescore=True, oversampling=tuning.oversampling)
    # ACORN only where Qdrant estimates the filter keeps under 40% of the points.
    acorn = qe.AcornSearchParams(enable=True) if tuning.acorn else None
    return qe.SearchParams(hnsw_ef=tuning.hnsw_ef, quantization=quantization, acorn=acorn)


def _same_document(document_id: str) -> qe.Filter:
    return to_filter(same_document(document_id))


def _sparse(vector: SparseQuery) -> qe.SparseVector:
    return qe.SparseVector(list(vector.indices), list(vector.values))


class QdrantEdgeStore(PlannedSearch):
    """`VectorStore` over one Qdrant Edge shard directory."""

    def __init__(
        self, path: Path, shard: qe.EdgeShard | None, tuning: IndexTuning = DEFAULT_TUNING
    ) -> None:
        self.path = path
        self.tuning = tuning
        self._shard = shard

    @classmethod
    def open(cls, path: Path, tuning: IndexTuning = DEFAULT_TUNING) -> QdrantEdgeStore:
        """Load the shard at `path`, or remember `path` for `ensure_collection` to create it."""
        path = Path(path)
        if not (path / _CONFIG_FILE).is_file():
            return cls(path, None, tuning)
        with _errors(path, "open"):
            return cls(path, qe.EdgeShard.load(str(path)), tuning)

    def ensure_collection(self, dimension: int, embedder: str = "") -> None:
        if self._shard is not None:
            has_chunks = self.chunk_count() > 0
            check_embedder(self.built_with(), embedder, str(self.path), has_chunks)
        if self._shard is None:
            config = qe.EdgeConfig(
                vectors={
                    DENSE_VECTOR: qe.EdgeVectorParams(
                        dimension, qe.Distance.Cosine, quantization_config=self._quantization()
                    )
                },
                sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            )
            with _errors(self.path, "create"):
                self._shard = qe.EdgeShard.create(str(self.path), config)
        else:
            stored = self._stored_dimension()
            if stored != dimension:
                raise StoreError(
                    f"the store at {self.path} holds {stored}-dimensional vectors but the "
                    f"embedding model produces {dimension}-dimensional ones; use the embedding "
                    "model the store was built with, or a new store path"
                )
        if embedder and self.built_with() is None:
            record = json.dumps({"embedder": embedder}) + "\n"
            with _errors(self.path, "write to"):
                (self.path / _RECORD_FILE).write_text(record, encoding="utf-8")
        self._ensure_indexes()

    def _quantization(self) -> qe.ScalarQuantizationConfig | None:
        if self.tuning.quantization != "int8":
            return None
        return qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99)

    def _search_params(self) -> qe.SearchParams:
        return search_params(self.tuning)

    def built_with(self) -> str | None:
        try:
            record = json.loads((self.path / _RECORD_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            reason = f"the store at {self.path} has an unreadable {_RECORD_FILE}: {exc}"
            raise StoreError(reason) from None
        return str(record.get("embedder") or "") or None

    def upsert(
        self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], pending: bool = False
    ) -> None:
        planned = points(chunks, vectors, pending)
        if not planned:
            return
        edge_points = [
            qe.Point(
                p.point_id,
                {DENSE_VECTOR: p.dense, SPARSE_VECTOR: _sparse(p.sparse)},
                p.payload,
            )
            for p in planned
        ]
        shard = self._require_shard()
        with _errors(self.path, "write to"):
            shard.update(qe.UpdateOperation.upsert_points(edge_points))
            shard.flush()

    def publish(
        self, document_id: str, level: int, level_label: str, caveats: Sequence[str]
    ) -> None:
        payload = {PENDING: 0, "level": level, "level_label": level_label}
        payload["caveats"] = list(caveats)
        shard = self._require_shard()
        with _errors(self.path, "write to"):
            shard.update(
                qe.UpdateOperation.set_payload_by_filter(_same_document(document_id), payload)
            )
            shard.flush()

    def delete_document(self, document_id: str) -> None:
        if self._shard is None:
            return
        with _errors(self.path, "delete from"):
            self._shard.update(
                qe.UpdateOperation.delete_points_by_filter(_same_document(document_id))
            )
            self._shard.flush()

    def chunk_count(self) -> int:
        if self._shard is None:
            return 0
        with _errors(self.path, "count in"):
            return self._shard.count(qe.CountRequest(exact=True))

    def export(self) -> list[tuple[str, dict]]:
        if self._shard is None:
            return []
        records: list[tuple[str, dict]] = []
        offset = None
        with _errors(self.path, "read"):
            while True:
                page, offset = self._shard.scroll(
                    qe.ScrollRequest(offset=offset, limit=512, with_payload=True)
                )
                records.extend((str(r.id), dict(r.payload or {})) for r in page)
                if offset is None:
                    break
        return sorted(records, key=lambda record: record[0])

    def run(self, plan: SearchPlan) -> list[Hit]:
        if self._shard is None:
            return []
        with _errors(self.path, "search"):
            found = self._shard.query(self._request(plan))
        return [Hit(Chunk.from_payload(point.payload or {}), point.score) for point in found]

    def _request(self, plan: SearchPlan) -> qe.QueryRequest:
        """The plan as one Edge query request."""
        allowed = to_filter(plan.conditions)
        if plan.nearest is not None:
            side = plan.nearest
            return qe.QueryRequest(
                limit=plan.limit,
                query=self._nearest(side),
                filter=allowed,
                with_payload=True,
                params=self._search_params() if side.tuned else None,
            )
        prefetches = [
            qe.Prefetch(
                side.limit,
                self._nearest(side),
                filter=to_filter(side.conditions),
                params=self._search_params() if side.tuned else None,
            )
            for side in plan.prefetches
        ]
        fusion = qe.Fusion.Dbsf() if plan.fusion == "dbsf" else qe.Fusion.Rrf(k=FUSION_K)
        return qe.QueryRequest(
            limit=plan.limit, prefetches=prefetches, query=fusion, filter=allowed,
            with_payload=True,
        )  # fmt: skip

    @staticmethod
    def _nearest(side: Nearest) -> qe.Query:
        if side.sparse is not None:
            return qe.Query.Nearest(_sparse(side.sparse), using=side.using)
        return qe.Query.Nearest(list(side.dense or ()), using=side.using)

    def count(self, clearance: Clearance, document_id: str | None = None) -> int:
        if self._shard is None:
            return 0
        request = qe.CountRequest(exact=True, filter=clearance_filter(clearance, document_id))
        with _errors(self.path, "count in"):
            return self._shard.count(request)

    def document_chunks(self, document_id: str, clearance: Clearance) -> list[Chunk]:
        if self._shard is None:
            return []
        allowed = clearance_filter(clearance, document_id)
        chunks: list[Chunk] = []
        offset = None
        with _errors(self.path, "read"):
            while True:
                request = qe.ScrollRequest(
                    offset=offset, limit=512, filter=allowed, with_payload=True
                )
                page, offset = self._shard.scroll(request)
                chunks.extend(Chunk.from_payload(point.payload or {}) for point in page)
                if offset is None:
                    break
        return sorted(chunks, key=lambda chunk: chunk.chunk_index)

    def optimize(self) -> bool:
        """Merge and index segments now (after a large ingestion); True if anything changed."""
        if self._shard is None:
            return False
        with _errors(self.path, "optimize"):
            return self._shard.optimize()

    def close(self) -> None:
        if self._shard is None:
            return
        shard, self._shard = self._shard, None
        with _errors(self.path, "close"):
            shard.flush()
            shard.close()

    def __enter__(self) -> QdrantEdgeStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require_shard(self) -> qe.EdgeShard:
        if self._shard is None:
            raise StoreError(
                f"the store at {self.path} has no collection yet: "
                "call ensure_collection(dimension) before writing"
            )
        return self._shard

    def _stored_dimension(self) -> int:
        # EdgeShard has no config getter: read the config Edge persisted with the shard.
        try:
            config = json.loads((self.path / _CONFIG_FILE).read_text(encoding="utf-8"))
            return int(config["vectors"][DENSE_VECTOR]["size"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"the store at {self.path} is not a Vigie store (no {DENSE_VECTOR!r} vector "
                f"in {_CONFIG_FILE}: {exc})"
            ) from None

    def _ensure_indexes(self) -> None:
        shard = self._require_shard()
        wanted = {name: qe.PayloadSchemaType.Keyword for name in KEYWORD_INDEXES}
        wanted |= {name: qe.PayloadSchemaType.Integer for name in INTEGER_INDEXES}
        existing = shard.info().payload_schema
        missing = {name: kind for name, kind in wanted.items() if name not in existing}
        if not missing:
            return
        with _errors(self.path, "index"):
            for name, kind in missing.items():
                shard.update(qe.UpdateOperation.create_field_index(name, kind))
            shard.flush()


@contextmanager
def _errors(path: Path, action: str) -> Iterator[None]:
    """Turn Edge's bare exceptions into a `StoreError` a user can act on."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:  # Edge raises plain `Exception` with a text reason.
        reason = str(exc)
        if "WouldBlock" in reason:
            raise StoreError(
                f"the store at {path} is open in another Vigie process (its write-ahead log "
                "is locked); close it and retry"
            ) from exc
        raise StoreError(f"could not {action} the store at {path}: {reason}") from exc
