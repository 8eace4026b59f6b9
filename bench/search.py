"""Qdrant Edge at Vigie's scale: load, size, memory, filtered latency and recall, in one run.

For each size (100,000 and 1,000,000 chunks by default) a synthetic corpus is
written into a fresh Qdrant Edge shard configured as Vigie configures its own
(`retrieval/qdrant_edge.py`: dense vector "dense", 384-d, cosine; sparse vector
"sparse" with the IDF modifier; keyword indexes on document_id, sha256,
file_name, language, element_type, caveats; integer indexes on level, page,
pending), plus int8 scalar quantisation of the dense vector (quantile 0.99,
pinned in RAM) so that float and quantised search can be compared on one shard:
the float rows pass `QuantizationSearchParams(ignore=True)`. Edge builds the
HNSW graph from the quantised vectors when there are some (about twice as fast;
measured on 200k dense-only points, float recall@10 about 1 point lower than a
graph built without quantisation), so the float rows are slightly pessimistic
for Vigie's current, unquantised, shard; `--no-quantization` builds that one.

Corpus (numpy, seeded, generated 1,000 points at a time). Dense vectors have
cluster structure: 50 domains, topics around them (one per 250 chunks, 100 to
4,000), and each chunk is its topic plus anisotropic noise (std ~ i^-0.3
along the i-th axis of a fixed random basis, so the intrinsic dimension is
lower than 384), normalised: a query's nearest chunk has cosine ~0.6.
Queries are drawn the same way, near a topic, never copies of stored points.
Payloads are Vigie's `Chunk.to_payload()` plus `pending: 0`:
documents of 20-50 chunks (document_id = sha256), 70% French, level 0-3
(45/25/15/15%) and caveats ([] 88%, ["FR"] 7%, ["OTAN"] 4%, both 1%) per
document, element types NarrativeText/ListItem/Title/Table (60/17/13/10%),
a ~400-character text of pseudo-words; the sparse vector holds the text's
word counts (BM25 saturation, as Vigie's lexical vectors); 70% of a
document's chunks sit on its home topic.

Load: payload indexes are created first (as Vigie does), points are upserted
in batches of 1,000 (Edge runs no background optimiser, so they land in
plain appendable segments), then `optimize()` builds HNSW (Edge's default
m and ef_construct) and the quantised vectors once; both are
timed apart. The shard is then closed and reopened (timed, with the first
query after reopening). Reported: upsert points/s, optimize seconds, on-disk
size (allocated blocks, as du), resident memory of this process (RSS, split
into anonymous and file-backed pages, after gc and malloc_trim) after upsert,
optimize, reopen and the queries.

Queries (--queries per set, with payload, limit 10, single-threaded): no
filter; Vigie's `clearance_filter` for a SECRET reader without caveats
(level <= 2, no caveat, not pending: keeps ~75%); the same plus language "en"
and element type "Table" (~2%); the same plus one document_id (20-50 chunks).
Ground truth is exact search under the same filter
(`SearchParams(exact=True)`, float vectors); recall@10 is the mean overlap
with it. Each setting (float with hnsw_ef unset (Edge's default), 256, 512;
int8 with and without rescoring (oversampling 2), ACORN) gets p50/p95
latency and recall@10; "target" marks p95 < 50 ms with recall@10 >= 0.95.
A dense + sparse hybrid query (two prefetches with the clearance filter,
fused with DBSF) is timed too.

Run it (the default run takes about 15-25 minutes on 2 cores, most of it the
1M optimize):

    .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --sizes 20000 --queries 100
    .venv/bin/python bench/search.py --json > search-bench.json

Progress goes to stderr; the table to stdout (to stderr with --json, which
puts JSON on stdout).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import qdrant_edge as qe

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from retrieval.qdrant_edge import clearance_filter, search_params  # noqa: E402
from retrieval.schema import (  # noqa: E402
    DENSE_VECTOR,
    INTEGER_INDEXES,
    KEYWORD_INDEXES,
    PENDING,
    SPARSE_VECTOR,
)
from retrieval.store import IndexTuning, SearchFilter  # noqa: E402
from vigie.contracts import CHUNK_NAMESPACE, Clearance, Level  # noqa: E402

DIM = 384
BATCH = 1_000
LIMIT = 10
DOMAINS = 50
CHUNKS_PER_TOPIC = 250
VOCABULARY = 30_000
WORDS_PER_CHUNK = 55
HOME_TOPIC_SHARE = 0.7
# Noise std along the i-th direction of a random basis ~ i ** -NOISE_DECAY: 0.3 gives
# HNSW recall@10 ~0.99 at 100k at the default ef (0.5 makes search trivially easy).
NOISE_DECAY = 0.3
TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95
LEVEL_P = (0.45, 0.25, 0.15, 0.15)
CAVEATS = ((), ("FR",), ("OTAN",), ("FR", "OTAN"))
CAVEATS_P = (0.88, 0.07, 0.04, 0.01)
ELEMENT_TYPES = ("NarrativeText", "ListItem", "Title", "Table")
ELEMENT_P = (0.60, 0.17, 0.13, 0.10)
READER = Clearance(Level.SECRET)  # level <= 2, no caveat
NARROW = SearchFilter(languages=("en",), element_types=("Table",))

_out = sys.stdout  # the table; stderr when --json owns stdout


def say(text: str = "") -> None:
    print(text, file=_out, flush=True)


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- corpus


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _vocabulary(rng: np.random.Generator) -> list[str]:
    syllables = [c + v for c in "bcdfglmnprstv" for v in "aeiou"] + ["an", "on", "er", "is"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        count = int(rng.integers(2, 5))
        words.add("".join(syllables[i] for i in rng.integers(0, len(syllables), count)))
    return sorted(words)


@dataclass
class Corpus:
    """A seeded synthetic set of Vigie chunks: metadata up front, vectors per batch."""

    size: int
    seed: int
    topics: np.ndarray = field(init=False)  # (n_topics, DIM), unit
    topic_radius: np.ndarray = field(init=False)  # noise scale per topic
    basis: np.ndarray = field(init=False)  # random orthogonal (DIM, DIM)
    spectrum: np.ndarray = field(init=False)  # noise std per basis direction
    topic_offset: np.ndarray = field(init=False)  # where each topic's words start
    words: list[str] = field(init=False)
    doc_of: np.ndarray = field(init=False)  # per chunk
    chunk_index: np.ndarray = field(init=False)
    topic_of: np.ndarray = field(init=False)
    element_of: np.ndarray = field(init=False)
    doc_sha: list[str] = field(init=False)
    doc_language: np.ndarray = field(init=False)
    doc_level: np.ndarray = field(init=False)
    doc_caveats: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        n_topics = min(4_000, max(100, self.size // CHUNKS_PER_TOPIC))
        domains = _unit(rng.standard_normal((DOMAINS, DIM)))
        domain_of_topic = rng.integers(0, DOMAINS, n_topics)
        self.topics = _unit(domains[domain_of_topic] + _unit(rng.standard_normal((n_topics, DIM))))
        self.topic_radius = rng.uniform(0.8, 1.2, n_topics)
        self.basis = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0]
        spectrum = (np.arange(DIM) + 1.0) ** -NOISE_DECAY
        self.spectrum = spectrum / np.linalg.norm(spectrum)
        self.topic_offset = rng.integers(0, VOCABULARY, n_topics)
        self.words = _vocabulary(rng)

        sizes = rng.integers(20, 51, self.size // 20 + 1)
        sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), self.size)) + 1]
        n_docs = len(sizes)
        self.doc_of = np.repeat(np.arange(n_docs), sizes)[: self.size]
        starts = np.cumsum(sizes) - sizes
        self.chunk_index = np.arange(self.size) - starts[self.doc_of]
        home = rng.integers(0, n_topics, n_docs)
        elsewhere = rng.integers(0, n_topics, self.size)
        at_home = rng.random(self.size) < HOME_TOPIC_SHARE
        self.topic_of = np.where(at_home, home[self.doc_of], elsewhere)
        self.element_of = rng.choice(len(ELEMENT_TYPES), self.size, p=ELEMENT_P)
        self.doc_sha = [
            hashlib.sha256(f"{self.seed}:{d}".encode()).hexdigest() for d in range(n_docs)
        ]
        self.doc_language = rng.random(n_docs) < 0.7  # True: fr
        self.doc_level = rng.choice(4, n_docs, p=LEVEL_P)
        self.doc_caveats = rng.choice(len(CAVEATS), n_docs, p=CAVEATS_P)

    @property
    def n_topics(self) -> int:
        return len(self.topics)

    @property
    def n_docs(self) -> int:
        return len(self.doc_sha)

    def doc_allowed(self, doc: int) -> bool:
        return self.doc_level[doc] <= int(READER.level) and self.doc_caveats[doc] == 0

    def vectors(self, topics: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = (rng.standard_normal((len(topics), DIM)) * self.spectrum) @ self.basis
        noise *= self.topic_radius[topics, None]
        return _unit(self.topics[topics] + noise).astype(np.float32)

    def word_ids(self, topics: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        """Each chunk's words: 60% from its topic's Zipf list, 40% from a global one."""
        ranks = np.minimum(rng.zipf(1.3, (len(topics), count)) - 1, VOCABULARY - 1)
        topical = rng.random((len(topics), count)) < 0.6
        return np.where(topical, (self.topic_offset[topics, None] + ranks) % VOCABULARY, ranks)

    def batches(self) -> Iterator[list[qe.Point]]:
        rng = np.random.default_rng(self.seed + 1)
        for start in range(0, self.size, BATCH):
            rows = np.arange(start, min(start + BATCH, self.size))
            vectors = self.vectors(self.topic_of[rows], rng)
            word_ids = self.word_ids(self.topic_of[rows], WORDS_PER_CHUNK, rng)
            yield [
                self._point(int(r), v, w) for r, v, w in zip(rows, vectors, word_ids, strict=True)
            ]

    def _point(self, row: int, vector: np.ndarray, word_ids: np.ndarray) -> qe.Point:
        doc = int(self.doc_of[row])
        index = int(self.chunk_index[row])
        sha = self.doc_sha[doc]
        level = Level(int(self.doc_level[doc]))
        file_name = f"rapport-{doc:06d}.pdf"
        ids, counts = np.unique(word_ids, return_counts=True)
        weights = counts * 2.2 / (counts + 1.2)  # BM25 saturation, k1 = 1.2, average length
        payload = {
            "document_id": sha,
            "chunk_index": index,
            "text": " ".join(self.words[i] for i in word_ids),
            "file_name": file_name,
            "source_path": f"/data/archives/{file_name}",
            "sha256": sha,
            "page": 1 + index // 3,
            "element_type": ELEMENT_TYPES[self.element_of[row]],
            "language": "fr" if self.doc_language[doc] else "en",
            "level": int(level),
            "level_label": level.label,
            "caveats": list(CAVEATS[self.doc_caveats[doc]]),
            "section": "",
            "ocr": False,
            "ocr_confidence": None,
            "bbox": None,
            PENDING: 0,
        }
        point_id = str(uuid.uuid5(CHUNK_NAMESPACE, f"{sha}:{index}"))
        vectors = {
            DENSE_VECTOR: vector.tolist(),
            SPARSE_VECTOR: qe.SparseVector(ids.tolist(), weights.tolist()),
        }
        return qe.Point(point_id, vectors, payload)


@dataclass
class Queries:
    dense: list[list[float]]
    sparse: list[qe.SparseVector]
    documents: list[str]  # one readable document per query, near its topic when possible


def make_queries(corpus: Corpus, count: int, seed: int) -> Queries:
    rng = np.random.default_rng(seed + 2)
    anchors = rng.integers(0, corpus.size, count)  # topics weighted as the corpus
    topics = corpus.topic_of[anchors]
    dense = corpus.vectors(topics, rng)
    words = corpus.word_ids(topics, 6, rng)
    allowed = [d for d in range(corpus.n_docs) if corpus.doc_allowed(d)]
    documents = []
    for anchor in anchors:
        doc = int(corpus.doc_of[anchor])
        if not corpus.doc_allowed(doc):
            doc = allowed[int(rng.integers(0, len(allowed)))]
        documents.append(corpus.doc_sha[doc])
    sparse = []
    for row in words:
        ids = np.unique(row)
        sparse.append(qe.SparseVector(ids.tolist(), [1.0] * len(ids)))
    return Queries([v.tolist() for v in dense], sparse, documents)


# ---------------------------------------------------------------- shard


def shard_config(quantized: bool) -> qe.EdgeConfig:
    quantization = (
        qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned)
        if quantized
        else None
    )
    dense = qe.EdgeVectorParams(DIM, qe.Distance.Cosine, quantization_config=quantization)
    return qe.EdgeConfig(
        vectors={DENSE_VECTOR: dense},
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )


def create_indexes(shard: qe.EdgeShard) -> None:
    for name in KEYWORD_INDEXES:
        shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
    for name in INTEGER_INDEXES:
        shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Integer))
    shard.flush()


def disk_usage(path: Path) -> dict[str, int]:
    """Allocated bytes (as du) by part of the shard: wal, vectors, hnsw, payload, ..."""
    totals: Counter[str] = Counter()
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = Path(root) / name
            try:
                size = full.lstat().st_blocks * 512
            except FileNotFoundError:
                continue
            totals[_disk_part(full.relative_to(path).parts)] += size
    return dict(totals)


def _disk_part(parts: tuple[str, ...]) -> str:
    if parts[0] == "wal":
        return "wal"
    if parts[0] != "segments" or len(parts) < 4:
        return "other"
    component = parts[2]
    if any("quant" in part for part in parts[2:]):
        return "quantized"
    if component.startswith(f"vector_storage-{DENSE_VECTOR}"):
        return "vectors"
    if component.startswith(f"vector_index-{DENSE_VECTOR}"):
        return "hnsw"
    if SPARSE_VECTOR in component:
        return "sparse"
    if component.startswith("payload_storage"):
        return "payload"
    if component.startswith("payload_index"):
        return "payload_indexes"
    return "other"


def memory() -> dict[str, int]:
    """Resident bytes of this process: total, anonymous, file-backed (mapped shard files)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    result = {"rss": psutil.Process().memory_info().rss}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                result[key[3:].lower()] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return result


