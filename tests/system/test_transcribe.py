"""Speech to text with the real model (Whisper base, CTranslate2) on real recordings, with
the network guard watching: the language is French or English, segments are time-coded
within the recording, and a file that is not audio is refused in one line."""

from __future__ import annotations

import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.errors import UnreadableFile
from ingest.transcribe import Transcriber
from tests.conftest import ROOT
from vigie.config import Settings
from vigie.offline import blocked_attempts, install_network_guard

AUDIO = ROOT.parent / "shared" / "corpus" / "audio"


def words(text: str) -> set[str]:
    return {w.strip(".,;:!?'\"").lower() for w in text.replace("'", " ").split()} - {""}


@pytest.fixture(scope="module")
def transcriber(models_dir: Path) -> Iterator[Transcriber]:
    install_network_guard()
    before = len(blocked_attempts())
    yield Transcriber.from_settings(Settings(models_dir=models_dir, speech_threads=2))
    assert blocked_attempts()[before:] == []


def test_an_english_speech_is_transcribed_in_english_with_time_codes(
    transcriber: Transcriber,
) -> None:
    transcript = transcriber.transcribe(AUDIO / "en" / "jfk.flac")
    assert transcript.language == "en"
    assert 10.5 < transcript.duration < 11.5
    reference = words((AUDIO / "en" / "jfk.txt").read_text(encoding="utf-8"))
    assert len(reference & words(transcript.text)) >= 0.85 * len(reference)
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments
    for segment in transcript.segments:
        assert 0 <= segment.start < segment.end <= transcript.duration + 0.5
        assert 0 < segment.confidence <= 1


def test_french_is_detected_as_french_not_as_another_language(transcriber: Transcriber) -> None:
    recording = AUDIO / "fr" / "fleurs-fr-001.ogg"
    transcript = transcriber.transcribe(recording)
    assert transcript.language == "fr" and transcript.language_probability > 0.5
    reference = words(recording.with_suffix(".txt").read_text(encoding="utf-8"))
    assert len(reference & words(transcript.text)) >= 0.6 * len(reference)


def test_a_forced_language_is_used(transcriber: Transcriber) -> None:
    transcript = transcriber.transcribe(AUDIO / "fr" / "picovoice-leopard-test_fr.wav", "fr")
    assert transcript.language == "fr" and transcript.language_probability == 1.0


def test_a_file_that_is_not_audio_and_an_empty_recording_are_refused_in_one_line(
    transcriber: Transcriber, tmp_path: Path
) -> None:
    garbage = tmp_path / "broken.ogg"
    garbage.write_bytes(b"OggS" + bytes(range(256)) * 8)
    with pytest.raises(UnreadableFile) as caught:
        transcriber.transcribe(garbage)
    assert caught.value.reason.startswith("audio cannot be decoded") and "\n" not in str(
        caught.value
    )
    silent = tmp_path / "empty.wav"
    with wave.open(str(silent), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
    with pytest.raises(UnreadableFile, match=r"no audio \(0 seconds\)"):
        transcriber.transcribe(silent)


def test_the_speech_model_keeps_to_the_openmp_limit_torch_loaded_first(models_dir: Path) -> None:
    # torch puts its libgomp in the global scope, where CTranslate2's OpenMP calls bind;
    # loaded under Vigie's OMP_THREAD_LIMIT=1, two threads there decoded nothing.
    script = (
        "import os, sys; os.environ['OMP_THREAD_LIMIT'] = '1'; import torch; "
        "from pathlib import Path; from vigie.config import Settings; "
        "from ingest.transcribe import Transcriber; "
        f"t = Transcriber.from_settings(Settings(models_dir=Path({str(models_dir)!r}), "
        "speech_threads=2)); "
        f"print(t.plan.threads, t.transcribe(Path({str(AUDIO / 'en' / 'jfk.flac')!r})).text)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    threads, _, text = run.stdout.strip().partition(" ")
    assert threads == "1" and "ask not what your country can do for you" in text
