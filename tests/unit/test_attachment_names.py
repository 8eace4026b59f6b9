"""An attachment's name made a file name (ingest/textfiles.py, for e-mail and Outlook
messages alike): no path, no control character, not too long for the file system, its
extension kept."""

from __future__ import annotations

from ingest.textfiles import attachment_name


def test_an_attachment_name_becomes_a_safe_file_name() -> None:
    assert attachment_name("../../evade.pdf", 1) == "evade.pdf"
    assert attachment_name("C:\\\\temp\\\\note.docx", 1) == "note.docx"
    assert attachment_name("a\0b.pdf", 1) == "ab.pdf"
    long = attachment_name("é" * 200 + ".pdf", 1)
    assert long.endswith(".pdf") and len(long.encode("utf-8")) <= 200
    assert attachment_name("..", 1) == "piece-jointe-1"