# ---------------------------------------------------------------- queries


def float_params(**kwargs: Any) -> qe.SearchParams:
    return qe.SearchParams(quantization=qe.QuantizationSearchParams(ignore=True), **kwargs)


def int8_params(rescore: bool = True, **kwargs: Any) -> qe.SearchParams:
    quantization = qe.QuantizationSearchParams(
        rescore=rescore, oversampling=2.0 if rescore else None
    )
    return qe.SearchParams(quantization=quantization, **kwargs)


def acorn() -> qe.AcornSearchParams:
    # max_selectivity 1: use ACORN whatever share of the points the filter keeps.
    return qe.AcornSearchParams(enable=True, max_selectivity=1.0)


# (label, needs quantisation, params factory)
SETTINGS: list[tuple[str, bool, Any]] = [
    ("float, ef default", False, lambda: float_params()),
    ("float, ef 256", False, lambda: float_params(hnsw_ef=256)),
    ("float, ef 512", False, lambda: float_params(hnsw_ef=512)),
    ("int8 no rescore, ef default", True, lambda: int8_params(rescore=False)),
    ("int8 rescore x2, ef default", True, lambda: int8_params()),
    ("int8 rescore x2, ef 256", True, lambda: int8_params(hnsw_ef=256)),
    ("float, ACORN, ef 128", False, lambda: float_params(hnsw_ef=128, acorn=acorn())),
    ("int8 rescore x2, ACORN, ef 128", True, lambda: int8_params(hnsw_ef=128, acorn=acorn())),
    # Vigie's own parameters (retrieval/qdrant_edge.py search_params): ef 128, ACORN only
    # for filters Qdrant estimates under 40% selective; float, or int8 when configured.
    ("Vigie default (float)", False, lambda: vigie_params(IndexTuning())),
    ("Vigie int8", True, lambda: vigie_params(IndexTuning(quantization="int8"))),
]


