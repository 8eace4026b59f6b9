"""Ruled tables on scanned pages, kept as tables.

A page to OCR is first looked at for ruling lines (OpenCV: the ink opened with long thin
kernels keeps only horizontal and vertical strokes). Where they make a grid of at least
2 x 2 cells, the table's rows and columns are the lines' positions; a cell whose
separating line is missing spans the cells it covers (a merged cell), and its text is
given to each of them. The lines are then erased, the table is read by a Tesseract run
of its own in sparse-text mode (page segmentation reads a row whose cells sit at
different heights as one garbled line), and each word is placed in the cell that holds
its centre (a cell's lines, top to bottom, each left to right): a multi-line cell stays
one cell. The rest of the page, the tables painted out, is read as any page.

The tables found become `FoundTable`s, read as born-digital ones are (ingest/tables.py).
Measured with the test's synthetic scan (tests/unit/test_scantables.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.ocr import Box
from ingest.tables import FoundTable

# A ruling line is at least this fraction of the page's width (horizontal) or height
# (vertical) long: text strokes and underlines under a word are shorter.
_H_FRACTION = 1 / 25
_V_FRACTION = 1 / 60
_DETECTION_WIDTH = 1240  # pixels across the page where lines are looked for (A4, 150 dpi)
# Rows or columns closer than this (full size: a tenth of an inch at 300 dpi) are one
# line drawn twice (a frame's double rule, its shadow), not a cell that text could fill.
_MIN_CELL_PX = 30
_LINE_PRESENCE = 0.6  # how much of a cell's side must be drawn for it to be a border
_SKEW = 5  # pixels (at detection size) a line may stray along a cell (a skewed scan)


@dataclass
class Grid:
    """A ruled table on a page image: its line positions and cells, in pixels."""

    box: Box  # left, top, right, bottom
    rows: list[int]  # y of each horizontal line, top to bottom
    columns: list[int]  # x of each vertical line, left to right
    # (row, column) of every cell: the top-left cell of the merged cell covering it.
    owner: dict[tuple[int, int], tuple[int, int]]

    def cell_of(self, x: float, y: float) -> tuple[int, int] | None:
        """The (owning) cell holding point (x, y), or None outside the table."""
        row = next((n for n in range(len(self.rows) - 1) if self.rows[n] <= y < self.rows[n + 1]),
                   None)  # fmt: skip
        column = next((n for n in range(len(self.columns) - 1)
                       if self.columns[n] <= x < self.columns[n + 1]), None)  # fmt: skip
        if row is None or column is None:
            return None
        return self.owner[(row, column)]


def find_grids(gray: Any) -> tuple[list[Grid], Any]:
    """The ruled tables of a grey page image (a numpy array, ink dark), and a mask of
    their lines, nothing outside their boxes (to erase before OCR). Lines are looked for
    at about 150 dpi (a quarter of the pixels of a 300 dpi scan, a quarter of the time),
    then put back at full size."""
    import cv2
    import numpy as np

    height, width = gray.shape
    factor = max(1, round(width / _DETECTION_WIDTH))
    small = cv2.resize(gray, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    s_height, s_width = small.shape
    ink = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                15, 10)  # fmt: skip
    h_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(10, int(s_width * _H_FRACTION)), 1))
    v_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(10, int(s_height * _V_FRACTION))))
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, h_kernel)
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, v_kernel)
    # Close small gaps a scan leaves in a line, so that a border reads whole.
    horizontal = cv2.dilate(horizontal, np.ones((1, 5), np.uint8))
    vertical = cv2.dilate(vertical, np.ones((5, 1), np.uint8))
    lines = cv2.bitwise_or(horizontal, vertical)
    count, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    grids = []
    for label in range(1, count):
        left, top, w, h, _ = stats[label]
        if w < s_width / 8 or h * factor < 2 * _MIN_CELL_PX:
            continue
        grid = _grid(horizontal[top : top + h, left : left + w],
                     vertical[top : top + h, left : left + w], left, top, factor)  # fmt: skip
        if grid is not None:
            grids.append(grid)
    if not grids:
        return [], None
    full = cv2.resize(lines, (width, height), interpolation=cv2.INTER_NEAREST)
    # The lines as drawn are a little wider than found (blur, the detection's rounding).
    full = cv2.dilate(full, np.ones((2 * factor + 1, 2 * factor + 1), np.uint8))
    mask = np.zeros_like(full)  # only the grids' lines: a long stroke elsewhere (a large
    for grid in grids:  # capital letter of a banner, a rule under a title) is kept
        left, top, right, bottom = grid.box
        pad = 2 * factor
        region = (slice(max(0, top - pad), bottom + pad), slice(max(0, left - pad), right + pad))
        mask[region] = full[region]
    return grids, mask


def _positions(profile: Any, threshold: float, gap: int) -> list[int]:
    """Centres of the runs of a projection profile at or above `threshold`, at least
    `gap` apart."""
    positions, start = [], None
    for index, value in enumerate([*profile, 0]):
        if value >= threshold and start is None:
            start = index
        elif value < threshold and start is not None:
            centre = (start + index - 1) // 2
            if not positions or centre - positions[-1] >= gap:
                positions.append(centre)
            start = None
    return positions


def _drawn(band: Any, axis: int) -> bool:
    """Whether a border band (a few pixels either side of where the line runs, which a
    skewed scan moves) is inked along most of its length: the line between two cells is
    there. `axis`: the band's thickness axis (0 for a horizontal line)."""
    return band.size > 0 and float((band > 0).any(axis=axis).mean()) >= _LINE_PRESENCE


