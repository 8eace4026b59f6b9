"""The typed results the faces render, and the few helpers that read them.

Everything a face shows comes from a `Session` method as one of these (or as a
core contract of `vigie.contracts`: `Hit`, `Chunk`, `Citation`, `Level`). They are
plain dataclasses, already limited to the user's clearance; a face imports them
from here, never from the rooms that make them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.evaluation import EvalReport
from app.ledger_view import ArchiveStatus, FileRow, StateCount
from app.recording import Recording
from ingest.pipeline import BatchReport
from retrieval.analysis import TARGETS, DocumentRef, Summary, by_page, chunks_label
from retrieval.answer import Answer, AnswerStream
from retrieval.citations import MARKER, cited_numbers, marker_numbers
from retrieval.search import MODES, check_mode
from retrieval.store import SearchFilter
from vigie.contracts import Chunk, Hit, place_fields


def shown_as_text(chunk: Chunk) -> bool:
    """A passage of a text or Office document (text, Markdown, HTML, e-mail, Outlook,
    Word, PowerPoint, Excel, OpenDocument, their legacy forms, RTF): its page is shown as
    its text, not as an image."""
    from ingest.legacy import LEGACY_SUFFIXES
    from ingest.office import OFFICE_SUFFIXES
    from ingest.outlook import MSG_SUFFIXES
    from ingest.textfiles import TEXT_SUFFIXES

    suffix = Path(chunk.file_name).suffix.lower()
    return chunk.start is None and any(
        suffix in known for known in (TEXT_SUFFIXES, OFFICE_SUFFIXES, LEGACY_SUFFIXES, MSG_SUFFIXES)
    )


def table_rows(chunk: Chunk) -> list[list[tuple[str, str]]] | None:
    """A table passage's rows as (column, value) pairs, as ingestion wrote them
    ("Company : Boeing ; City : Long Beach", or "key : value"), for a face to draw as a
    table; None for any other passage, or one whose lines are not all such rows."""
    if chunk.element_type != "Table":
        return None
    rows = []
    for line in chunk.text.splitlines():
        cells = [cell.partition(" : ") for cell in line.split(" ; ")]
        if not line.strip() or any(not sep for _, sep, _ in cells):
            return None
        rows.append([(name.strip(), value.strip()) for name, _, value in cells])
    return rows or None


def table_grid(chunk: Chunk) -> tuple[list[str], list[list[str]]] | None:
    """A table passage as column names and rows of values, for a face to draw or an API
    to give: its columns named when the table has a header row (a row whose empty cells
    were left out gets them back empty), else (or when two columns share a name) two
    nameless columns of keys and values; None for any other passage."""
    rows = table_rows(chunk)
    if rows is None:
        return None
    widest = max(([name for name, _ in row] for row in rows), key=len)
    repeated = any(len({name for name, _ in row}) < len(row) for row in rows)  # merged headers
    if (
        len(widest) > 1
        and not repeated
        and all({name for name, _ in row} <= set(widest) for row in rows)
    ):
        return widest, [[dict(row).get(name, "") for name in widest] for row in rows]
    return ["", ""], [[name, value] for row in rows for name, value in row]


def markdown_table(
    columns: list[str], rows: list[list[str]], escape: Callable[[str], str] = str
) -> str:
    """A grid as a Markdown table (`escape`: what a cell's text needs where it is shown)."""

    def cell(text: str) -> str:
        return " ".join(escape(text).split()).replace("|", "&#124;")

    lines = ["| " + " | ".join(cell(name) for name in columns) + " |",
             "|" + "---|" * len(columns)]  # fmt: skip
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def hit_row(rank: int, hit: Hit) -> dict:
    """A search hit as the CLI's `--json` and the HTTP API give it."""
    chunk = hit.chunk
    return {
        "rank": rank,
        "document": chunk.file_name,
        "document_id": chunk.document_id,
        **place_fields(chunk.page, chunk.start, chunk.end),
        "where": chunk.place,
        "score": round(hit.score, 4),
        "chunk_id": chunk.chunk_id,
        "level": chunk.level.label,
        "caveats": list(chunk.caveats),
        "date": chunk.document_date.isoformat() if chunk.document_date else None,
        "text": chunk.text,
        "table": table_field(chunk),
    }


def table_field(chunk: Chunk) -> dict | None:
    """A table passage's grid for JSON (`{"columns": [...], "rows": [[...]]}`), else None."""
    grid = table_grid(chunk)
    return {"columns": grid[0], "rows": grid[1]} if grid is not None else None


__all__ = [
    "MARKER",
    "MODES",
    "TARGETS",
    "Answer",
    "AnswerStream",
    "ArchiveStatus",
    "BatchReport",
    "DocumentRef",
    "EvalReport",
    "FileRow",
    "Recording",
    "SearchFilter",
    "StateCount",
    "Summary",
    "by_page",
    "check_mode",
    "chunks_label",
    "hit_row",
    "cited_numbers",
    "marker_numbers",
    "shown_as_text",
    "markdown_table",
    "table_field",
    "table_grid",
    "table_rows",
]
