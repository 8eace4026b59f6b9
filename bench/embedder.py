"""Embedding throughput: the default embedder against the previous one, same run, same chunks.

Embedding is the ingestion bottleneck on a small CPU machine. This measures, in
one run and on the same real chunks, how many passages per second each model
embeds through Vigie's adapter (`retrieval.embedder.Embedder.embed_passages`,
prefixes and normalisation included):

* e5 / float32: multilingual-e5-small, Vigie's default (12 layers, 384-d,
  XLM-R tokenizer, at most 512 tokens, `passage: ` prefix).
* e5 / int8-dyn: a second instance of the same model whose Linear layers are
  quantised with torch dynamic int8 quantisation
  (`torch.ao.quantization.quantize_dynamic`). Its vectors are compared with the
  float32 ones on the same chunks (min and mean cosine), so the quality cost
  sits next to the speed-up.
* MiniLM / float32: all-MiniLM-L6-v2, the previous default and the baseline
  (6 layers, English only, at most 256 tokens: longer chunks are truncated,
  which makes it cheaper per chunk than a model that reads them whole).

Chunks: the French benchmark passages (`piaf-fr/corpus.jsonl`), in file order,
cut by Vigie's own chunker as `ingest/evaluate.py` does (`corpus_document` +
`DocumentChunker`, measured with the e5 tokenizer and its token limit); the
first N chunks are kept and every model embeds the same ones.

Timing: for each batch size (the encoder batch, `Embedder.batch_size`) and each
torch thread count, each model embeds one warm-up batch, then all N chunks in
one `embed_passages` call (sentence-transformers sorts them by length and
encodes `batch size` at a time). Models take turns within each round so that
load from other processes falls on all of them alike; with `--repeats R` the
best of R rounds is kept. Tokens per chunk are each model's own tokenizer
count (`passage_tokens`, prefix included), capped at its `max_seq_length`, so
tokens/s counts the tokens the model actually read. Ratios are against
MiniLM at the same batch size and thread count, measured in the same run.

    .venv/bin/python bench/embedder.py --help
    .venv/bin/python bench/embedder.py                      # 256 chunks, batches 8,32
    .venv/bin/python bench/embedder.py --threads 1,2 --repeats 2
    .venv/bin/python bench/embedder.py --json > embedder-bench.json

A default run takes a few minutes on 2 cores (model loading included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vigie.offline import apply_offline_environment  # noqa: E402

apply_offline_environment()

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "eval" / "piaf-fr" / "corpus.jsonl"
MODELS_DIR = REPO / ".vigie" / "models"
E5 = "multilingual-e5-small"
MINILM = "all-MiniLM-L6-v2"
BASELINE = ("MiniLM", "float32")


@dataclass
class Variant:
    model: str  # short name
    variant: str  # float32 | int8-dyn
    embedder: object
    tokens: list[int]  # tokens read per chunk (capped at max_seq_length)
    truncated: int  # chunks longer than max_seq_length


@dataclass
class Row:
    model: str
    variant: str
    batch_size: int
    threads: int
    passages_per_s: float
    tokens_per_s: float
    ratio_vs_minilm: float | None = None
    seconds: float = 0.0


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


def load(name: str):
    from retrieval.embedder import Embedder

    return Embedder(MODELS_DIR / name)


def quantise(embedder) -> None:
    """Dynamic int8 quantisation of the Linear layers of the transformer module, in place."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(
            embedder._model[0], {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--chunks", type=int, default=256, help="first N chunks (default 256)")
    parser.add_argument("--batch-sizes", type=int_list, default=[8, 32], help="e.g. 8,32")
    parser.add_argument(
        "--threads", type=int_list, default=None, help="torch threads, e.g. 1,2 (default: torch's)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="rounds; best kept (default 1)")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 e5 variant")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    default_threads = torch.get_num_threads()
    threads = args.threads or [default_threads]

    e5 = load(E5)
    chunks = build_chunks(args.corpus, e5, args.chunks)
    if not chunks:
        raise SystemExit(f"no chunks from {args.corpus}")
    variants = [Variant("e5", "float32", e5, *token_counts(e5, chunks))]
    if not args.no_int8:
        e5q = load(E5)
        quantise(e5q)
        variants.append(Variant("e5", "int8-dyn", e5q, *token_counts(e5q, chunks)))
    minilm = load(MINILM)
    variants.append(Variant(*BASELINE, minilm, *token_counts(minilm, chunks)))

    best: dict[tuple[str, str, int, int], float] = {}
    vectors: dict[tuple[str, str], list[list[float]]] = {}
    for _ in range(args.repeats):
        for batch_size in args.batch_sizes:
            for n_threads in threads:
                torch.set_num_threads(n_threads)
                for v in variants:
                    seconds, vecs = time_embed(v.embedder, chunks, batch_size)
                    key = (v.model, v.variant, batch_size, n_threads)
                    best[key] = min(best.get(key, seconds), seconds)
                    vectors.setdefault((v.model, v.variant), vecs)
    torch.set_num_threads(default_threads)

    rows: list[Row] = []
    for batch_size in args.batch_sizes:
        for n_threads in threads:
            base = len(chunks) / best[(*BASELINE, batch_size, n_threads)]
            for v in variants:
                seconds = best[(v.model, v.variant, batch_size, n_threads)]
                rate = len(chunks) / seconds
                rows.append(
                    Row(
                        v.model,
                        v.variant,
                        batch_size,
                        n_threads,
                        round(rate, 2),
                        round(sum(v.tokens) / seconds, 1),
                        round(rate / base, 2),
                        round(seconds, 2),
                    )
                )

    quality = None
    if ("e5", "int8-dyn") in vectors:
        cos = cosines(vectors[("e5", "int8-dyn")], vectors[("e5", "float32")])
        quality = {"min_cosine": round(min(cos), 4), "mean_cosine": round(statistics.mean(cos), 4)}
    models = {
        f"{v.model}/{v.variant}": {
            "mean_tokens_per_chunk": round(statistics.mean(v.tokens), 1),
            "max_seq_length": v.embedder.max_tokens,
            "chunks_truncated": v.truncated,
        }
        for v in variants
    }
    result = {
        "corpus": str(args.corpus),
        "chunks": len(chunks),
        "mean_chars_per_chunk": round(statistics.mean(len(c) for c in chunks), 1),
        "torch_default_threads": default_threads,
        "repeats": args.repeats,
        "models": models,
        "int8_vs_float32": quality,
        "rows": [asdict(r) for r in rows],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    print(
        f"{len(chunks)} chunks from {args.corpus.parent.name}/{args.corpus.name} "
        f"(mean {result['mean_chars_per_chunk']} chars); torch.get_num_threads() = "
        f"{default_threads}; best of {args.repeats} round(s)"
    )
    for name, info in models.items():
        print(
            f"  {name:<16} mean {info['mean_tokens_per_chunk']} tokens/chunk read "
            f"(max {info['max_seq_length']}, {info['chunks_truncated']} chunks truncated)"
        )
    header = (
        f"{'model':<8} {'variant':<9} {'batch':>5} {'threads':>7} "
        f"{'passages/s':>10} {'tokens/s':>9} {'vs MiniLM':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.model:<8} {r.variant:<9} {r.batch_size:>5} {r.threads:>7} "
            f"{r.passages_per_s:>10.2f} {r.tokens_per_s:>9.0f} {r.ratio_vs_minilm:>8.2f}x"
        )
    if quality:
        print(
            f"e5 int8-dyn vs float32 vectors, same chunks: min cosine {quality['min_cosine']}, "
            f"mean {quality['mean_cosine']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
