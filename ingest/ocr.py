"""OCR adapter: one Tesseract run per page image, paragraphs, their boxes and a confidence out.

unstructured's `ocr_only` strategy runs Tesseract two or three times per page
and ignores the page's orientation; measured here on a typewritten page of
the 1914–1917 diary: 13.7 s through unstructured against 4.4 s for one
`tesseract … --psm 1 tsv` run, and a page rotated by 90 degrees came out
empty through unstructured but readable with `--psm 1` (automatic page
segmentation with orientation and script detection). So Vigie calls the
`tesseract` command once and feeds its paragraphs to unstructured's element
classifier (see `ingest.parse`).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vigie.errors import CorruptFile

# Page segmentation mode 1: automatic segmentation with orientation and script detection.
PAGE_SEGMENTATION = "1"
# Mode 11, sparse text: every word wherever it stands, for a table's cells (mode 1 reads a
# row whose cells sit at different heights as one garbled line).
SPARSE_TEXT = "11"


class OcrError(CorruptFile):
    """Tesseract failed on an image; the message is Tesseract's first line."""


Box = tuple[int, int, int, int]  # left, top, right, bottom in image pixels


@dataclass
class OcrPage:
    paragraphs: list[str]
    confidence: float | None  # mean word confidence, 0..1; None when no word was read
    # One box per paragraph, same order: the union of its word boxes, so that a hit can be
    # shown where it sits on the page.
    boxes: list[Box] = field(default_factory=list)
    # Every word read and its box, in reading order (to place in a table's cells).
    words: list[tuple[str, Box]] = field(default_factory=list)


def ocr_image(
    image: Path,
    languages: Sequence[str],
    timeout: float = 300.0,
    segmentation: str = PAGE_SEGMENTATION,
    dpi: float | None = None,
) -> OcrPage:
    """Read the words of one page image, grouped into Tesseract's paragraphs."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    command = ["tesseract", str(image), "stdout", "-l", "+".join(languages)]
    if dpi:
        command += ["--dpi", str(round(dpi))]
    command += ["--psm", segmentation, "tsv"]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrError(f"tesseract took more than {timeout:.0f} s on one page") from exc
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise OcrError(f"tesseract failed: {first}")
    return parse_tsv(result.stdout)


def parse_tsv(tsv: str) -> OcrPage:
    """Paragraphs (block, paragraph) in reading order, their boxes, and the mean confidence."""
    paragraphs: dict[tuple[int, int], list[str]] = {}
    boxes: dict[tuple[int, int], Box] = {}
    lines: dict[tuple[int, int, int], list[str]] = {}
    words: list[tuple[str, Box]] = []
    weighted = total = 0.0
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        confidence = float(row.get("conf") or -1)
        if row.get("level") != "5" or not text or confidence < 0:
            continue
        block, paragraph, line = int(row["block_num"]), int(row["par_num"]), int(row["line_num"])
        lines.setdefault((block, paragraph, line), []).append(text)
        paragraphs.setdefault((block, paragraph), [])
        box = _word_box(row)
        words.append((text, box))
        boxes[(block, paragraph)] = _union(boxes.get((block, paragraph)), box)
        weighted += confidence * len(text)
        total += len(text)
    for (block, paragraph, _), line_words in lines.items():
        paragraphs[(block, paragraph)].append(" ".join(line_words))
    kept = [(_join_lines(parts), boxes[key]) for key, parts in paragraphs.items()]
    kept = [(text, box) for text, box in kept if text]
    return OcrPage(
        paragraphs=[text for text, _ in kept],
        confidence=round(weighted / total / 100, 3) if total else None,
        boxes=[box for _, box in kept],
        words=words,
    )


def _word_box(row: dict[str, str]) -> Box:
    """A TSV word row's box as (left, top, right, bottom): Tesseract gives width and height."""
    left, top = int(row["left"]), int(row["top"])
    return left, top, left + int(row["width"]), top + int(row["height"])


def _union(box: Box | None, other: Box) -> Box:
    """The smallest box holding both; a paragraph's box grows word by word."""
    if box is None:
        return other
    return (
        min(box[0], other[0]),
        min(box[1], other[1]),
        max(box[2], other[2]),
        max(box[3], other[3]),
    )


def _join_lines(lines: list[str]) -> str:
    """One paragraph from its lines, re-joining words hyphenated across a line break."""
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text.strip()
