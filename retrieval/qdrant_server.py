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

from retrieval.lexical import passage_vector, query_vector
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
    FUSIONS,
    IndexTuning,
    SearchFilter,
    StoreError,
    candidates,
    check_embedder,
)
from vigie.contracts import Chunk, Clearance, Hit
from vigie.errors import InputError


def clearance_filter(
    clearance: Clearance, document_id: str | None = None, where: SearchFilter | None = None
) -> models.Filter:
    """Published, level at most the reader's, no caveat outside the reader's, and `where`."""
    where = where or SearchFilter()
    must: list[models.Condition] = [
        models.FieldCondition(key="level", range=models.Range(lte=where.level_cap(clearance)))
    ]
    for document in (document_id, where.document_id):
        if document is not None:
            must.append(
                models.FieldCondition(key="document_id", match=models.MatchValue(value=document))
            )
    if where.document_ids:
        documents = models.MatchAny(any=list(where.document_ids))
        must.append(models.FieldCondition(key="document_id", match=documents))
    if where.caveats:
        # At least one of these; the must_not below still drops any caveat outside the reader's.
        caveats = models.MatchAny(any=list(where.caveats))
        must.append(models.FieldCondition(key="caveats", match=caveats))
    if where.languages:
        languages = models.MatchAny(any=list(where.languages))
        must.append(models.FieldCondition(key="language", match=languages))
    if where.element_types:
        kinds = models.MatchAny(any=list(where.element_types))
        must.append(models.FieldCondition(key="element_type", match=kinds))
    if (days := where.day_range()) is not None:
        dated = models.Range(gte=days[0], lte=days[1])
        must.append(models.FieldCondition(key="document_date", range=dated))
    # must_not "has a caveat other than these": chunks without caveats always pass.
    outside = models.FieldCondition(
        key="caveats", match=models.MatchExcept(**{"except": sorted(clearance.caveats)})
    )
    pending = models.FieldCondition(key=PENDING, match=models.MatchValue(value=1))
    return models.Filter(must=must, must_not=[outside, pending])


def _sparse(indices: list[int], values: list[float]) -> models.SparseVector:
    return models.SparseVector(indices=indices, values=values)


def _same_document(document_id: str) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))]
    )


class QdrantServerStore:
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
                        DENSE_VECTOR: models.VectorParams(
                            size=dimension,
                            distance=models.Distance.COSINE,
                            quantization_config=self._quantization(),
                        )
                    },
                    sparse_vectors_config={
                        SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                    metadata={"embedder": embedder} if embedder else None,
                )
            if not self._local:  # local mode has no payload indexes (and warns about them)
                self._ensure_indexes()
        self._ready = True

    def upsert(
        self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], pending: bool = False
    ) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if not chunks:
            return
        points = [
            models.PointStruct(
                id=chunk.chunk_id,
                vector={
                    DENSE_VECTOR: [float(x) for x in vector],
                    SPARSE_VECTOR: _sparse(*passage_vector(chunk.text, chunk.language)),
                },
                payload=chunk.to_payload() | {PENDING: int(pending)},
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        with self._guard():
            self._client.upsert(self.collection, points=points, wait=True)

    def publish(
        self, document_id: str, level: int, level_label: str, caveats: Sequence[str]
    ) -> None:
        payload = {PENDING: 0, "level": level, "level_label": level_label}
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

    def search(
        self,
        vector: Sequence[float] | None,
        clearance: Clearance,
        limit: int = 5,
        document_id: str | None = None,
        text: str | None = None,
        mode: str = "dense",
        where: SearchFilter | None = None,
        fusion: str = "dbsf",
        lexical_languages: Sequence[str] = (),
    ) -> list[Hit]:
        if fusion not in FUSIONS:
            raise InputError(f"unknown fusion {fusion!r} (known: {', '.join(FUSIONS)})")
        if (where is not None and where.matches_nothing) or not self._exists():
            return []
        allowed = clearance_filter(clearance, document_id, where)
        lexical_where = (where or SearchFilter()).for_lexical(lexical_languages)
        dense = None if vector is None else [float(x) for x in vector]
        sparse = _sparse(*query_vector(text)) if text else None
        arguments: dict = {"query_filter": allowed, "limit": limit, "with_payload": True}
        if mode == "sparse" or dense is None:
            if sparse is None or not sparse.indices:
                return []
            arguments |= {"query": sparse, "using": SPARSE_VECTOR}
        elif mode == "hybrid" and sparse is not None and sparse.indices and lexical_where:
            depth = candidates(limit)
            lexical = clearance_filter(clearance, document_id, lexical_where)
            params = self._search_params()
            arguments["prefetch"] = [
                models.Prefetch(
                    query=dense, using=DENSE_VECTOR, filter=allowed, limit=depth, params=params
                ),
                models.Prefetch(query=sparse, using=SPARSE_VECTOR, filter=lexical, limit=depth),
            ]
            if fusion == "dbsf":
                arguments["query"] = models.FusionQuery(fusion=models.Fusion.DBSF)
            else:
                arguments["query"] = models.RrfQuery(rrf=models.Rrf(k=FUSION_K))
        else:
            arguments |= {
                "query": dense,
                "using": DENSE_VECTOR,
                "search_params": self._search_params(),
            }
        with self._guard():
            response = self._client.query_points(self.collection, **arguments)
        return [
            Hit(Chunk.from_payload(point.payload or {}), point.score) for point in response.points
        ]

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
        params = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        if params is None:
            raise StoreError(
                f"collection {self.collection!r} at {self._where} has no {DENSE_VECTOR!r} "
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
        wanted = {name: models.PayloadSchemaType.KEYWORD for name in KEYWORD_INDEXES}
        wanted |= {name: models.PayloadSchemaType.INTEGER for name in INTEGER_INDEXES}
        for name, schema in wanted.items():
            if name not in existing:
                self._client.create_payload_index(self.collection, name, schema, wait=True)

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
