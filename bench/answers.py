"""Answer quality on piaf-fr, and the calibration of Vigie's refusal threshold.

The corpus is indexed twice through the ingestion code, into throw-away stores:
whole, and without the gold passages of half the questions. The first half of
the questions is asked against the whole index (answerable); the second half
against the index that lacks their passages (unanswerable: the archive does
not hold the answer).

1. **Refusal threshold** (no LLM, every question): the evidence for a question
   is the similarity of its nearest passage (`Searcher.evidence`). The threshold
   printed refuses at most 10% of the answerable questions (and says how many
   unanswerable ones it refuses); the threshold with the best balanced accuracy
   is printed beside it. Both separately for questions in the archive's language
   and in another language (English over French passages sit lower in the
   embedder's space). `REFUSAL_THRESHOLD` and `REFUSAL_THRESHOLD_CROSS` default
   to the first.
2. **Answers** (`--answers N` questions from each half, the default LLM): the
   share of answers containing a gold answer span (`answers.jsonl`, accents and
   case folded), citation precision (cited passages that are the question's
   relevant one per `qrels.tsv`), the share of the answers' sentences no source
   supports (a sentence with [n] checked against its cited sources, one without
   against every source given: retrieval/citations.py), refusals on unanswerable
   questions (right) and on answerable ones (false refusals), and why each refusal
   came: "too far" (threshold, before generation) or "unsupported" (the answer
   was withdrawn after it).

    .venv/bin/python bench/answers.py                      # calibration + 10 answers per half
    .venv/bin/python bench/answers.py --answers 0          # calibration only (about 5 minutes)
    .venv/bin/python bench/answers.py --queries ../shared/corpus/eval/piaf-fr/queries_en50.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vigie.offline import apply_offline_environment  # noqa: E402

apply_offline_environment()

from ingest.evaluate import index_eval_set  # noqa: E402
from retrieval.answer import Answer, Answerer  # noqa: E402
from retrieval.citations import MARKER, check_answer, supported_by_any  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.evaluation import EvalSet  # noqa: E402
from retrieval.lexical import tokens  # noqa: E402
from retrieval.llm import LocalLLM  # noqa: E402
from retrieval.qdrant_edge import QdrantEdgeStore  # noqa: E402
from retrieval.search import Searcher  # noqa: E402
from vigie.config import Settings  # noqa: E402
from vigie.contracts import Clearance, Level  # noqa: E402
from vigie.language import strip_accents  # noqa: E402

PIAF = ROOT.parent / "shared" / "corpus" / "eval" / "piaf-fr"
READER = Clearance(Level.TRES_SECRET)


FALSE_REFUSALS = 0.10  # the operating point: refuse at most this share of answerable questions


def capped_threshold(answerable: list[float], unanswerable: list[float]) -> tuple[float, float]:
    """(threshold, share of unanswerable refused) refusing at most FALSE_REFUSALS of the
    answerable questions: an analyst denied an answer the archive holds pays more than
    one shown a cited answer the checker can flag."""
    threshold = float(np.quantile(answerable, FALSE_REFUSALS, method="lower"))
    return threshold, float(np.mean(np.asarray(unanswerable) < threshold))


def best_threshold(answerable: list[float], unanswerable: list[float]) -> tuple[float, float]:
    """(threshold, balanced accuracy): refuse below the threshold."""
    best = (0.0, 0.0)
    for threshold in np.unique(np.concatenate([answerable, unanswerable])):
        kept = np.mean(np.asarray(answerable) >= threshold)
        refused = np.mean(np.asarray(unanswerable) < threshold)
        accuracy = (kept + refused) / 2
        if accuracy > best[1]:
            best = (float(threshold), float(accuracy))
    return best


def folded(text: str) -> str:
    return " ".join(strip_accents(text).lower().split())


def contains_gold(text: str, spans: list[str]) -> bool:
    return any(folded(span) in folded(text) for span in spans)


def share(flags: list[bool]) -> float | None:
    return round(float(np.mean(flags)), 3) if flags else None


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def sentence_support(answer: Answer, embedder: Embedder) -> dict[str, int]:
    """How many of the answer's sentences claim something, and how many of those no
    source supports (cited: by its sources; uncited: by any source given)."""
    if answer.refused or not answer.sources:
        return {"sentences": 0, "unsupported": 0}
    checked = check_answer(answer.text, answer.sources, embedder)
    claims = [s for s in checked.sentences if tokens(MARKER.sub(" ", s.text))]
    unsupported = sum(
        1
        for s in claims
        if (s.supported is False)
        or (s.supported is None and not supported_by_any(s.text, answer.sources, embedder))
    )
    return {"sentences": len(claims), "unsupported": unsupported}


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    given = [r for r in answerable if not r["refused"]]
    return {
        "answerable_asked": len(answerable),
        "unanswerable_asked": len(unanswerable),
        "gold_span_share": share([r["gold_span"] for r in given]),
        "citation_precision": ratio(
            sum(r["cited_relevant"] for r in given), sum(r["cited"] for r in given)
        ),
        "unsupported_sentence_share": ratio(
            sum(r["unsupported"] for r in given), sum(r["sentences"] for r in given)
        ),
        # The same over every answer given, unanswerable questions' included.
        "unsupported_sentence_share_all": ratio(
            sum(r["unsupported"] for r in rows if not r["refused"]),
            sum(r["sentences"] for r in rows if not r["refused"]),
        ),
        "refusal_accuracy": share([r["refused"] for r in unanswerable]),
        "false_refusals": share([r["refused"] for r in answerable]),
        # Why Vigie refused: "too far" before generation, "unsupported" after (withdrawn).
        "refusal_reasons": {
            group: {
                reason: sum(r["refusal"] == reason for r in members)
                for reason in sorted({r["refusal"] for r in members if r["refusal"]})
            }
            for group, members in (("unanswerable", unanswerable), ("answerable", answerable))
        },
        "seconds_per_answer": round(float(np.median([r["seconds"] for r in rows])), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=PIAF)
    parser.add_argument("--queries", type=Path, default=None)
    parser.add_argument("--answers", type=int, default=10, help="questions per half (LLM)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings = Settings(models_dir=ROOT / ".vigie" / "models")
    full = EvalSet.load(args.folder, args.queries)
    ids = sorted(full.queries)
    half = len(ids) // 2
    answerable, unanswerable = ids[:half], ids[half:]
    missing = {doc for qid in unanswerable for doc in full.qrels[qid]}
    partial = EvalSet(
        {k: v for k, v in full.corpus.items() if k not in missing}, full.queries, full.qrels
    )
    gold = {}
    with (args.folder / "answers.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            gold[row["id"]] = row["answers"]

    embedder = Embedder.from_settings(settings)
    result: dict = {"queries": len(ids), "answerable": half, "unanswerable": len(ids) - half}
    with tempfile.TemporaryDirectory(prefix="vigie-answers-") as tmp:
        stores = {}
        for name, eval_set in (("whole", full), ("partial", partial)):
            started = time.perf_counter()
            stores[name] = QdrantEdgeStore.open(Path(tmp) / name)
            index_eval_set(eval_set, settings, embedder, stores[name])
            print(f"indexed {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        searchers = {
            name: Searcher.from_settings(settings, embedder, s) for name, s in stores.items()
        }

        def asked(qid: str) -> Searcher:
            return searchers["whole" if qid in answerable else "partial"]

        evidence = {qid: asked(qid).evidence(full.queries[qid], READER) for qid in ids}
        for group in ("same", "cross"):
            same = [q for q in ids if evidence[q].same_language == (group == "same")]
            yes = [evidence[q].similarity for q in same if q in answerable]
            no = [evidence[q].similarity for q in same if q in unanswerable]
            if yes and no:
                threshold, accuracy = best_threshold(yes, no)
                capped, refused = capped_threshold(yes, no)
                result[f"threshold_{group}_language"] = {
                    "threshold": round(capped, 4),
                    "false_refusals": round(float(np.mean(np.asarray(yes) < capped)), 3),
                    "unanswerable_refused": round(refused, 3),
                    "best_balanced_threshold": round(threshold, 4),
                    "balanced_accuracy": round(accuracy, 3),
                    "answerable": len(yes),
                    "unanswerable": len(no),
                    "answerable_median": round(float(np.median(yes)), 4),
                    "unanswerable_median": round(float(np.median(no)), 4),
                }

        if args.answers:
            llm = LocalLLM.from_settings(settings)
            rows = []
            for qid in answerable[: args.answers] + unanswerable[: args.answers]:
                answerer = Answerer(
                    asked(qid),
                    llm,
                    top_k=settings.top_k,
                    max_tokens=settings.max_answer_tokens,
                    temperature=settings.temperature,
                    refusal_threshold=settings.refusal_thresholds(),
                )
                answer = answerer.ask(full.queries[qid], READER).consume()
                cited = [c for c in answer.citations if c.cited]
                rows.append(
                    {
                        "answerable": qid in answerable,
                        "refused": answer.refused,
                        "refusal": answer.refusal,
                        "gold_span": any(
                            folded(g) in folded(answer.text) for g in gold.get(qid, [])
                        ),
                        "cited": len(cited),
                        "cited_relevant": sum(c.document in full.qrels[qid] for c in cited),
                        **sentence_support(answer, embedder),
                        "seconds": answer.timings.get("total", 0.0),
                    }
                )
                print(f"answered {len(rows)}: {rows[-1]}", file=sys.stderr)
            result["answers"] = summarise(rows)
        for store in stores.values():
            store.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