def vigie_params(tuning: IndexTuning) -> qe.SearchParams:
    params = search_params(tuning)
    if tuning.quantization == "none":  # this shard has int8 vectors: keep the float path
        params = qe.SearchParams(
            hnsw_ef=tuning.hnsw_ef,
            acorn=qe.AcornSearchParams(enable=True) if tuning.acorn else None,
            quantization=qe.QuantizationSearchParams(ignore=True),
        )
    return params


EXACT = "exact (ground truth)"


def filter_sets(queries: Queries) -> list[tuple[str, list[qe.Filter | None]]]:
    n = len(queries.dense)
    return [
        ("none", [None] * n),
        ("clearance", [clearance_filter(READER)] * n),
        ("clearance+en+Table", [clearance_filter(READER, where=NARROW)] * n),
        ("clearance+document", [clearance_filter(READER, doc) for doc in queries.documents]),
    ]


def run(
    shard: qe.EdgeShard,
    vectors: list[list[float]],
    filters: list[qe.Filter | None],
    params: qe.SearchParams,
) -> tuple[list[float], list[list[Any]]]:
    """Latency (ms) and result ids of each query, one at a time."""
    latencies, ids = [], []
    for vector, where in zip(vectors, filters, strict=True):
        request = qe.QueryRequest(
            limit=LIMIT,
            query=qe.Query.Nearest(vector, using=DENSE_VECTOR),
            filter=where,
            params=params,
            with_payload=True,
        )
        started = time.perf_counter()
        points = shard.query(request)
        latencies.append((time.perf_counter() - started) * 1000)
        ids.append([p.id for p in points])
    return latencies, ids


