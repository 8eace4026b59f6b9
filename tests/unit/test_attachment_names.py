"""An attachment's name made a file name (ingest/pipeline.py): no path, no control
character, not too long for the file system, its extension kept."""

from __future__ import annotations

from ingest.pipeline import _file_name


def test_an_attachment_name_becomes_a_safe_file_name() -> None:
    assert _file_name("../../evade.pdf", "x") == "evade.pdf"
    assert _file_name("C:\\\\temp\\\\note.docx", "x") == "note.docx"
    assert _file_name("a\0b.pdf", "x") == "ab.pdf"
    long = _file_name("é" * 200 + ".pdf", "x")
    assert long.endswith(".pdf") and len(long.encode("utf-8")) <= 200
    assert _file_name("..", "piece-jointe-1") == "piece-jointe-1"
