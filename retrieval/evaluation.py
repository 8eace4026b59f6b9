"""Retrieval metrics and BEIR-layout evaluation sets, in plain Python.

A BEIR folder holds `corpus.jsonl` (`{"id" or "_id", "title", "text"}`),
`queries.jsonl` (`{"id" or "_id", "text"}`) and `qrels.tsv` (header
`query-id  corpus-id  score`, score > 0 = relevant). Metrics are the usual
ones, on a ranked list of *document* ids (a document is scored by its best
chunk):

- nDCG@k with graded gains (the qrels score) and log2 discounts;
- Recall@k: the share of a query's relevant documents found in the top k;
- MRR@k: one over the rank of the first relevant document (0 past k).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vigie.errors import InputError


@dataclass
class EvalSet:
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # id -> text
    qrels: dict[str, dict[str, int]]  # query id -> {document id: relevance}

    @classmethod
    def load(cls, folder: Path, queries_file: Path | None = None) -> EvalSet:
        """Read a BEIR folder; `queries_file` replaces its `queries.jsonl`.

        Only queries that have a relevance judgement are kept.
        """
        folder = Path(folder)
        for name in ("corpus.jsonl", "qrels.tsv"):
            if not (folder / name).is_file():
                raise InputError(f"{folder} is not a BEIR folder: {name} is missing")
        corpus = {
            _id(row): (row.get("title", ""), row.get("text", ""))
            for row in _jsonl(folder / "corpus.jsonl")
        }
        queries_path = Path(queries_file) if queries_file else folder / "queries.jsonl"
        if not queries_path.is_file():
            raise InputError(f"queries file not found: {queries_path}")
        queries = {_id(row): row["text"] for row in _jsonl(queries_path)}
        qrels: dict[str, dict[str, int]] = {}
        with (folder / "qrels.tsv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                score = int(float(row["score"]))
                if score > 0:
                    qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = score
        judged = {qid: text for qid, text in queries.items() if qid in qrels}
        if not judged:
            raise InputError(f"no query of {queries_path} has a judgement in qrels.tsv")
        return cls(corpus, judged, {qid: qrels[qid] for qid in judged})

    def long_documents(self) -> EvalSet:
        """The same questions over long documents: each article's passages joined into one.

        A passage id is `ARTICLE-N` (piaf-fr: `piaf-012-03`, passage 3 of article
        `piaf-012`). An article's passages are joined in passage order, a blank line
        between them (so each stays a paragraph), under the first one's title; the
        article's id is the document's. A query's judgement moves to the article,
        with the best grade of its judged passages. An id without `-N` stands alone.
        """
        articles: dict[str, list[tuple[int, str, str]]] = {}
        for passage_id, (title, text) in self.corpus.items():
            article, number = article_of(passage_id)
            articles.setdefault(article, []).append((number, title, text))
        corpus = {}
        for article, passages in articles.items():
            passages.sort(key=lambda passage: passage[0])
            text = "\n\n".join(text for _, _, text in passages if text.strip())
            corpus[article] = (passages[0][1], text)
        qrels: dict[str, dict[str, int]] = {}
        for query_id, judged in self.qrels.items():
            for passage_id, score in judged.items():
                article = article_of(passage_id)[0]
                qrels.setdefault(query_id, {})[article] = max(
                    score, qrels.get(query_id, {}).get(article, 0)
                )
        return EvalSet(corpus, dict(self.queries), qrels)


def article_of(passage_id: str) -> tuple[str, int]:
    """`piaf-012-03` -> (`piaf-012`, 3): the article and the passage's place in it."""
    article, _, number = passage_id.rpartition("-")
    if article and number.isdigit():
        return article, int(number)
    return passage_id, 0


def _id(row: dict) -> str:
    return str(row.get("id", row.get("_id")))


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    gains = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return gains / best if best else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & relevant.keys()) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` (0..1) percentile, by linear interpolation between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class ModeResult:
    """One retrieval mode over every query of a set."""

    mode: str
    ndcg10: float = 0.0
    recall10: float = 0.0
    recall100: float = 0.0
    mrr10: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    queries: int = 0
    per_query: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def score(
        cls,
        mode: str,
        rankings: dict[str, list[str]],
        qrels: dict[str, dict[str, int]],
        seconds: Sequence[float],
    ) -> ModeResult:
        count = len(rankings)

        def mean(metric, k: int) -> float:  # noqa: ANN001 - one of the metric functions
            return sum(metric(rankings[q], qrels[q], k) for q in rankings) / count

        return cls(
            mode=mode,
            ndcg10=round(mean(ndcg_at, 10), 4),
            recall10=round(mean(recall_at, 10), 4),
            recall100=round(mean(recall_at, 100), 4),
            mrr10=round(mean(mrr_at, 10), 4),
            latency_p50_ms=round(percentile(seconds, 0.50) * 1000, 1),
            latency_p95_ms=round(percentile(seconds, 0.95) * 1000, 1),
            queries=count,
            per_query=rankings,
        )

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "ndcg@10": self.ndcg10,
            "recall@10": self.recall10,
            "recall@100": self.recall100,
            "mrr@10": self.mrr10,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "queries": self.queries,
        }
