"""Answer quality on piaf-fr, and the calibration of Vigie's refusal threshold.

The corpus is indexed twice through the ingestion code, into throw-away stores:
whole, and without the gold passages of half the questions. The first half of
the questions is asked against the whole index (answerable); the second half
against the index that lacks their passages (unanswerable: the archive does
not hold the answer).

1. **Refusal threshold** (no LLM, every question): the evidence for a question is
   its best sentence's cosine to it among the sources it retrieves
   (`Answerer.evidence`, the score of the first quote), plus, in the question's
   language, a weight times the share of its words the first passage holds (the
   weight that scores best held out, 0 to 0.4). The threshold printed
   refuses at most 10% of the answerable questions (and says how many
   unanswerable ones it refuses); the threshold with the best balanced accuracy is
   printed beside it, and both are also scored held out (chosen on one half of the
   questions, scored on the other, and the other way round). Separately for
   questions in the archive's language and in another language (English over
   French passages sit lower in the embedder's space). `REFUSAL_THRESHOLD` and
   `REFUSAL_THRESHOLD_CROSS` default to the first, `REFUSAL_COVERAGE_WEIGHT` to the weight.
2. **Answers** (`--answers N` questions from each half, the default LLM unless
   `--llm`): the share of answers holding a gold answer span (`answers.jsonl`,
   accents and case folded) and, separately, of quotes holding one; citation
   precision (cited passages that are the question's relevant one per
   `qrels.tsv`); the share of the answers' sentences no source supports; refusals
   on unanswerable questions (right) and on answerable ones (false), their balanced
   accuracy, and why each refusal came ("too far" before generation, "declined" by
   the model, "unsupported": withdrawn after it); median and p95 of the time to
   the quotes and to the first token, and the prompt's tokens. The load average is
   printed with the figures.

    .venv/bin/python bench/answers.py                      # calibration + 30 answers per half
    .venv/bin/python bench/answers.py --answers 0          # calibration only (a few minutes)
    .venv/bin/python bench/answers.py --queries ../shared/corpus/eval/piaf-fr/queries_en50.jsonl
    .venv/bin/python bench/answers.py --llm .vigie/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import json
import os
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
from retrieval.answer import Answer, Answerer, Evidence, RefusalThreshold  # noqa: E402
from retrieval.citations import ANSWER_SENTENCE, claim_stems  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.evaluation import EvalSet  # noqa: E402
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


def sentence_support(answer: Answer) -> dict[str, int]:
    """How many of the answer's sentences claim something, and how many of those no
    source supports (the checker's own verdict, attribution in code included)."""
    if answer.refused or not answer.sources or answer.quotes_only:
        return {"sentences": 0, "unsupported": 0}
    claims = [s for s in ANSWER_SENTENCE.split(answer.text) if claim_stems(s)]
    return {"sentences": len(claims), "unsupported": len(answer.unsupported)}


def quantile(values: list[float], share: float) -> float | None:
    return round(float(np.quantile(values, share)), 2) if values else None


def balanced(kept: float | None, refused: float | None) -> float | None:
    if kept is None or refused is None:
        return None
    return round((kept + refused) / 2, 3)


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    given = [r for r in answerable if not r["refused"]]
    refused_right = share([r["refused"] for r in unanswerable])
    false_refusals = share([r["refused"] for r in answerable])
    first_tokens = [r["first_token"] for r in rows if r["first_token"] is not None]
    quotes = [r["quote_seconds"] for r in rows if r["quote_seconds"] is not None]
    prompts = [r["prompt_tokens"] for r in rows if r["prompt_tokens"]]
    return {
        "answerable_asked": len(answerable),
        "unanswerable_asked": len(unanswerable),
        # Over every answerable question (a refusal holds no gold span).
        "gold_span_in_answer": share([r["gold_span"] for r in answerable]),
        "gold_span_in_quotes": share([r["quote_gold_span"] for r in answerable]),
        "gold_span_in_answer_given": share([r["gold_span"] for r in given]),
        "quotes_only_answers": sum(r["quotes_only"] for r in rows),
        "citation_precision": ratio(
            sum(r["cited_relevant"] for r in given), sum(r["cited"] for r in given)
        ),
        "unsupported_sentence_share": ratio(
            sum(r["unsupported"] for r in given), sum(r["sentences"] for r in given)
        ),
        "refusal_accuracy": refused_right,
        "false_refusals": false_refusals,
        "refusal_balanced_accuracy": balanced(
            None if false_refusals is None else 1 - false_refusals, refused_right
        ),
        # Why Vigie refused: "too far" before generation, "declined" by the model,
        # "unsupported" after it (withdrawn).
        "refusal_reasons": {
            group: {
                reason: sum(r["refusal"] == reason for r in members)
                for reason in sorted({r["refusal"] for r in members if r["refusal"]})
            }
            for group, members in (("unanswerable", unanswerable), ("answerable", answerable))
        },
        "quote_seconds_median": quantile(quotes, 0.5),
        "quote_seconds_p95": quantile(quotes, 0.95),
        "first_token_seconds_median": quantile(first_tokens, 0.5),
        "first_token_seconds_p95": quantile(first_tokens, 0.95),
        "prompt_tokens_median": quantile(prompts, 0.5),
        "seconds_per_answer": round(float(np.median([r["seconds"] for r in rows])), 1),
    }


COVERAGE_WEIGHTS = [round(w, 2) for w in np.arange(0.0, 0.42, 0.02)]


def calibrate(
    evidence: dict[str, Evidence], answerable: list[str], unanswerable: list[str]
) -> dict:
    """The thresholds per language group, chosen on all questions and held out. In the
    question's language the evidence is the cosine plus a weight times the question's
    words found in the first passage: the weight kept is the one whose capped threshold
    scores best held out (0 when words do not help)."""
    result: dict = {}
    for group in ("same", "cross"):
        ids = [q for q in evidence if evidence[q].same_language == (group == "same")]
        weights = COVERAGE_WEIGHTS if group == "same" else [0.0]
        scored = {
            weight: {q: RefusalThreshold(0.0, 0.0, weight).strength(evidence[q]) for q in ids}
            for weight in weights
        }
        held = {weight: held_out(ids, scored[weight], answerable) for weight in weights}
        if None in held.values():
            continue
        weight = max(weights, key=lambda w: (held[w], -w))
        strength = scored[weight]
        yes = [strength[q] for q in ids if q in answerable]
        no = [strength[q] for q in ids if q in unanswerable]
        threshold, accuracy = best_threshold(yes, no)
        capped, refused = capped_threshold(yes, no)
        result[f"threshold_{group}_language"] = {
            "threshold": round(capped, 4),
            "coverage_weight": weight,
            "false_refusals": round(float(np.mean(np.asarray(yes) < capped)), 3),
            "unanswerable_refused": round(refused, 3),
            "balanced_accuracy_at_threshold": balanced(
                float(np.mean(np.asarray(yes) >= capped)), refused
            ),
            "best_balanced_threshold": round(threshold, 4),
            "best_balanced_accuracy": round(accuracy, 3),
            "held_out_balanced_accuracy": held[weight],
            "held_out_without_coverage": held[0.0],
            "answerable": len(yes),
            "unanswerable": len(no),
            "answerable_median": round(float(np.median(yes)), 4),
            "unanswerable_median": round(float(np.median(no)), 4),
        }
    return result


def held_out(ids: list[str], strength: dict[str, float], answerable: list[str]) -> float | None:
    """Balanced accuracy of the capped threshold chosen on every other question and
    scored on the rest, both ways round, averaged."""
    scores = []
    for fold in (0, 1):
        pick = [q for n, q in enumerate(ids) if n % 2 == fold]
        test = [q for n, q in enumerate(ids) if n % 2 != fold]
        yes = [strength[q] for q in pick if q in answerable]
        no = [strength[q] for q in pick if q not in answerable]
        test_yes = [strength[q] for q in test if q in answerable]
        test_no = [strength[q] for q in test if q not in answerable]
        if not (yes and no and test_yes and test_no):
            return None
        threshold, _ = capped_threshold(yes, no)
        kept = float(np.mean(np.asarray(test_yes) >= threshold))
        refused = float(np.mean(np.asarray(test_no) < threshold))
        scores.append((kept + refused) / 2)
    return round(float(np.mean(scores)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=PIAF)
    parser.add_argument("--queries", type=Path, default=None)
    parser.add_argument("--answers", type=int, default=30, help="questions per half (LLM)")
    parser.add_argument("--llm", type=Path, default=None, help="a GGUF (default: the default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings = Settings(models_dir=ROOT / ".vigie" / "models")
    if args.llm is not None:
        settings = Settings(models_dir=settings.models_dir, llm_path=args.llm.resolve())
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
        llm = LocalLLM.from_settings(settings) if args.answers else None
        answerers = {
            name: Answerer(
                searcher,
                llm,
                top_k=settings.top_k,
                max_tokens=settings.max_answer_tokens,
                temperature=settings.temperature,
                refusal_threshold=settings.refusal_thresholds(),
            )
            for name, searcher in searchers.items()
        }

        def asked(qid: str) -> Answerer:
            return answerers["whole" if qid in answerable else "partial"]

        evidence = {qid: asked(qid).evidence(full.queries[qid], READER) for qid in ids}
        result |= calibrate(evidence, answerable, unanswerable)
        result["load_average_after_calibration"] = load_average()

        if args.answers:
            # The answers run at this run's calibrated thresholds (the shipped defaults
            # are set from them), the configured ones where a group had no question.
            same, cross, weight = settings.refusal_thresholds() or (0.0, 0.0, 0.0)
            calibrated = result.get("threshold_same_language", {})
            same = calibrated.get("threshold", same)
            weight = calibrated.get("coverage_weight", weight)
            cross = result.get("threshold_cross_language", {}).get("threshold", cross)
            for answerer in answerers.values():
                answerer.refusal = RefusalThreshold(same, cross, weight)
            result["thresholds_used"] = {"same": same, "cross": cross, "coverage_weight": weight}
            result["llm"] = settings.resolved_llm_path.name
            asked("q").warm_up()
            rows = []
            for qid in answerable[: args.answers] + unanswerable[: args.answers]:
                answer = asked(qid).ask(full.queries[qid], READER).consume()
                cited = [c for c in answer.citations if c.cited]
                spans = gold.get(qid, [])
                rows.append(
                    {
                        "answerable": qid in answerable,
                        "refused": answer.refused,
                        "refusal": answer.refusal,
                        "gold_span": not answer.refused and contains_gold(answer.text, spans),
                        "quote_gold_span": any(contains_gold(q.text, spans) for q in answer.quotes),
                        "quotes_only": answer.quotes_only,
                        "cited": len(cited),
                        "cited_relevant": sum(c.document in full.qrels[qid] for c in cited),
                        **sentence_support(answer),
                        "quote_seconds": answer.timings.get("quote"),
                        "first_token": answer.timings.get("first_token")
                        if answer.prompt_tokens
                        else None,
                        "prompt_tokens": answer.prompt_tokens,
                        "seconds": answer.timings.get("total", 0.0),
                    }
                )
                print(f"answered {len(rows)}: {rows[-1]}", file=sys.stderr)
            result["answers"] = summarise(rows)
            result["load_average_after_answers"] = load_average()
        for store in stores.values():
            store.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


if __name__ == "__main__":
    main()
