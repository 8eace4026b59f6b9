"""OCR character accuracy of Vigie's parser against human-verified ground truth.

What it measures: for every `*.gt.txt` under the corpus (today the two typewritten
scans in `fr-scanned/`), the matching PDF (same stem + `.pdf`) is parsed with
`ingest.parse.parse_file`, exactly as ingestion does (pypdfium2 rendering at the
scan's native resolution, one `tesseract --psm 1` run per page), and its text is
compared page by page with the ground truth:

    accuracy = 1 - sum(Levenshtein(ocr_page, gt_page)) / sum(len(gt_page))

How like is compared with like:

* The ground truth holds one page per form feed (`\\f`), in the PDF's page order;
  page N of the ground truth is compared with the elements Vigie read on page N.
* Ground-truth markup is removed: `~~~` (a handwritten word, not something OCR of
  typescript is asked to read), `_` (underlined) and `^` (superscript). A page
  whose ground truth is empty once handwriting is removed (page 1 of the 1914-1917
  diary is all handwriting) is left out and listed.
* Words hyphenated across a line break are re-joined in the ground truth with the
  rule Vigie applies to OCR lines ("ver-" + "bale" -> "verbale" when the next line
  starts with a lower-case letter), so a kept line-end hyphen is not counted as an
  error against a correctly read word.
* Whitespace is collapsed to one space on both sides ("strict" accuracy). The
  "folded" variant also ignores case, accents and typographic quote/dash shapes.

Every ground-truthed document is a typewritten scan; the run exits 1 when one of
them is under `--min-accuracy` (default 0.95).

Run it (about 1.5 minutes on 2 cores):

    .venv/bin/python bench/ocr_accuracy.py --help
    .venv/bin/python bench/ocr_accuracy.py
    .venv/bin/python bench/ocr_accuracy.py --json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vigie.offline import apply_offline_environment  # noqa: E402

apply_offline_environment()

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "documents"
HANDWRITTEN = re.compile(r"~~~")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "“": '"', "”": '"', "«": '"', "»": '"'})
_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-"})


@dataclass
class PageResult:
    page: int
    gt_chars: int
    distance: int
    folded_distance: int
    ocr: bool  # False: the page came from a text layer, not from OCR


@dataclass
class DocumentResult:
    document: str
    pages_in_pdf: int
    pages_compared: list[int]
    pages_skipped: dict[int, str]
    gt_chars: int
    accuracy: float
    folded_accuracy: float
    seconds: float
    ocr_pages: list[int]
    per_page: list[PageResult] = field(default_factory=list)


def collapse(text: str) -> str:
    return " ".join(text.split())


def dehyphenate(lines: list[str]) -> str:
    """Lines joined as `ingest.ocr._join_lines` joins OCR lines."""
    text = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text


def normalise_gt(page: str) -> str:
    """One ground-truth page as plain text: markup and handwriting out, lines joined."""
    page = HANDWRITTEN.sub(" ", page).replace("_", "").replace("^", "")
    return collapse(dehyphenate(page.splitlines()))


def fold(text: str) -> str:
    from vigie.language import strip_accents

    return collapse(strip_accents(text.translate(_QUOTES).translate(_DASHES)).casefold())


def read_gt(path: Path) -> list[str]:
    """Normalised ground truth, one string per page (pages separated by form feed)."""
    text = path.read_text(encoding="utf-8")
    pages = text.split("\f")
    if pages and not pages[-1].strip() and len(pages) > 1:
        pages = pages[:-1]  # a trailing form feed closes the last page
    return [normalise_gt(p) for p in pages]


def measure(pdf: Path, gt_file: Path, settings: object) -> DocumentResult:
    from rapidfuzz.distance import Levenshtein

    from ingest.parse import parse_file

    gt_pages = read_gt(gt_file)
    started = time.perf_counter()
    doc = parse_file(pdf, settings)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started

    by_page: dict[int, list[str]] = {}
    for element in doc.elements:
        by_page.setdefault(element.page, []).append(element.text)

    per_page: list[PageResult] = []
    skipped: dict[int, str] = {}
    if len(gt_pages) != doc.pages:
        print(
            f"warning: {gt_file.name} has {len(gt_pages)} pages, {pdf.name} has {doc.pages}; "
            "comparing the first pages of both",
            file=sys.stderr,
        )
    for number, gt in enumerate(gt_pages, start=1):
        if number > doc.pages:
            skipped[number] = "page missing from the PDF"
            continue
        if not gt:
            skipped[number] = "ground truth is handwriting only"
            continue
        ocr_text = collapse(" ".join(by_page.get(number, [])))
        per_page.append(
            PageResult(
                page=number,
                gt_chars=len(gt),
                distance=Levenshtein.distance(ocr_text, gt),
                folded_distance=Levenshtein.distance(fold(ocr_text), fold(gt)),
                ocr=number in doc.ocr_pages,
            )
        )
    chars = sum(p.gt_chars for p in per_page)

    def accuracy(distance: int) -> float:
        return 1 - distance / chars if chars else 0.0

    return DocumentResult(
        document=pdf.name,
        pages_in_pdf=doc.pages,
        pages_compared=[p.page for p in per_page],
        pages_skipped=skipped,
        gt_chars=chars,
        accuracy=round(accuracy(sum(p.distance for p in per_page)), 4),
        folded_accuracy=round(accuracy(sum(p.folded_distance for p in per_page)), 4),
        seconds=round(seconds, 2),
        ocr_pages=list(doc.ocr_pages),
        per_page=per_page,
    )


def warm_up() -> None:
    """Load unstructured's spaCy model before timing, so the first document is not charged."""
    from ingest import parse

    loader = getattr(parse, "_use_installed_spacy_model", None)
    if callable(loader):
        loader()


