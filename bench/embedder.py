"""Embedding throughput: the default embedder on each engine, same run, same chunks.

Embedding is the ingestion bottleneck on a small CPU machine. This measures, in
one run and on the same real chunks, how many passages per second each engine
embeds through Vigie's adapter (`retrieval.embedder.Embedder.embed_passages`,
prefixes, tokenisation and normalisation included), as Vigie runs it (Vigie's
process environment, `OMP_THREAD_LIMIT=1` included):

* e5 / torch: multilingual-e5-small on sentence-transformers and torch, the
  baseline (`VIGIE_EMBEDDER_BACKEND=torch`).
* e5 / onnx: the same model's ONNX export on ONNX Runtime, the default.
* e5 / onnx-int8: that export with ONNX Runtime's dynamic int8 weights.
* MiniLM / torch: all-MiniLM-L6-v2, the English-only previous default (6 layers,
  at most 256 tokens: longer chunks are truncated, which makes it cheaper).

Each e5 variant's vectors are compared with torch's on the same chunks (min and
mean cosine). With `--retrieval`, piaf-fr is indexed once per ONNX variant and
scored in `dense` and in the default `hybrid+rerank` mode, on the French questions
and on the English questions over French passages (MRR@10 and nDCG@10, side by
side): int8 is only worth choosing where those hold (within 0.01 of float32).

Chunks: the French benchmark passages (`piaf-fr/corpus.jsonl`), in file order,
cut by Vigie's own chunker as `ingest/evaluate.py` does; the first N are kept and
every variant embeds the same ones. For each batch size, each variant embeds one
warm-up batch, then all N chunks in one call; variants take turns within each
round so that load from other processes falls on all alike; with `--repeats R`
the best of R rounds is kept. Ratios are against e5 / torch in the same run.

    .venv/bin/python bench/embedder.py --help
    .venv/bin/python bench/embedder.py                      # 256 chunks, batches 8,32
    .venv/bin/python bench/embedder.py --repeats 2 --retrieval
    .venv/bin/python bench/embedder.py --json > embedder-bench.json

A default run takes a few minutes on 2 cores; `--retrieval` adds about ten.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vigie.offline import apply_offline_environment  # noqa: E402

apply_offline_environment()

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "eval" / "piaf-fr" / "corpus.jsonl"
MODELS_DIR = Path(os.environ.get("VIGIE_MODELS_DIR", REPO / ".vigie" / "models"))
E5 = "multilingual-e5-small"
MINILM = "all-MiniLM-L6-v2"
BASELINE = ("e5", "torch")
E5_VARIANTS = ("torch", "onnx", "onnx-int8")
RETRIEVAL_MODES = ("dense", "hybrid+rerank")


@dataclass
class Variant:
    model: str  # short name
    variant: str  # the backend
    embedder: object
    tokens: list[int]  # tokens read per chunk (capped at max_seq_length)
    truncated: int  # chunks longer than max_seq_length


@dataclass
class Row:
    model: str
    variant: str
    batch_size: int
    passages_per_s: float
    tokens_per_s: float
    ratio_vs_torch: float
    seconds: float


def int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def build_chunks(corpus: Path, embedder, limit: int) -> list[str]:
    """The first `limit` chunks of the corpus, cut by Vigie's chunker as the evaluation does."""
    from ingest.chunking import DocumentChunker
    from ingest.evaluate import corpus_document
    from vigie.config import Settings
    from vigie.contracts import Level

    settings = Settings()
    texts: list[str] = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            doc_id = str(row.get("_id") or row.get("id"))
            chunker = DocumentChunker(
                corpus_document(doc_id, row.get("title", ""), row.get("text", "")),
                Level.NON_PROTEGE,
                (),
                settings,
                measure=embedder.passage_tokens,
                max_tokens=embedder.max_tokens,
            )
            chunks = chunker.feed(chunker.doc.elements) + chunker.finish()
            texts += [c.text for c in chunks]
            if len(texts) >= limit:
                break
    return texts[:limit]


def load(name: str, backend: str = "torch"):
    from retrieval.embedder import Embedder

    return Embedder(MODELS_DIR / name, backend=backend, models_dir=MODELS_DIR)


def token_counts(embedder, chunks: list[str]) -> tuple[list[int], int]:
    full = [embedder.passage_tokens(c) for c in chunks]
    cap = embedder.max_tokens
    return [min(n, cap) for n in full], sum(n > cap for n in full)


def time_embed(embedder, chunks: list[str], batch_size: int) -> tuple[float, list[list[float]]]:
    embedder.batch_size = batch_size
    embedder.embed_passages(chunks[:batch_size])  # warm-up batch
    started = time.perf_counter()
    vectors = embedder.embed_passages(chunks)
    return time.perf_counter() - started, vectors


def cosines(a: list[list[float]], b: list[list[float]]) -> list[float]:
    import numpy as np

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return (x * y).sum(axis=1).tolist()


