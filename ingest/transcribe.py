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

import logging
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingest.errors import UnreadableFile
from vigie.config import Settings, SpeechDevice, SpeechLanguage
from vigie.contracts import Transcript, TranscriptSegment
from vigie.models import verify_embedder_dir

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # Whisper's input
SERVED_LANGUAGES = ("fr", "en")
# Fewer bytes than this per second of declared audio: the header lies (a truncated file,
# or one forged to declare days of sound). Opus speech at 6 kbit/s is 750 bytes/s.
MIN_BYTES_PER_SECOND = 200
# Decoded audio this much shorter than declared (and by more than a few seconds): truncated.
TRUNCATED_SHARE = 0.9
TRUNCATED_SLACK_SECONDS = 2.0


def load_ctranslate2() -> Any:
    """Import CTranslate2 with OpenMP allowed every core.

    Vigie sets `OMP_THREAD_LIMIT=1` for the whole process (Tesseract runs 3x faster so on
    2 cores). CTranslate2 carries its own libgomp, which reads that limit once, when it
    loads; run with more threads than the limit, Whisper base wrote garbage (")))..." for
    a clear English speech, measured here). So the limit is lifted for this one import,
    and the model's own `cpu_threads` decides how many threads it uses.

    The lifting does not always take. scikit-learn's wheel carries the very same libgomp
    (same file name): when it was loaded first, the dynamic linker gives CTranslate2 that
    copy, limit included. And torch loads its own libgomp into the global symbol scope,
    where CTranslate2's OpenMP calls bind first (spaCy, which unstructured runs, imports
    torch): measured here, 2 threads under that runtime's limit of 1 decoded nothing.
    `openmp_thread_limit` reads the limit actually in force, and the transcriber never
    asks for more threads than it."""
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


def openmp_thread_limit() -> int | None:
    """The thread limit of the OpenMP runtime CTranslate2 runs on (None if not found)."""
    import ctypes

    ctranslate2 = load_ctranslate2()
    try:
        # An OpenMP runtime loaded into the global scope (torch loads its libgomp so) is
        # the one CTranslate2's calls bind to, ahead of its own copy.
        return int(ctypes.CDLL(None).omp_get_thread_limit())
    except AttributeError:
        pass
    bundled = Path(ctranslate2.__file__).resolve().parent.parent / "ctranslate2.libs"
    names = {library.name for library in bundled.glob("libgomp*")}
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    for line in maps:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and Path(fields[5]).name in names:
            # The library with that name already in the process: the one CTranslate2 uses.
            return int(ctypes.CDLL(fields[5]).omp_get_thread_limit())
    return None


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


def probe_recording(path: Path, max_seconds: float) -> float:
    """A recording's declared duration in seconds, read from its container without decoding
    it; `UnreadableFile` for a file with no audio track, an absurd declared size, or more
    than `max_seconds` of audio."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            if not streams:
                raise UnreadableFile("recording has no audio track")
            stream = streams[0]
            declared = None
            if stream.duration is not None and stream.time_base is not None:
                declared = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                declared = container.duration / 1_000_000  # av.time_base: microseconds
            elif next(iter(container.decode(stream)), None) is None:
                declared = 0.0  # no duration written, and not one frame of sound
    except UnreadableFile:
        raise
    except Exception as exc:  # PyAV raises one error class per FFmpeg code
        raise UnreadableFile(f"audio cannot be decoded: {_first_line(exc)}") from None
    # FFmpeg trims a WAV's declared length to the bytes present: its header says more.
    header = _wav_header_seconds(path)
    if header and (declared is None or header > declared):
        declared = header
    if declared is None:
        return 0.0  # unknown until decoded (raw streams): the decoded length is checked
    if declared <= 0:
        raise UnreadableFile("recording holds no audio (0 seconds)")
    size = path.stat().st_size
    if size / declared < MIN_BYTES_PER_SECOND:
        raise UnreadableFile(
            f"container declares {declared:.0f} s of audio in {size / 1024:.0f} KB: "
            "its size is absurd (truncated or forged)"
        )
    if declared > max_seconds:
        raise UnreadableFile(
            f"recording too long: {declared / 60:.0f} min, over the {max_seconds / 60:.0f} min "
            "limit (max_recording_minutes)"
        )
    return declared


def _wav_header_seconds(path: Path) -> float | None:
    """The seconds a WAV file's header declares (its data chunk's size over the byte
    rate); None for another format, or a size left unknown by a streaming recorder."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    while position + 8 <= len(head):
        chunk, size = (
            head[position : position + 4],
            int.from_bytes(head[position + 4 : position + 8], "little"),
        )
        if chunk == b"fmt ":
            byte_rate = int.from_bytes(head[position + 16 : position + 20], "little")
        elif chunk == b"data":
            unknown = size in (0, 0xFFFFFFFF) or not byte_rate
            return None if unknown else size / byte_rate
        position += 8 + size + (size & 1)
    return None


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


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
        limit = openmp_thread_limit()
        if plan.device == "cpu" and limit is not None and plan.threads > limit:
            log.info("speech model on %d thread(s): the OpenMP limit in force here", limit)
            plan = replace(plan, threads=limit)
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
    def from_settings(cls, settings: Settings, threads: int | None = None) -> Transcriber:
        """`threads`: when `speech_threads` is not set, how many this process may use (an
        ingestion worker gets its share of the cores)."""
        plan = SpeechPlan.for_machine(
            settings.speech_device,
            settings.speech_threads or threads,
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
            raise UnreadableFile(f"audio cannot be decoded: {_first_line(exc)}") from None
        if len(audio) == 0:
            raise UnreadableFile("recording holds no audio (0 seconds)")
        return audio

    def transcribe(
        self, path: Path, language: SpeechLanguage | None = None, declared: float = 0.0
    ) -> Transcript:
        """The recording's transcript. With no language forced, Whisper's own detection runs
        (inside its transcription: no extra pass) and is kept when it says French or
        English; when it says anything else, the likelier of the two is decoded instead.
        `declared`: the container's duration (`probe_recording`); audio that decodes much
        shorter is a truncated file, refused rather than half-read."""
        audio = self.decode(path)
        heard = len(audio) / SAMPLE_RATE
        if (
            declared
            and heard < declared * TRUNCATED_SHARE
            and declared - heard > (TRUNCATED_SLACK_SECONDS)
        ):
            raise UnreadableFile(
                f"recording truncated: its container declares {declared:.0f} s, "
                f"only {heard:.0f} s decode"
            )
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


# One loaded model per process and configuration: an ingestion worker transcribes many
# recordings, and loading Whisper takes about a second.
_loaded: dict[tuple[Any, ...], Transcriber] = {}


def worker_transcriber(settings: Settings) -> Transcriber:
    """The transcriber of an ingestion worker: its share of the cores, loaded once."""
    share = settings.speech_threads or max(1, (os.cpu_count() or 1) // settings.worker_count)
    key = (
        str(settings.resolved_speech_model_path),
        settings.speech_device,
        settings.speech_language,
        share,
        settings.speech_beam_size,
        settings.speech_vad,
    )
    if key not in _loaded:
        _loaded[key] = Transcriber.from_settings(settings, threads=share)
    return _loaded[key]