def print_table(results: list[DocumentResult]) -> None:
    header = f"{'document':44} {'pages':>5} {'chars':>6} {'accuracy':>8} {'folded':>7} {'s':>6}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.document[:44]:44} {len(r.pages_compared):>5} {r.gt_chars:>6} "
            f"{r.accuracy:>8.4f} {r.folded_accuracy:>7.4f} {r.seconds:>6.1f}"
        )
        for page in r.per_page:
            page_acc = 1 - page.distance / page.gt_chars
            note = "" if page.ocr else "  (text layer, not OCR)"
            print(f"    page {page.page:>3}: {page.gt_chars:>5} chars  {page_acc:.4f}{note}")
        for number, why in r.pages_skipped.items():
            print(f"    page {number:>3}: skipped ({why})")
    print()
    print("accuracy: 1 - Levenshtein / ground-truth chars, whitespace collapsed;")
    print("folded: case, accents and quote/dash shapes ignored as well.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="OCR character accuracy of ingest.parse.parse_file against *.gt.txt files."
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="documents folder")
    parser.add_argument("--min-accuracy", type=float, default=0.95)
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--only", default="*", help="glob on the PDF name (testing)")
    args = parser.parse_args(argv)

    from vigie.config import Settings

    corpus = args.corpus.resolve()
    pairs: list[tuple[Path, Path]] = []
    for gt_file in sorted(corpus.rglob("*.gt.txt")):
        pdf = gt_file.with_name(gt_file.name[: -len(".gt.txt")] + ".pdf")
        if not pdf.is_file():
            print(f"warning: no PDF for {gt_file}", file=sys.stderr)
        elif pdf.match(args.only):
            pairs.append((pdf, gt_file))
    if not pairs:
        print(f"no *.gt.txt with a matching PDF under {corpus}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="vigie-ocr-bench-") as home:
        settings = Settings(home=Path(home), models_dir=REPO / ".vigie" / "models")
        warm_up()
        results = [measure(pdf, gt, settings) for pdf, gt in pairs]

    failing = [r for r in results if r.accuracy < args.min_accuracy]
    if args.json:
        payload = {
            "min_accuracy": args.min_accuracy,
            "passed": not failing,
            "documents": [asdict(r) for r in results],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print_table(results)
    if failing:
        names = ", ".join(f"{r.document} ({r.accuracy:.4f})" for r in failing)
        print(
            f"FAIL: typewritten document(s) under {args.min_accuracy:.2f} accuracy: {names}",
            file=sys.stderr,
        )
        return 1
    if not args.json:
        print(f"PASS: every typewritten document at or above {args.min_accuracy:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