def retrieval(corpus_folder: Path, variants: list[Variant]) -> dict:
    """piaf-fr indexed once per ONNX variant, scored per mode on French and English questions."""
    import tempfile

    from ingest.evaluate import index_eval_set, run_mode
    from retrieval.evaluation import EvalSet
    from retrieval.qdrant_edge import QdrantEdgeStore
    from retrieval.search import Searcher
    from vigie.config import Settings

    sets = {
        "fr": EvalSet.load(corpus_folder),
        "en_over_fr": EvalSet.load(corpus_folder, corpus_folder / "queries_en50.jsonl"),
    }
    scores: dict = {}
    for v in variants:
        if v.model != "e5" or v.variant == "torch":
            continue  # torch's vectors are the float32 graph's (cosine printed above)
        settings = Settings(models_dir=MODELS_DIR, embedder_backend=v.variant)
        v.embedder.batch_size = settings.embedder_batch_size
        with tempfile.TemporaryDirectory(prefix="vigie-bench-") as tmp:
            store = QdrantEdgeStore.open(Path(tmp) / "qdrant")
            try:
                index_eval_set(sets["fr"], settings, v.embedder, store)
                searcher = Searcher.from_settings(settings, v.embedder, store)
                for language, eval_set in sets.items():
                    for mode in RETRIEVAL_MODES:
                        result = run_mode(mode, eval_set, searcher)
                        scores.setdefault(f"{language}/{mode}", {})[v.variant] = {
                            "mrr10": result.mrr10,
                            "ndcg10": result.ndcg10,
                        }
            finally:
                store.close()
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--chunks", type=int, default=256, help="first N chunks (default 256)")
    parser.add_argument("--batch-sizes", type=int_list, default=[8, 32], help="e.g. 8,32")
    parser.add_argument("--repeats", type=int, default=1, help="rounds; best kept (default 1)")
    parser.add_argument("--no-int8", action="store_true", help="skip the onnx-int8 variant")
    parser.add_argument("--no-minilm", action="store_true", help="skip all-MiniLM-L6-v2")
    parser.add_argument(
        "--retrieval", action="store_true", help="also score piaf-fr with float32 and int8"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    load_before = os.getloadavg()
    e5 = load(E5)
    chunks = build_chunks(args.corpus, e5, args.chunks)
    if not chunks:
        raise SystemExit(f"no chunks from {args.corpus}")
    variants = [Variant("e5", "torch", e5, *token_counts(e5, chunks))]
    for backend in E5_VARIANTS[1:]:
        if backend == "onnx-int8" and args.no_int8:
            continue
        embedder = load(E5, backend)
        variants.append(Variant("e5", backend, embedder, *token_counts(embedder, chunks)))
    if not args.no_minilm:
        minilm = load(MINILM)
        variants.append(Variant("MiniLM", "torch", minilm, *token_counts(minilm, chunks)))

    best: dict[tuple[str, str, int], float] = {}
    vectors: dict[tuple[str, str], list[list[float]]] = {}
    for _ in range(args.repeats):
        for batch_size in args.batch_sizes:
            for v in variants:
                seconds, vecs = time_embed(v.embedder, chunks, batch_size)
                key = (v.model, v.variant, batch_size)
                best[key] = min(best.get(key, seconds), seconds)
                vectors.setdefault((v.model, v.variant), vecs)

    rows: list[Row] = []
    for batch_size in args.batch_sizes:
        base = len(chunks) / best[(*BASELINE, batch_size)]
        for v in variants:
            seconds = best[(v.model, v.variant, batch_size)]
            rate = len(chunks) / seconds
            rows.append(
                Row(
                    v.model,
                    v.variant,
                    batch_size,
                    round(rate, 2),
                    round(sum(v.tokens) / seconds, 1),
                    round(rate / base, 2),
                    round(seconds, 2),
                )
            )
    agreement = {}
    for v in variants:
        if v.model == "e5" and v.variant != "torch":
            cos = cosines(vectors[("e5", v.variant)], vectors[BASELINE])
            agreement[v.variant] = {
                "min_cosine": round(min(cos), 5),
                "mean_cosine": round(statistics.mean(cos), 5),
            }
    models = {
        f"{v.model}/{v.variant}": {
            "mean_tokens_per_chunk": round(statistics.mean(v.tokens), 1),
            "max_seq_length": v.embedder.max_tokens,
            "chunks_truncated": v.truncated,
        }
        for v in variants
    }
    scores = retrieval(args.corpus.parent, variants) if args.retrieval else None
    result = {
        "corpus": str(args.corpus),
        "chunks": len(chunks),
        "mean_chars_per_chunk": round(statistics.mean(len(c) for c in chunks), 1),
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "repeats": args.repeats,
        "models": models,
        "vs_torch_vectors": agreement,
        "rows": [asdict(r) for r in rows],
        "retrieval": scores,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    print(
        f"{len(chunks)} chunks from {args.corpus.parent.name}/{args.corpus.name} "
        f"(mean {result['mean_chars_per_chunk']} chars); {os.cpu_count()} cores; best of "
        f"{args.repeats} round(s); load average {result['load_average_before'][0]} before, "
        f"{result['load_average_after'][0]} after"
    )
    for name, info in models.items():
        print(
            f"  {name:<16} mean {info['mean_tokens_per_chunk']} tokens/chunk read "
            f"(max {info['max_seq_length']}, {info['chunks_truncated']} chunks truncated)"
        )
    header = (
        f"{'model':<8} {'variant':<10} {'batch':>5} {'passages/s':>10} {'tokens/s':>9} "
        f"{'vs torch':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.model:<8} {r.variant:<10} {r.batch_size:>5} {r.passages_per_s:>10.2f} "
            f"{r.tokens_per_s:>9.0f} {r.ratio_vs_torch:>8.2f}x"
        )
    for variant, quality in agreement.items():
        print(
            f"e5 {variant} vs torch vectors, same chunks: min cosine {quality['min_cosine']}, "
            f"mean {quality['mean_cosine']}"
        )
    if scores:
        print("retrieval on piaf-fr (MRR@10 / nDCG@10):")
        for key, by_variant in scores.items():
            cells = "   ".join(
                f"{name} {s['mrr10']:.3f} / {s['ndcg10']:.3f}" for name, s in by_variant.items()
            )
            print(f"  {key:<26} {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
