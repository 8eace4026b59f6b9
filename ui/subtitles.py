"""A recording's segments as subtitles: SubRip (.srt) and WebVTT (.vtt)."""

from __future__ import annotations

from collections.abc import Sequence

from vigie.contracts import TranscriptSegment


def _stamp(seconds: float, decimal: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def srt(segments: Sequence[TranscriptSegment]) -> str:
    """SubRip: numbered cues, times as 00:01:21,200."""
    cues = [
        f"{n}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text}\n"
        for n, s in enumerate(segments, start=1)
    ]
    return "\n".join(cues)


def vtt(segments: Sequence[TranscriptSegment], title: str = "") -> str:
    """WebVTT: the header line carries `title` (the marking), times as 00:01:21.200."""
    header = f"WEBVTT - {title}" if title else "WEBVTT"
    cues = [f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text}\n" for s in segments]
    return "\n".join([f"{header}\n", *cues])
