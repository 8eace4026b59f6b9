"""Calibrate the citation checker's thresholds (retrieval/citations.py) on piaf-fr.

A claim is built from each question and its gold answer ("question : answer."),
the way an answer sentence restates what a passage says. It is checked against
its gold passage (it should be supported) and against another passage of the
same Wikipedia article (same subject, other facts: it should not be), with the
two measures the checker uses:

- coverage: the share of the claim's content stems found in the best sentence
  of the passage (retrieval.lexical.tokens: French/English-aware stems);
- similarity: the cosine between the claim and the passage's closest sentence,
  with the default embedder (multilingual-e5-small).

For each threshold it prints the share of supported claims accepted (true
positive rate) and of the others accepted (false positive rate), for French
questions and for the English questions over the same French passages.

    .venv/bin/python bench/support_calibration.py [--questions 300]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vigie.offline import apply_offline_environment  # noqa: E402

apply_offline_environment()

from retrieval.citations import claim_stems, sentences  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.lexical import tokens  # noqa: E402
from vigie.config import Settings  # noqa: E402

PIAF = ROOT.parent / "shared" / "corpus" / "eval" / "piaf-fr"


def read(name: str) -> list[dict]:
    with (PIAF / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def measures(claim: str, passage: str, embedder: Embedder) -> tuple[float, float]:
    stems = claim_stems(claim)
    parts = sentences(passage) or [passage]
    coverage = max(len(stems & set(tokens(p))) / len(stems) if stems else 0.0 for p in parts)
    vectors = np.asarray(embedder.embed_passages([claim, *parts]))
    return coverage, float((vectors[1:] @ vectors[0]).max())


def rows(queries: dict[str, str], count: int, embedder: Embedder) -> np.ndarray:
    corpus = {d["id"]: d["text"] for d in read("corpus.jsonl")}
    answers = {a["id"]: a for a in read("answers.jsonl")}
    found = []
    for query_id in [q for q in queries if q in answers][:count]:
        gold = answers[query_id]["corpus_id"]
        article = gold.rsplit("-", 1)[0]
        others = [c for c in corpus if c.startswith(article) and c != gold]
        if not others:
            continue
        claim = f"{queries[query_id].rstrip(' ?')} : {answers[query_id]['answers'][0]}."
        found.append(
            measures(claim, corpus[gold], embedder) + measures(claim, corpus[others[0]], embedder)
        )
    return np.asarray(found)


def report(name: str, table: np.ndarray) -> None:
    print(f"{name}: {len(table)} claims (gold passage / another passage of the same article)")
    for threshold in (0.3, 0.4, 0.5, 0.6):
        tpr, fpr = (table[:, 0] >= threshold).mean(), (table[:, 2] >= threshold).mean()
        print(f"  coverage >= {threshold:.2f}                 accepts {tpr:.2f} / {fpr:.2f}")
    for threshold in (0.84, 0.85, 0.86, 0.88, 0.90):
        tpr, fpr = (table[:, 1] >= threshold).mean(), (table[:, 3] >= threshold).mean()
        print(f"  similarity >= {threshold:.2f}               accepts {tpr:.2f} / {fpr:.2f}")
    for coverage, similarity in ((0.4, 0.85), (0.4, 0.88), (0.4, 0.90)):
        tpr = ((table[:, 0] >= coverage) | (table[:, 1] >= similarity)).mean()
        fpr = ((table[:, 2] >= coverage) | (table[:, 3] >= similarity)).mean()
        print(
            f"  coverage >= {coverage:.2f} or sim >= {similarity:.2f} accepts {tpr:.2f} / {fpr:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    embedder = Embedder.from_settings(Settings(models_dir=ROOT / ".vigie" / "models"))
    french = {q["id"]: q["text"] for q in read("queries_all.jsonl")}
    english = {q["id"]: q["text"] for q in read("queries_en50.jsonl")}
    report("French questions", rows(french, args.questions, embedder))
    report("English questions, French passages", rows(english, args.questions, embedder))


if __name__ == "__main__":
    main()
