"""Ruled tables found on page images (ingest/scantables.py), on images drawn here: the
grid's rows, columns and merged cells; a framed paragraph is no table; words placed in
cells by position, a two-line cell kept one cell."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.scantables import Grid, erased, find_grids, grid_table, without

WIDTH, HEIGHT = 2480, 3508  # A4 at 300 dpi


def _page() -> np.ndarray:
    return np.full((HEIGHT, WIDTH), 255, np.uint8)


def _ruled(page: np.ndarray, rows: list[int], columns: list[int], gap: tuple[int, int] | None):
    """Draw a grid; `gap` (row, column): the vertical line left of that cell left out."""
    for y in rows:
        page[y - 2 : y + 2, columns[0] : columns[-1]] = 0
    for c, x in enumerate(columns):
        for r in range(len(rows) - 1):
            if gap != (r, c):
                page[rows[r] : rows[r + 1], x - 2 : x + 2] = 0
    return page


ROWS = [600, 750, 900, 1050]
COLUMNS = [200, 900, 1400, 2200]


def test_a_ruled_grid_is_found_with_its_rows_columns_and_merged_cell() -> None:
    page = _ruled(_page(), ROWS, COLUMNS, gap=(2, 1))
    grids, lines = find_grids(page)
    assert len(grids) == 1
    grid = grids[0]
    assert len(grid.rows) == 4 and len(grid.columns) == 4
    assert all(abs(a - b) <= 4 for a, b in zip(grid.rows, ROWS, strict=True)), grid.rows
    assert all(abs(a - b) <= 4 for a, b in zip(grid.columns, COLUMNS, strict=True))
    assert grid.owner[(2, 1)] == (2, 0)  # merged across: no line between them
    assert grid.owner[(1, 1)] == (1, 1) and grid.owner[(2, 2)] == (2, 2)
    assert (erased(page, lines) == 255).all()  # every line painted out


def test_a_framed_paragraph_with_a_shadow_is_no_table() -> None:
    page = _page()
    for inset in (0, 12):  # a double rule
        top, bottom, left, right = 700 + inset, 1000 - inset, 230 + inset, 2150 - inset
        page[top : top + 3, left:right] = page[bottom - 3 : bottom, left:right] = 0
        page[top:bottom, left : left + 3] = page[top:bottom, right - 3 : right] = 0
    page[1000:1030, 260:2180] = 0  # its shadow, below and on the right
    page[730:1030, 2150:2180] = 0
    grids, _ = find_grids(page)
    words = [("RÈGLEMENT", (900, 820, 1200, 880)), ("1000-2008", (1220, 820, 1500, 880))]
    assert all(grid_table(grid, words, 1, 0.24) is None for grid in grids)


def test_a_page_without_lines_has_no_grid() -> None:
    page = _page()
    page[400:440, 200:2200:7] = 0  # text-like strokes, no ruling
    assert find_grids(page) == ([], None)


@pytest.fixture
def grid() -> Grid:
    owner = {(r, c): (r, c) for r in range(3) for c in range(2)}
    owner[(2, 1)] = (2, 0)
    return Grid(box=(100, 100, 900, 400), rows=[100, 200, 300, 400], columns=[100, 500, 900],
                owner=owner)  # fmt: skip


def test_words_fill_the_cells_holding_their_centres(grid: Grid) -> None:
    words = [
        ("Unité", (120, 130, 250, 160)), ("Effectif", (520, 130, 700, 160)),
        ("Base", (120, 210, 200, 240)), ("aérienne", (210, 210, 380, 240)),
        ("113", (120, 255, 190, 285)),  # the cell's second line
        ("1", (520, 230, 540, 260)), ("902", (550, 230, 620, 260)),
        ("Total", (120, 330, 230, 360)),
        ("dehors", (950, 130, 1100, 160)),  # outside the table
    ]  # fmt: skip
    table = grid_table(grid, words, page=3, scale=0.24)
    assert table is not None and table.page == 3
    assert table.rows == [
        ["Unité", "Effectif"],
        ["Base aérienne 113", "1 902"],
        ["Total", "Total"],  # the merged cell's text in both columns it covers
    ]
    assert table.bbox == (24.0, 24.0, 216.0, 96.0)  # points


def test_painting_out_read_tables() -> None:
    page = np.zeros((50, 50), np.uint8)
    out = without(page, [(10, 10, 20, 30)])
    assert (out[10:30, 10:20] == 255).all() and out.sum() == 255 * 200
    assert page.sum() == 0  # the page itself untouched


def test_a_long_stroke_outside_the_table_is_not_erased() -> None:
    page = _ruled(_page(), ROWS, COLUMNS, gap=None)
    page[200:400, 300:330] = 0  # the stem of a large capital of a banner, above the table
    grids, lines = find_grids(page)
    assert len(grids) == 1
    assert (erased(page, lines)[200:400, 300:330] == 0).all()