def _grid(horizontal: Any, vertical: Any, left: int, top: int, factor: int) -> Grid | None:
    """The grid of one connected set of lines (at detection size, `factor` times smaller
    than the page), in page pixels; None for fewer than 2 x 2 cells."""
    height, width = horizontal.shape
    gap = max(2, _MIN_CELL_PX // factor)
    # A line of the table runs across a good part of it (a short stroke inside one cell
    # is the border of a merged cell, found by _drawn below, or text).
    rows = _positions((horizontal > 0).sum(axis=1), width * 0.3, gap)
    columns = _positions((vertical > 0).sum(axis=0), height * 0.3, gap)
    if len(rows) < 3 or len(columns) < 3:
        return None  # fewer than 2 x 2 cells: a frame, a box around a paragraph
    owner: dict[tuple[int, int], tuple[int, int]] = {}
    for r in range(len(rows) - 1):
        for c in range(len(columns) - 1):
            owner[(r, c)] = (r, c)
            y0, y1, x0, x1 = rows[r], rows[r + 1], columns[c], columns[c + 1]
            pad_y, pad_x = (y1 - y0) // 5, (x1 - x0) // 5
            left_band = vertical[y0 + pad_y : y1 - pad_y, max(0, x0 - _SKEW) : x0 + _SKEW]
            top_band = horizontal[max(0, y0 - _SKEW) : y0 + _SKEW, x0 + pad_x : x1 - pad_x]
            if c > 0 and not _drawn(left_band, axis=1):
                owner[(r, c)] = owner[(r, c - 1)]  # no line on its left: merged across
            elif r > 0 and not _drawn(top_band, axis=0):
                owner[(r, c)] = owner[(r - 1, c)]  # no line above: merged down
    return Grid(
        box=(int(left * factor), int(top * factor), int((left + width) * factor),
             int((top + height) * factor)),
        rows=[int((top + y) * factor) for y in rows],
        columns=[int((left + x) * factor) for x in columns],
        owner=owner,
    )  # fmt: skip


def erased(gray: Any, lines: Any) -> Any:
    """The page image with its ruling lines painted white."""
    out = gray.copy()
    out[lines > 0] = 255
    return out


def without(gray: Any, boxes: list[Box]) -> Any:
    """The page image with these boxes (the tables, read apart) painted white."""
    out = gray.copy()
    for left, top, right, bottom in boxes:
        out[top:bottom, left:right] = 255
    return out


def grid_table(
    grid: Grid, words: list[tuple[str, Box]], page: int, scale: float
) -> FoundTable | None:
    """A grid filled with the OCR words whose centres fall in its cells (words in pixels;
    the table's box is stored in points: `scale` points per pixel); None when it holds
    fewer than two rows or text in a single column (a frame, not a table)."""
    placed: dict[tuple[int, int], list[tuple[str, Box]]] = {}
    for text, box in words:
        cell = grid.cell_of((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        if cell is not None:
            placed.setdefault(cell, []).append((text, box))
    if not placed:
        return None
    texts = {cell: _reading_order(cell_words) for cell, cell_words in placed.items()}
    columns_filled = {cell[1] for cell in texts}
    if len(columns_filled) < 2:
        return None  # one column of text in a frame: a boxed paragraph, not a table
    rows = [
        [texts.get(grid.owner[(r, c)], "") for c in range(len(grid.columns) - 1)]
        for r in range(len(grid.rows) - 1)
    ]
    rows = [row for row in rows if any(row)]
    if len(rows) < 2:
        return None
    bbox = tuple(round(float(v) * scale, 1) for v in grid.box)
    return FoundTable(page, rows, bbox)  # type: ignore[arg-type]


def _reading_order(words: list[tuple[str, Box]]) -> str:
    """A cell's words as its lines read: grouped by height, each line left to right."""
    words = sorted(words, key=lambda w: (w[1][1] + w[1][3]) / 2)
    lines: list[list[tuple[str, Box]]] = []
    for word in words:
        middle = (word[1][1] + word[1][3]) / 2
        if lines:
            last = lines[-1][-1][1]
            if abs(middle - (last[1] + last[3]) / 2) <= (last[3] - last[1]) * 0.6:
                lines[-1].append(word)
                continue
        lines.append([word])
    return " ".join(" ".join(t for t, _ in sorted(line, key=lambda w: w[1][0])) for line in lines)