def run_hybrid(shard: qe.EdgeShard, queries: Queries) -> list[float]:
    allowed = clearance_filter(READER)
    latencies = []
    for dense, sparse in zip(queries.dense, queries.sparse, strict=True):
        request = qe.QueryRequest(
            limit=LIMIT,
            prefetches=[
                qe.Prefetch(
                    50,
                    qe.Query.Nearest(dense, using=DENSE_VECTOR),
                    params=float_params(),
                    filter=allowed,
                ),
                qe.Prefetch(50, qe.Query.Nearest(sparse, using=SPARSE_VECTOR), filter=allowed),
            ],
            query=qe.Fusion.Dbsf(),
            filter=allowed,
            with_payload=True,
        )
        started = time.perf_counter()
        shard.query(request)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def mean_count(shard: qe.EdgeShard, filters: list[qe.Filter | None], size: int) -> float:
    """Mean number of points the set's filters keep (each distinct filter counted once)."""
    counts: dict[int, int] = {}
    for where in filters:
        if id(where) not in counts:
            request = qe.CountRequest(exact=True, filter=where)
            counts[id(where)] = size if where is None else shard.count(request)
    return float(np.mean([counts[id(where)] for where in filters]))


def recall(found: list[list[Any]], truth: list[list[Any]]) -> float:
    scores = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t]
    return float(np.mean(scores)) if scores else 1.0


