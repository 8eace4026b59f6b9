"""A recording's chunks: its transcript cut on segment boundaries, each chunk timed.

Whisper gives segments of a few seconds. A chunk gathers whole segments until it holds
more than the midpoint of `speech_chunk_min_seconds` and `speech_chunk_max_seconds` (about
45 s by default), or until the next segment would carry it past the maximum or past the
embedder's token limit; the next chunk starts again with its last segment, so a sentence
cut by a boundary is whole in one of the two. Each chunk keeps its segments (with their
times and confidence), from which `vigie transcript` rebuilds the recording's text.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.dates import document_date
from vigie.config import Settings
from vigie.contracts import Chunk, Level, SourceDocument, Transcript, TranscriptSegment

TRANSCRIPT_ELEMENT = "Transcript"


def _windows(
    segments: list[TranscriptSegment],
    settings: Settings,
    too_long: Callable[[list[TranscriptSegment]], bool],
) -> list[list[TranscriptSegment]]:
    """Consecutive runs of segments, each overlapping the next by one segment."""
    target = (settings.speech_chunk_min_seconds + settings.speech_chunk_max_seconds) / 2
    windows: list[list[TranscriptSegment]] = []
    current: list[TranscriptSegment] = []
    i = 0
    while i < len(segments):
        segment = segments[i]
        if current:
            longer = current + [segment]
            span = segment.end - current[0].start
            if span > settings.speech_chunk_max_seconds or too_long(longer):
                if windows and current == windows[-1][-1:]:
                    current = []  # the overlap alone would make a chunk of its own
                    continue
                windows.append(current)
                # Overlap by the last segment, unless it alone was the whole chunk.
                current = [current[-1]] if len(current) > 1 else []
                continue
        current.append(segment)
        i += 1
        if current[-1].end - current[0].start >= target and i < len(segments):
            windows.append(current)
            current = [current[-1]]
    if current and (not windows or current != windows[-1][-1:]):
        windows.append(current)
    return windows


def chunk_transcript(
    doc: SourceDocument,
    transcript: Transcript,
    level: Level,
    caveats: tuple[str, ...],
    settings: Settings,
    measure: Callable[[str], int] | None = None,
    max_tokens: int | None = None,
) -> list[Chunk]:
    """The chunks of a recording, numbered from 0, each with its start and end seconds.
    A recording has one "page": page 1."""

    def too_long(segments: list[TranscriptSegment]) -> bool:
        text = " ".join(s.text for s in segments)
        if len(text) > settings.chunk_max_chars * 2:
            return True
        return measure is not None and max_tokens is not None and measure(text) > max_tokens

    head = " ".join(s.text for s in transcript.segments[:40])
    day = document_date(head, doc.created)
    chunks = []
    for index, run in enumerate(_windows(transcript.segments, settings, too_long)):
        spoken = sum(s.end - s.start for s in run) or 1.0
        confidence = sum(s.confidence * (s.end - s.start) for s in run) / spoken
        chunks.append(
            Chunk(
                document_id=doc.document_id,
                chunk_index=index,
                text=" ".join(s.text for s in run),
                file_name=doc.file_name,
                source_path=doc.path,
                sha256=doc.sha256,
                page=1,
                element_type=TRANSCRIPT_ELEMENT,
                language=transcript.language,
                level=level,
                caveats=caveats,
                ocr_confidence=round(confidence, 4),
                document_date=day,
                start=run[0].start,
                end=run[-1].end,
                segments=tuple(run),
            )
        )
    return chunks


def merged_segments(chunks: list[Chunk]) -> list[TranscriptSegment]:
    """A recording's segments once each, in time order, from its overlapping chunks."""
    seen: dict[tuple[float, float], TranscriptSegment] = {}
    for chunk in chunks:
        for segment in chunk.segments:
            seen.setdefault((segment.start, segment.end), segment)
    return [seen[key] for key in sorted(seen)]
