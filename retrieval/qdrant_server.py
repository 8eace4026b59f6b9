"""The server store: a Qdrant server reached through qdrant-client.

Chosen when `qdrant_url` is configured (a shared Qdrant on the local network,
TLS when the URL is https). `QdrantServerStore.local()` runs the same code on
qdrant-client's in-process local mode, which the tests use since no Qdrant
server binary ships with Vigie. The collection schema and the clearance filter
are the same as the embedded store's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException

from retrieval import query_plan, schema
from retrieval.store import (
    DEFAULT_TUNING,
    FUSION_K,
    IndexTuning,
    SearchFilter,
    StoreError,
    check_embedder,
)
from vigie.contracts import Chunk, Clearance, Hit


def to_filter(conditions: query_plan.Conditions) -> models.Filter:
    """The plan's conditions as a qdrant-client filter (the rule itself: `query_plan`)."""
    return models.Filter(
        must=[_condition(c) for c in conditions.must],
        must_not=[_condition(c) for c in conditions.must_not] or None,
    )


def _condition(condition: query_plan.Condition) -> models.FieldCondition:
    key = condition.field
    if condition.kind == "equals":
        return models.FieldCondition(key=key, match=models.MatchValue(value=condition.value))
    if condition.kind == "any_of":
        return models.FieldCondition(key=key, match=models.MatchAny(any=list(condition.values)))
    if condition.kind == "only_these":
        outside = models.MatchExcept(**{"except": list(condition.values)})
        return models.FieldCondition(key=key, match=outside)
    span = models.Range(gte=condition.low, lte=condition.high)
    return models.FieldCondition(key=key, range=span)


def clearance_filter(
    clearance: Clearance, document_id: str | None = None, where: SearchFilter | None = None
) -> models.Filter:
    """The reader's filter, as qdrant-client takes it."""
    return to_filter(query_plan.clearance_conditions(clearance, document_id, where))


def _sparse(vector: query_plan.SparseQuery) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _same_document(document_id: str) -> models.Filter:
    return to_filter(query_plan.same_document(document_id))


