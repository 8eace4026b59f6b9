"""Born-digital text layers: what each reader keeps of pdftotext's words, and how fast.

For every PDF of the corpus's born-digital folders, the pages Vigie reads from their
text layer are read twice in this process, by each `text_layer_reader`:

* pdfium: Vigie's default (`ingest/pdftext.py`, lines and paragraphs from pdfium's
  characters, typed by unstructured's text classifier);
* unstructured: its "fast" strategy (pdfminer's layout analysis), the previous default.

Each is scored against poppler's `pdftotext` on the same pages: word recall, the share
of pdftotext's words (NFKC, lower case, counted with their repeats) found in the text
of the elements Vigie keeps. The time is the parse alone (`ingest.parse.parse_pages` on
the page ranges a batch gives its workers, in this one process), best of `--repeats`,
the two readers taking turns. The ratio is unstructured's time over pdfium's, measured
in the same run, with the load average printed beside it.

    .venv/bin/python bench/text_recall.py
    .venv/bin/python bench/text_recall.py --repeats 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vigie.offline import apply_offline_environment  # noqa: E402

apply_offline_environment()

CORPUS = REPO.parent / "shared" / "corpus" / "documents"
FOLDERS = ("fr-born-digital", "en-born-digital")
READERS = ("pdfium", "unstructured")
_WORD = re.compile(r"\w+")


def words(text: str) -> Counter[str]:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return Counter(_WORD.findall(text))


def word_recall(reference: str, text: str) -> float:
    wanted, got = words(reference), words(text)
    total = sum(wanted.values())
    return sum(min(n, got[w]) for w, n in wanted.items()) / total if total else 1.0


def pdftotext(path: Path, pages: list[int]) -> str:
    return "\n".join(
        subprocess.run(
            ["pdftotext", "-q", "-enc", "UTF-8", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout  # fmt: skip
        for n in pages
    )


def main() -> int:
    from ingest.parse import parse_pages, probe_file
    from vigie.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeats", type=int, default=1, help="rounds; best kept (default 1)")
    parser.add_argument("--only", help="one file name")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    load_before = os.getloadavg()
    files = [p for folder in FOLDERS for p in sorted((args.corpus / folder).glob("*.pdf"))]
    files = [p for p in files if args.only in (None, p.name)]
    rows = []
    if files:  # load spaCy and the readers' modules before the first timing
        warm = Settings()
        for reader in READERS:
            parse_pages(
                files[0], warm.model_copy(update={"text_layer_reader": reader}), "pdf", 1, 1
            )
    for path in files:
        settings = {reader: Settings(text_layer_reader=reader) for reader in READERS}
        probe = probe_file(path, settings["pdfium"])
        pages = [n for n in range(1, probe.pages + 1) if n not in set(probe.image_pages)]
        if not pages:
            continue
        reference = pdftotext(path, pages)
        windows = [w for w in probe.windows(settings["pdfium"].window_pages) if w[0] in pages]
        row: dict = {"file": path.name, "text_pages": len(pages)}
        best: dict[str, float] = {}
        for _ in range(max(1, args.repeats)):
            for reader in READERS:
                started = time.perf_counter()
                parsed = [  # the page ranges a batch gives its workers
                    parse_pages(path, settings[reader], probe.kind, first, last)
                    for first, last in windows
                ]
                seconds = time.perf_counter() - started
                best[reader] = min(best.get(reader, seconds), seconds)
                text = "\n".join(e.text for p in parsed for e in p.elements)
                row[reader] = {
                    "recall": round(word_recall(reference, text), 4),
                    "elements": sum(len(p.elements) for p in parsed),
                }
        for reader in READERS:
            row[reader]["seconds"] = round(best[reader], 3)
        rows.append(row)
    totals = {r: round(sum(row[r]["seconds"] for row in rows), 2) for r in READERS}
    pages = sum(row["text_pages"] for row in rows)
    result = {
        "files": len(rows),
        "text_pages": pages,
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": totals,
        "pages_per_second": {r: round(pages / totals[r], 2) if totals[r] else 0 for r in READERS},
        "unstructured_over_pdfium": round(totals["unstructured"] / totals["pdfium"], 2)
        if totals["pdfium"]
        else None,
        "min_recall": {r: min((row[r]["recall"] for row in rows), default=1.0) for r in READERS},
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{len(rows)} born-digital PDFs, {pages} text pages; {os.cpu_count()} cores; load "
        f"average {result['load_average_before'][0]} before, {result['load_average_after'][0]} "
        "after; word recall against pdftotext, parse time"
    )
    print(f"{'file':<44} {'pages':>5}  {'pdfium':>16}  {'unstructured':>16}")
    for row in rows:
        cells = "  ".join(f"{row[r]['recall']:.3f} {row[r]['seconds']:7.2f} s" for r in READERS)
        print(f"{row['file'][:44]:<44} {row['text_pages']:>5}  {cells}")
    print(
        f"total: pdfium {totals['pdfium']} s ({result['pages_per_second']['pdfium']} pages/s), "
        f"unstructured {totals['unstructured']} s "
        f"({result['pages_per_second']['unstructured']} pages/s): "
        f"{result['unstructured_over_pdfium']}x; lowest recall pdfium "
        f"{result['min_recall']['pdfium']}, unstructured {result['min_recall']['unstructured']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
