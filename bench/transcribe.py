"""Speech to text: word error rate per language, realtime factor, memory, and Vigie's
transcriber against bare faster-whisper on the same recordings in the same run.

Recordings: every audio file of `../shared/corpus/audio/{fr,en}/` with its reference
transcript beside it (`.txt`). Both sides load the same CTranslate2 Whisper folder (the
default: Whisper base, `vigie models prepare`) with the same device, number type, threads,
beam size and voice-activity filter:

* bare: `faster_whisper.WhisperModel(folder).transcribe(file, beam_size, vad_filter)`, its
  defaults otherwise (language detected among all of Whisper's languages);
* Vigie: `ingest.transcribe.Transcriber.transcribe(file)`: language restricted to French
  and English, segments with their confidence.

Word error rate: both sides normalised the same way (lower case, accents kept, apostrophes
and punctuation made spaces), word-level edit distance over the reference's word count,
summed per language. Timing: one warm-up file per side, then `--rounds` rounds in which the
sides take turns on every file; each file's best time per side is kept. The realtime factor
is transcription seconds over audio seconds (below 1: faster than the recording plays).
Peak memory is the process's maximum resident set (both models loaded).

Then, unless `--skip-ingest`, the recordings go through `vigie ingest` in a fresh home of
the bench's own (its administrator from `bench/signin.py`), with the default workers: the
batch's wall time (process start, models, transcription in the workers, chunking,
embedding, store) against bare faster-whisper's transcription time, and the WER of the
transcripts Vigie stored (`vigie transcript --json`).

    .venv/bin/python bench/transcribe.py
    .venv/bin/python bench/transcribe.py --rounds 1 --json > transcribe-bench.json
    .venv/bin/python bench/transcribe.py --skip-ingest
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vigie.offline import apply_offline_environment, install_network_guard  # noqa: E402

apply_offline_environment()

DEFAULT_AUDIO = REPO.parent / "shared" / "corpus" / "audio"
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a"}


def normalise(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text.lower())
    text = re.sub(r"[’'`´\-]", " ", text)
    text = re.sub(r"[^\w\s]", " ", text)
    return text.split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level edit distance (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


@dataclass
class Recording:
    path: Path
    language: str  # the folder it lies in: the reference's language
    reference: str
    seconds: float = 0.0


@dataclass
class Side:
    name: str
    seconds: dict[str, float] = field(default_factory=dict)  # best time per file
    text: dict[str, str] = field(default_factory=dict)
    language: dict[str, str] = field(default_factory=dict)


def recordings(folder: Path) -> list[Recording]:
    found = []
    for language in ("fr", "en"):
        for path in sorted((folder / language).glob("*")):
            if path.suffix.lower() in AUDIO_SUFFIXES and path.with_suffix(".txt").is_file():
                reference = path.with_suffix(".txt").read_text(encoding="utf-8")
                found.append(Recording(path, language, reference))
    return found


def wer_by_language(side: Side, files: list[Recording]) -> dict[str, float]:
    result = {}
    for language in ("fr", "en"):
        errors = words = 0
        for rec in (r for r in files if r.language == language):
            reference = normalise(rec.reference)
            errors += word_errors(reference, normalise(side.text[rec.path.name]))
            words += len(reference)
        if words:
            result[language] = round(errors / words, 3)
    return result


def ingest_side(files: list[Recording]) -> dict[str, Any]:
    """`vigie ingest` of the recordings in a fresh home; its wall time and stored WER."""
    import subprocess
    import tempfile

    from bench.signin import signed_in

    with tempfile.TemporaryDirectory(prefix="vigie-bench-speech-") as tmp:
        env = signed_in(
            {
                **os.environ,
                "VIGIE_HOME": str(Path(tmp) / "home"),
                "VIGIE_MODELS_DIR": str(REPO / ".vigie" / "models"),
            }
        )
        vigie = [sys.executable, "-m", "ui.cli"]
        began = time.perf_counter()
        fed = subprocess.run(
            # the recordings themselves: their reference transcripts (.txt) are documents too
            [*vigie, "ingest", *(str(f.path) for f in files), "--level", "NON PROTÉGÉ", "--json"],
            capture_output=True, text=True, cwd=REPO, env=env, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - began
        if fed.returncode != 0:
            raise SystemExit(f"vigie ingest failed ({fed.returncode}): {fed.stderr[-800:]}")
        report = json.loads(fed.stdout)
        stored = Side("vigie ingest")
        for rec in files:
            shown = subprocess.run(
                [*vigie, "transcript", str(rec.path), "--json"],
                capture_output=True, text=True, cwd=REPO, env=env, check=False,
            )  # fmt: skip
            segments = json.loads(shown.stdout)["segments"] if shown.returncode == 0 else []
            stored.text[rec.path.name] = " ".join(segment["text"] for segment in segments)
    return {
        "seconds": round(seconds, 2),
        "ingested": report["totals"]["ingested"],
        "quarantined": report["totals"]["quarantined"],
        "audio_seconds": report["totals"]["audio_seconds"],
        "wer": wer_by_language(stored, files),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO, help="folder with fr/, en/")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds (default 2)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true", help="no `vigie ingest` run")
    args = parser.parse_args()
    install_network_guard()
    files = recordings(args.audio)
    if not files:
        print(f"no recordings with a reference transcript under {args.audio}", file=sys.stderr)
        return 2

    from ingest.transcribe import SAMPLE_RATE, Transcriber, load_ctranslate2

    load_ctranslate2()  # Vigie's process limits OpenMP to 1 thread: see its docstring
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from vigie.config import Settings

    settings = Settings(models_dir=REPO / ".vigie" / "models")
    for rec in files:
        rec.seconds = len(decode_audio(str(rec.path), sampling_rate=SAMPLE_RATE)) / SAMPLE_RATE
    load_before = os.getloadavg()
    started = time.perf_counter()
    vigie = Transcriber.from_settings(settings)
    plan = vigie.plan
    bare_model = WhisperModel(
        str(settings.resolved_speech_model_path),
        device=plan.device,
        compute_type=plan.compute_type,
        cpu_threads=plan.threads,
        local_files_only=True,
    )
    load_s = time.perf_counter() - started

    def run_bare(rec: Recording) -> tuple[str, str]:
        segments, info = bare_model.transcribe(
            str(rec.path), beam_size=plan.beam_size, vad_filter=plan.vad
        )
        return " ".join(s.text.strip() for s in segments), info.language

    def run_vigie(rec: Recording) -> tuple[str, str]:
        transcript = vigie.transcribe(rec.path)
        return transcript.text, transcript.language

    sides = {"bare": (Side("bare faster-whisper"), run_bare), "vigie": (Side("Vigie"), run_vigie)}
    for _, run in sides.values():
        run(files[0])  # warm-up
    for round_number in range(args.rounds):
        order = list(sides.values()) if round_number % 2 == 0 else list(sides.values())[::-1]
        for rec in files:
            for side, run in order:
                began = time.perf_counter()
                text, language = run(rec)
                took = time.perf_counter() - began
                name = rec.path.name
                side.seconds[name] = min(side.seconds.get(name, took), took)
                side.text[name], side.language[name] = text, language

    audio_s = sum(r.seconds for r in files)
    report: dict[str, Any] = {
        "recordings": len(files),
        "audio_seconds": round(audio_s, 1),
        "model": str(settings.resolved_speech_model_path),
        "plan": asdict(plan),
        "load_seconds": round(load_s, 2),
        "load_avg_before": [round(x, 2) for x in load_before],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "sides": {},
    }
    for key, (side, _) in sides.items():
        seconds = sum(side.seconds.values())
        report["sides"][key] = {
            "wer": wer_by_language(side, files),
            "seconds": round(seconds, 2),
            "realtime_factor": round(seconds / audio_s, 3),
            "languages_wrong": sorted(
                r.path.name for r in files if side.language[r.path.name] != r.language
            ),
        }
    report["vigie_over_bare_time"] = round(
        report["sides"]["vigie"]["seconds"] / report["sides"]["bare"]["seconds"], 3
    )
    if not args.skip_ingest:
        del vigie, bare_model  # the batch's workers load their own
        report["ingest"] = ingest_side(files)
        report["ingest_over_bare_time"] = round(
            report["ingest"]["seconds"] / report["sides"]["bare"]["seconds"], 3
        )
    report["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    report["per_file"] = [
        {
            "file": f"{r.language}/{r.path.name}",
            "seconds": round(r.seconds, 1),
            "vigie_wer": round(
                word_errors(normalise(r.reference), normalise(sides["vigie"][0].text[r.path.name]))
                / max(1, len(normalise(r.reference))),
                3,
            ),
            "vigie_text": sides["vigie"][0].text[r.path.name],
        }
        for r in files
    ]
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"{len(files)} recordings, {audio_s:.1f} s of audio; plan {asdict(plan)}")
    print(f"load average before {report['load_avg_before']}, after {report['load_avg_after']}")
    for key, figures in report["sides"].items():
        wer = ", ".join(f"{lang} {value:.3f}" for lang, value in figures["wer"].items())
        print(
            f"{sides[key][0].name:22} WER {wer}; {figures['seconds']:.1f} s, "
            f"realtime factor {figures['realtime_factor']:.3f}; "
            f"language wrong on {len(figures['languages_wrong'])} "
            f"{figures['languages_wrong'] or ''}"
        )
    print(f"Vigie / bare time: {report['vigie_over_bare_time']:.3f}")
    if "ingest" in report:
        ingest = report["ingest"]
        wer = ", ".join(f"{lang} {value:.3f}" for lang, value in ingest["wer"].items())
        print(
            f"vigie ingest: {ingest['ingested']} ingested in {ingest['seconds']:.1f} s "
            f"(whole batch), {report['ingest_over_bare_time']:.3f}x bare transcription; "
            f"stored transcripts WER {wer}"
        )
    print(f"peak RSS {report['peak_rss_mib']} MiB (both models loaded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