class QdrantServerStore(query_plan.PlannedSearch):
    """`VectorStore` over one collection of a Qdrant server (or of qdrant-client local mode)."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        where: str,
        local: bool,
        tuning: IndexTuning = DEFAULT_TUNING,
    ) -> None:
        self.collection = collection
        self.tuning = tuning
        self._client = client
        self._where = where  # the URL or path, for error messages
        self._local = local
        self._ready = False  # the collection is known to exist

    @classmethod
    def connect(
        cls,
        url: str,
        api_key: str | None = None,
        collection: str = "vigie",
        tuning: IndexTuning = DEFAULT_TUNING,
    ) -> QdrantServerStore:
        """Connect to the server at `url` and check that it answers."""
        with _errors(
            url,
            "reach the Qdrant server at",
            hint="check qdrant_url and that the server is running",
        ):
            client = QdrantClient(
                url=url,
                api_key=api_key,
                https=url.lower().startswith("https://"),
                timeout=30,
                check_compatibility=False,
            )
            client.get_collections()
        return cls(client, collection, url, local=False, tuning=tuning)

    @classmethod
    def local(cls, path: Path | None = None, collection: str = "vigie") -> QdrantServerStore:
        """qdrant-client's local mode: on disk at `path`, in memory when `path` is None."""
        where = ":memory:" if path is None else str(path)
        with _errors(where, "open the local Qdrant store at"):
            client = QdrantClient(location=":memory:") if path is None else QdrantClient(path=where)
        return cls(client, collection, where, local=True)

    def ensure_collection(self, dimension: int, embedder: str = "") -> None:
        with self._guard():
            if self._client.collection_exists(self.collection):
                self._check_dimension(dimension)
                has_chunks = self.chunk_count() > 0
                check_embedder(self.built_with(), embedder, self._where, has_chunks)
                if embedder and self.built_with() is None:
                    self._client.update_collection(self.collection, metadata={"embedder": embedder})
            else:
                self._client.create_collection(
                    self.collection,
                    vectors_config={
                        schema.DENSE_VECTOR: models.VectorParams(
                            size=dimension,
                            distance=models.Distance.COSINE,
                            quantization_config=self._quantization(),
                        )
                    },
                    sparse_vectors_config={
                        schema.SPARSE_VECTOR: models.SparseVectorParams(
                            modifier=models.Modifier.IDF
                        )
                    },
                    metadata={"embedder": embedder} if embedder else None,
                )
            if not self._local:  # local mode has no payload indexes (and warns about them)
                self._ensure_indexes()
        self._ready = True

    def upsert(
        self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], pending: bool = False
    ) -> None:
        planned = query_plan.points(chunks, vectors, pending)
        if not planned:
            return
        structs = [
            models.PointStruct(
                id=p.point_id,
                vector={schema.DENSE_VECTOR: p.dense, schema.SPARSE_VECTOR: _sparse(p.sparse)},
                payload=p.payload,
            )
            for p in planned
        ]
        with self._guard():
            self._client.upsert(self.collection, points=structs, wait=True)

    def publish(
        self, document_id: str, level: int, level_label: str, caveats: Sequence[str]
    ) -> None:
        payload = {schema.PENDING: 0, "level": level, "level_label": level_label}
        payload["caveats"] = list(caveats)
        with self._guard():
            self._client.set_payload(
                self.collection,
                payload=payload,
                points=models.FilterSelector(filter=_same_document(document_id)),
                wait=True,
            )

    def delete_document(self, document_id: str) -> None:
        if not self._exists():
            return
        selector = models.FilterSelector(filter=_same_document(document_id))
        with self._guard():
            self._client.delete(self.collection, points_selector=selector, wait=True)

    def optimize(self) -> bool:
        return False  # the server's own optimizer builds its indexes in the background

    def chunk_count(self) -> int:
        if not self._exists():
            return 0
        with self._guard():
            return self._client.count(self.collection, exact=True).count

    def export(self) -> list[tuple[str, dict]]:
        if not self._exists():
            return []
        records: list[tuple[str, dict]] = []
        offset = None
        with self._guard():
            while True:
                page, offset = self._client.scroll(
                    self.collection, offset=offset, limit=512, with_payload=True
                )
                records.extend((str(r.id), dict(r.payload or {})) for r in page)
                if offset is None:
                    break
        return sorted(records, key=lambda record: record[0])

    def run(self, plan: query_plan.SearchPlan) -> list[Hit]:
        if not self._exists():
            return []
        with self._guard():
            response = self._client.query_points(self.collection, **self._arguments(plan))
        return [
            Hit(Chunk.from_payload(point.payload or {}), point.score) for point in response.points
        ]

    def _arguments(self, plan: query_plan.SearchPlan) -> dict:
        """The plan as `query_points` arguments."""
        arguments: dict = {
            "query_filter": to_filter(plan.conditions),
            "limit": plan.limit,
            "with_payload": True,
        }
        if plan.nearest is not None:
            side = plan.nearest
            arguments |= {"query": self._vector(side), "using": side.using}
            if side.tuned:
                arguments["search_params"] = self._search_params()
            return arguments
        arguments["prefetch"] = [
            models.Prefetch(
                query=self._vector(side),
                using=side.using,
                filter=to_filter(side.conditions),
                limit=side.limit,
                params=self._search_params() if side.tuned else None,
            )
            for side in plan.prefetches
        ]
        if plan.fusion == "dbsf":
            arguments["query"] = models.FusionQuery(fusion=models.Fusion.DBSF)
        else:
            arguments["query"] = models.RrfQuery(rrf=models.Rrf(k=FUSION_K))
        return arguments

    @staticmethod
    def _vector(side: query_plan.Nearest) -> list[float] | models.SparseVector:
        return _sparse(side.sparse) if side.sparse is not None else list(side.dense or ())

    def count(self, clearance: Clearance, document_id: str | None = None) -> int:
        if not self._exists():
            return 0
        with self._guard():
            result = self._client.count(
                self.collection, count_filter=clearance_filter(clearance, document_id), exact=True
            )
        return result.count

    def document_chunks(self, document_id: str, clearance: Clearance) -> list[Chunk]:
        if not self._exists():
            return []
        allowed = clearance_filter(clearance, document_id)
        chunks: list[Chunk] = []
        offset = None
        with self._guard():
            while True:
                page, offset = self._client.scroll(
                    self.collection,
                    scroll_filter=allowed,
                    offset=offset,
                    limit=512,
                    with_payload=True,
                )
                chunks.extend(Chunk.from_payload(point.payload or {}) for point in page)
                if offset is None:
                    break
        return sorted(chunks, key=lambda chunk: chunk.chunk_index)

    def close(self) -> None:
        with self._guard():
            self._client.close()

    def __enter__(self) -> QdrantServerStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _quantization(self) -> models.ScalarQuantization | None:
        if self.tuning.quantization != "int8":
            return None
        config = models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99)
        return models.ScalarQuantization(scalar=config)

    def _search_params(self) -> models.SearchParams | None:
        if self._local:  # local mode searches exhaustively and warns about any parameter
            return None
        tuning = self.tuning
        quantization = None
        if tuning.quantization == "int8":
            quantization = models.QuantizationSearchParams(
                rescore=True, oversampling=tuning.oversampling
            )
        acorn = models.AcornSearchParams(enable=True) if tuning.acorn else None
        return models.SearchParams(hnsw_ef=tuning.hnsw_ef, quantization=quantization, acorn=acorn)

    def built_with(self) -> str | None:
        if not self._exists():
            return None
        with self._guard():
            metadata = self._client.get_collection(self.collection).config.metadata or {}
        return str(metadata.get("embedder") or "") or None

    def _exists(self) -> bool:
        if not self._ready:
            with self._guard():
                self._ready = self._client.collection_exists(self.collection)
        return self._ready

    def _check_dimension(self, dimension: int) -> None:
        vectors = self._client.get_collection(self.collection).config.params.vectors
        params = vectors.get(schema.DENSE_VECTOR) if isinstance(vectors, dict) else None
        if params is None:
            raise StoreError(
                f"collection {self.collection!r} at {self._where} has no {schema.DENSE_VECTOR!r} "
                "vector: it was not created by Vigie; choose another collection name"
            )
        if params.size != dimension:
            raise StoreError(
                f"collection {self.collection!r} at {self._where} holds {params.size}-dimensional "
                f"vectors but the embedding model produces {dimension}-dimensional ones; use the "
                "embedding model the collection was built with, or another collection"
            )

    def _ensure_indexes(self) -> None:
        existing = self._client.get_collection(self.collection).payload_schema
        wanted = {name: models.PayloadSchemaType.KEYWORD for name in schema.KEYWORD_INDEXES}
        wanted |= {name: models.PayloadSchemaType.INTEGER for name in schema.INTEGER_INDEXES}
        for name, kind in wanted.items():
            if name not in existing:
                self._client.create_payload_index(self.collection, name, kind, wait=True)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with _errors(self._where, "use the Qdrant store at"):
            yield


@contextmanager
def _errors(where: str, action: str, hint: str = "") -> Iterator[None]:
    """Turn connection and server failures into a `StoreError` naming the URL or path."""
    try:
        yield
    except StoreError:
        raise
    # RuntimeError: local mode's folder is locked by another client.
    except (ApiException, OSError, RuntimeError) as exc:
        suffix = f"; {hint}" if hint else ""
        raise StoreError(f"could not {action} {where}: {exc}{suffix}") from exc