def percentiles(latencies: list[float]) -> dict[str, float]:
    p50, p95 = np.percentile(latencies, [50, 95])
    return {"p50_ms": round(float(p50), 3), "p95_ms": round(float(p95), 3)}


# ---------------------------------------------------------------- one size


def bench_size(size: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    path = root / f"shard-{size}"
    result: dict[str, Any] = {"size": size, "quantized": not args.no_quantization}
    progress(f"{size:,} chunks: generating metadata")
    corpus = Corpus(size, args.seed)
    result["topics"], result["documents"] = corpus.n_topics, corpus.n_docs
    queries = make_queries(corpus, args.queries, args.seed)
    result["memory_before"] = memory()

    shard = qe.EdgeShard.create(str(path), shard_config(not args.no_quantization))
    create_indexes(shard)
    update_s = 0.0
    started = time.perf_counter()
    for number, points in enumerate(corpus.batches()):
        begun = time.perf_counter()
        shard.update(qe.UpdateOperation.upsert_points(points))
        update_s += time.perf_counter() - begun
        if number % 100 == 99:
            done = (number + 1) * BATCH
            rate = done / (time.perf_counter() - started)
            progress(f"  upserted {done:,} / {size:,} ({rate:,.0f} points/s)")
    begun = time.perf_counter()
    shard.flush()
    update_s += time.perf_counter() - begun
    load_s = time.perf_counter() - started
    info = shard.info()
    result["load"] = {
        "upsert_s": round(update_s, 1),
        "upsert_points_per_s": round(size / update_s),
        "with_generation_s": round(load_s, 1),
        "segments_before_optimize": info.segments_count,
    }
    result["memory_after_upsert"] = memory()
    progress(f"  upsert {update_s:.1f} s ({size / update_s:,.0f} points/s); optimizing")

    started = time.perf_counter()
    changed = shard.optimize()
    optimize_s = time.perf_counter() - started
    info = shard.info()
    result["load"] |= {
        "optimize_s": round(optimize_s, 1),
        "optimize_changed": changed,
        "segments": info.segments_count,
        "points": info.points_count,
        "indexed_vectors": info.indexed_vectors_count,
    }
    result["memory_after_optimize"] = memory()
    progress(f"  optimize {optimize_s:.1f} s ({info.segments_count} segments); reopening")

    shard.close()
    del shard
    result["disk_bytes"] = disk_usage(path)
    memory_closed = memory()
    started = time.perf_counter()
    shard = qe.EdgeShard.load(str(path))
    reopen_s = time.perf_counter() - started
    first, _ = run(shard, queries.dense[:1], [None], float_params())
    result["load"] |= {"reopen_s": round(reopen_s, 2), "first_query_ms": round(first[0], 1)}
    result["memory_closed"] = memory_closed
    result["memory_after_reopen"] = memory()

    rows = []
    for name, filters in filter_sets(queries):
        kept = mean_count(shard, filters, size)
        progress(f"  filter {name}: exact search ({len(filters)} queries)")
        exact_ms, truth = run(shard, queries.dense, filters, float_params(exact=True))
        rows.append(
            {"filter": name, "kept": kept, "setting": EXACT, "recall_at_10": 1.0}
            | percentiles(exact_ms)
        )
        run(shard, queries.dense[:50], filters[:50], float_params())  # warm-up
        for label, needs_int8, params in SETTINGS:
            if needs_int8 and args.no_quantization:
                continue
            latencies, found = run(shard, queries.dense, filters, params())
            row = {"filter": name, "kept": kept, "setting": label}
            row |= percentiles(latencies) | {"recall_at_10": round(recall(found, truth), 4)}
            row["meets_target"] = (
                row["p95_ms"] < TARGET_P95_MS and row["recall_at_10"] >= TARGET_RECALL
            )
            rows.append(row)
    result["queries"] = rows
    if not args.no_hybrid:
        progress("  hybrid dense + sparse (DBSF)")
        result["hybrid_dbsf_clearance"] = percentiles(run_hybrid(shard, queries))
    result["memory_after_queries"] = memory()
    shard.close()
    del shard
    shutil.rmtree(path)
    progress(f"{size:,} chunks: done, shard deleted")
    return result


# ---------------------------------------------------------------- report


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def report(result: dict[str, Any], queries: int) -> None:
    load, disk = result["load"], result["disk_bytes"]
    say(
        f"== {result['size']:,} chunks ({result['topics']:,} topics, "
        f"{result['documents']:,} documents, {queries} queries per set) =="
    )
    say(
        f"load: upsert {load['upsert_s']} s ({load['upsert_points_per_s']:,} points/s; "
        f"{load['with_generation_s']} s with generation), optimize {load['optimize_s']} s "
        f"-> {load['segments']} segment(s), reopen {load['reopen_s']} s, "
        f"first query after reopen {load['first_query_ms']} ms"
    )
    parts = ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(disk.items()))
    say(f"disk: {gib(sum(disk.values()))} ({parts})")
    stages = [
        ("before", "memory_before"),
        ("after upsert", "memory_after_upsert"),
        ("after optimize", "memory_after_optimize"),
        ("closed", "memory_closed"),
        ("after reopen", "memory_after_reopen"),
        ("after queries", "memory_after_queries"),
    ]
    say("RSS (anon + file-backed): ")
    for label, key in stages:
        m = result[key]
        split = f" ({gib(m['anon'])} + {gib(m['file'])})" if "anon" in m else ""
        say(f"  {label:15} {gib(m['rss'])}{split}")
    header = (
        f"{'filter':19} {'kept':>6} {'setting':31} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'recall@10':>9}  target"
    )
    say(header)
    say("-" * len(header))
    previous = None
    for row in result["queries"]:
        first = row["filter"] != previous
        previous = row["filter"]
        name = row["filter"] if first else ""
        share = row["kept"] / result["size"]
        kept = (f"{share:.1%}" if share >= 0.001 else f"{share:.3%}") if first else ""
        target = "" if row["setting"] == EXACT else ("yes" if row["meets_target"] else "no")
        say(
            f"{name:19} {kept:>6} {row['setting']:31} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f} "
            f"{row['recall_at_10']:9.3f}  {target}"
        )
    if "hybrid_dbsf_clearance" in result:
        h = result["hybrid_dbsf_clearance"]
        say(
            f"hybrid dense+sparse, clearance filter in both prefetches (50 each), DBSF: "
            f"p50 {h['p50_ms']:.2f} ms, p95 {h['p95_ms']:.2f} ms"
        )
    say()


