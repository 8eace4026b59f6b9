"""The ingest progress: what is left of a batch, and what each stage did, measured."""

from __future__ import annotations

from ingest.pipeline import StageTime, pages_eta


def test_the_eta_counts_open_files_and_queued_ones_at_the_mean_seen() -> None:
    assert pages_eta(2.0, 10, 0, 0, 0) is None  # no file measured yet
    assert pages_eta(2.0, 10, 3, 40, 4) == (10 + 3 * 10) / 2.0
    stage = StageTime("pages")
    stage.add(4.0, 10)
    stage.add(1.0, 5)
    assert stage.describe("parse") == "parse: 15 pages in 5.0 s (3.00/s)"
