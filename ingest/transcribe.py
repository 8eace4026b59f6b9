"""Speech to text: a thin adapter around faster-whisper (CTranslate2 Whisper).

The model is a local CTranslate2 Whisper folder (Whisper base by default, assembled by
`vigie models prepare`; any converted Whisper, large-v3 on a GPU site). It never downloads:
faster-whisper is given a folder, so it does not reach its model hub.

Languages: Vigie serves French and English, and Whisper's own detection, free to pick any
of its 99 languages, misreads French as Latin on real recordings. So the detection is
restricted: of Whisper's probabilities, French's and English's are compared, and the more
likely one is used to decode, unless a language is forced (setting or `--language`).

Decoding goes through PyAV (FFmpeg inside its wheel): wav, flac, ogg/opus, mp3, m4a/aac and
the audio track of video containers.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.errors import UnreadableFile
from vigie.config import Settings, SpeechDevice, SpeechLanguage
from vigie.contracts import Transcript, TranscriptSegment
from vigie.models import verify_embedder_dir

SAMPLE_RATE = 16_000  # Whisper's input
SERVED_LANGUAGES = ("fr", "en")


def load_ctranslate2() -> Any:
    """Import CTranslate2 with OpenMP allowed every core.

    Vigie sets `OMP_THREAD_LIMIT=1` for the whole process (Tesseract runs 3x faster so on
    2 cores). CTranslate2 carries its own libgomp, which reads that limit once, when it
    loads; run with more threads than the limit, Whisper base wrote garbage (")))..." for
    a clear English speech, measured here). So the limit is lifted for this one import,
    and the model's own `cpu_threads` decides how many threads it uses."""
    if "ctranslate2" not in sys.modules:
        saved = os.environ.get("OMP_THREAD_LIMIT")
        os.environ["OMP_THREAD_LIMIT"] = str(os.cpu_count() or 1)
        try:
            import ctranslate2  # noqa: F401
        finally:
            if saved is None:
                os.environ.pop("OMP_THREAD_LIMIT", None)
            else:
                os.environ["OMP_THREAD_LIMIT"] = saved
    return sys.modules["ctranslate2"]


def segment_confidence(avg_logprob: float, no_speech_prob: float) -> float:
    """0..1: the decoder's mean token probability, times the chance that it is speech."""
    return max(0.0, min(1.0, math.exp(avg_logprob) * (1.0 - no_speech_prob)))


def served_language(probabilities: list[tuple[str, float]]) -> tuple[str, float]:
    """The likelier of French and English in Whisper's language probabilities, with its
    share of the two (0.5 when Whisper gives neither any weight)."""
    weights = {code: 0.0 for code in SERVED_LANGUAGES}
    for code, probability in probabilities:
        if code in weights:
            weights[code] = max(weights[code], probability)
    best = max(SERVED_LANGUAGES, key=lambda code: weights[code])
    total = sum(weights.values())
    return best, (weights[best] / total if total > 0 else 0.5)


@dataclass(frozen=True)
class SpeechPlan:
    """How the model runs here: device and number type, threads, decoding options."""

    device: str  # "cpu" or "cuda"
    compute_type: str  # "int8" on a CPU, "float16" on a GPU
    threads: int
    beam_size: int
    vad: bool

    @classmethod
    def for_machine(
        cls, device: SpeechDevice, threads: int | None, beam_size: int, vad: bool
    ) -> SpeechPlan:
        if device == "auto":
            device = "cuda" if load_ctranslate2().get_cuda_device_count() > 0 else "cpu"
        return cls(
            device=device,
            compute_type="float16" if device == "cuda" else "int8",
            threads=threads or os.cpu_count() or 1,
            beam_size=beam_size,
            vad=vad,
        )


class Transcriber:
    """Loads the speech model once; `transcribe(path)` returns the recording's Transcript."""

    def __init__(self, model_path: Path, plan: SpeechPlan, language: SpeechLanguage = "auto"):
        load_ctranslate2()  # before faster-whisper imports it
        from faster_whisper import WhisperModel

        verify_embedder_dir(model_path, setting="VIGIE_SPEECH_MODEL_PATH")
        self.plan = plan
        self.language = language
        self._model = WhisperModel(
            str(model_path),
            device=plan.device,
            compute_type=plan.compute_type,
            cpu_threads=plan.threads,
            local_files_only=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Transcriber:
        plan = SpeechPlan.for_machine(
            settings.speech_device,
            settings.speech_threads,
            settings.speech_beam_size,
            settings.speech_vad,
        )
        return cls(settings.resolved_speech_model_path, plan, settings.speech_language)

    def decode(self, path: Path) -> Any:
        """The recording as 16 kHz mono samples; an unreadable file says so in one line."""
        from faster_whisper.audio import decode_audio

        try:
            audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
        except Exception as exc:  # PyAV raises its own error classes, one per FFmpeg code
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise UnreadableFile(f"audio cannot be decoded: {reason}") from None
        if len(audio) == 0:
            raise UnreadableFile("recording holds no audio (0 seconds)")
        return audio

    def transcribe(self, path: Path, language: SpeechLanguage | None = None) -> Transcript:
        """The recording's transcript. With no language forced, Whisper's own detection runs
        (inside its transcription: no extra pass) and is kept when it says French or
        English; when it says anything else, the likelier of the two is decoded instead."""
        audio = self.decode(path)
        forced = language or self.language
        options = {"beam_size": self.plan.beam_size, "vad_filter": self.plan.vad}
        if forced != "auto":
            segments, info = self._model.transcribe(audio, language=forced, **options)
            code, probability = forced, 1.0
        else:
            segments, info = self._model.transcribe(audio, **options)  # lazy: nothing decoded
            code, probability = served_language(info.all_language_probs or [])
            if info.language != code:
                segments, info = self._model.transcribe(audio, language=code, **options)
        return Transcript(
            language=code,
            language_probability=round(probability, 4),
            duration=float(info.duration),
            segments=[
                TranscriptSegment(
                    start=round(float(s.start), 2),
                    end=round(float(s.end), 2),
                    text=s.text.strip(),
                    confidence=round(segment_confidence(s.avg_logprob, s.no_speech_prob), 4),
                )
                for s in segments
                if s.text.strip()
            ],
        )