def verdict(result: dict[str, Any]) -> list[str]:
    """Settings meeting the target on every filtered query set of one size."""
    filtered = [r for r in result["queries"] if r["filter"] != "none" and r["setting"] != EXACT]
    settings = dict.fromkeys(r["setting"] for r in filtered)
    return [s for s in settings if all(r["meets_target"] for r in filtered if r["setting"] == s)]


def main(argv: list[str] | None = None) -> int:
    global _out
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="comma-separated chunk counts (default: %(default)s)",
    )
    parser.add_argument("--queries", type=int, default=200, help="queries per filter set")
    parser.add_argument("--dir", type=Path, help="where shards are written (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-quantization", action="store_true", help="Vigie's exact config")
    parser.add_argument("--no-hybrid", action="store_true", help="skip the dense+sparse query")
    parser.add_argument("--json", action="store_true", help="JSON on stdout, table on stderr")
    args = parser.parse_args(argv)
    if args.json:
        _out = sys.stderr
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    progress(f"qdrant_edge, sizes {sizes}, {args.queries} queries per set, {os.cpu_count()} CPUs")
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        root, cleanup = args.dir, None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="vigie-bench-search-")
        root = Path(cleanup.name)
    results = []
    try:
        for size in sizes:
            result = bench_size(size, args, root)
            results.append(result)
            report(result, args.queries)
    finally:
        if cleanup is not None:
            cleanup.cleanup()
    for result in results:
        passing = verdict(result)
        say(
            f"target at {result['size']:,} (filtered p95 < {TARGET_P95_MS:.0f} ms, recall@10 >= "
            f"{TARGET_RECALL}): {'; '.join(passing) if passing else 'no setting meets it'}"
        )
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
