"""The speech adapter's own rules: French or English only, and a segment's confidence."""

from __future__ import annotations

import math

import pytest

from ingest.transcribe import segment_confidence, served_language


def test_a_recording_whisper_reads_as_latin_is_decoded_as_french() -> None:
    # What Whisper said of a real French recording (the field notes): Latin first.
    assert served_language([("la", 0.46), ("fr", 0.31), ("it", 0.12), ("en", 0.05)]) == (
        "fr",
        pytest.approx(0.31 / 0.36),
    )


def test_english_wins_when_it_is_likelier_than_french() -> None:
    assert served_language([("en", 0.9), ("fr", 0.02)])[0] == "en"


def test_no_weight_on_either_language_still_gives_one_with_an_even_share() -> None:
    code, share = served_language([("ja", 0.99)])
    assert code in ("fr", "en") and share == 0.5


def test_confidence_falls_with_the_log_probability_and_the_chance_of_no_speech() -> None:
    sure = segment_confidence(avg_logprob=-0.1, no_speech_prob=0.01)
    assert sure == pytest.approx(math.exp(-0.1) * 0.99)
    assert segment_confidence(-1.5, 0.01) < sure
    assert segment_confidence(-0.1, 0.9) < 0.1
    assert segment_confidence(0.5, -0.2) == 1.0  # clamped to 0..1
