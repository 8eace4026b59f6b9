"""Recordings as ingestion sees them, without the speech model: recognised by content,
cut into timed chunks on segment boundaries, their spoken markings read, their times
written "01:21-01:35" and as subtitles, a lying or empty container refused in one line."""

from __future__ import annotations

import struct
import wave
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import UnreadableFile
from ingest.filetypes import RECORDING, sniff
from ingest.markings import document_marking, read_spoken_markings
from ingest.timecoded import chunk_transcript, merged_segments
from ingest.transcribe import probe_recording
from retrieval.analysis import spoken_once, timed_citations
from retrieval.citations import heard_at
from ui.subtitles import srt, vtt
from vigie.config import Settings
from vigie.contracts import (
    Chunk,
    Level,
    SourceDocument,
    Transcript,
    TranscriptSegment,
    clock,
    place,
    place_fields,
)

HEADS = {
    "a.wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "a.flac": b"fLaC\x00\x00\x00\x22",
    "a.ogg": b"OggS\x00\x02",
    "a.mp3": b"ID3\x04\x00\x00",
    "b.mp3": b"\xff\xfb\x90\x64",
    "a.m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00",
    "a.mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",
    "a.mkv": b"\x1a\x45\xdf\xa3\x01\x00\x00\x00",
}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_recordings_are_recognised_by_their_first_bytes_whatever_their_name(
    tmp_path: Path, name: str
) -> None:
    misnamed = tmp_path / f"{name}.pdf"
    misnamed.write_bytes(HEADS[name] + b"\x00" * 64)
    assert sniff(misnamed) == RECORDING


def test_an_heic_image_is_not_taken_for_a_recording(tmp_path: Path) -> None:
    image = tmp_path / "photo.mp4"
    image.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(UnreadableFile, match="HEIC or AVIF image"):
        sniff(image)


def _wav(path: Path, seconds: float, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


def test_a_recording_over_the_maximum_duration_is_refused_unread(tmp_path: Path) -> None:
    recording = _wav(tmp_path / "long.wav", 12.0)
    assert probe_recording(recording, max_seconds=60) == pytest.approx(12.0, abs=0.1)
    with pytest.raises(UnreadableFile, match=r"recording too long: 0 min, over the 0 min limit"):
        probe_recording(recording, max_seconds=6)


def test_a_zero_second_recording_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match=r"no audio \(0 seconds\)"):
        probe_recording(_wav(tmp_path / "empty.wav", 0.0), max_seconds=3600)


def _matroska(path: Path, seconds: float, declared_ms: float) -> Path:
    """A Matroska file with `seconds` of tone, its Duration element saying `declared_ms`."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("pcm_s16le", rate=16_000)
        stream.layout = "mono"
        tone = (np.sin(np.arange(int(16_000 * seconds)) / 10) * 3000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16_000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89")  # EBML Duration, an 8-byte float of milliseconds
    assert data[at + 2] == 0x88
    data[at + 3 : at + 11] = struct.pack(">d", declared_ms)
    path.write_bytes(bytes(data))
    return path


def test_a_container_declaring_days_of_sound_in_a_few_kilobytes_is_refused(
    tmp_path: Path,
) -> None:
    honest = _matroska(tmp_path / "honest.mka", 1.0, 1000.0)
    assert probe_recording(honest, max_seconds=10**9) == pytest.approx(1.0)
    forged = _matroska(tmp_path / "forged.mka", 1.0, 3.6e9)  # 1,000 hours in 32 KB
    with pytest.raises(
        UnreadableFile, match="declares 3600000 s of audio in 32 KB: its size is absurd"
    ):
        probe_recording(forged, max_seconds=10**9)


def test_garbage_after_an_audio_signature_is_refused_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8)
    with pytest.raises(UnreadableFile) as caught:
        probe_recording(broken, max_seconds=3600)
    assert "\n" not in caught.value.reason


def segments_every(seconds: float, count: int, start: float = 0.0) -> list[TranscriptSegment]:
    return [
        TranscriptSegment(start + i * seconds, start + (i + 1) * seconds, f"phrase {i} dite", 0.9)
        for i in range(count)
    ]


def chunks_of(segments: list[TranscriptSegment], **settings: float) -> list[Chunk]:
    doc = SourceDocument("/archives/brief.wav", "ab" * 32, "brief.wav", 1)
    transcript = Transcript("fr", 1.0, segments[-1].end if segments else 0.0, segments)
    return chunk_transcript(doc, transcript, Level.SECRET, (), Settings(**settings))


def test_a_long_recording_is_cut_into_chunks_of_thirty_to_sixty_seconds_overlapping_by_one():
    chunks = chunks_of(segments_every(6.0, 100))  # 10 minutes in 6-second segments
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks[:-1]:
        assert chunk.start is not None and chunk.end is not None
        assert 30.0 <= chunk.end - chunk.start <= 60.0
        assert chunk.text == " ".join(s.text for s in chunk.segments)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.segments[-1] == after.segments[0]  # overlap: one segment
    assert merged_segments(chunks) == segments_every(6.0, 100)
    assert all(c.page == 1 and c.element_type == "Transcript" for c in chunks)


@given(
    durations=st.lists(st.floats(min_value=0.2, max_value=29.0), min_size=1, max_size=60),
)
def test_every_segment_is_kept_once_and_no_chunk_passes_the_maximum(
    durations: list[float],
) -> None:
    segments, clock_at = [], 0.0
    for i, duration in enumerate(durations):
        segments.append(TranscriptSegment(clock_at, clock_at + duration, f"mot{i}", 0.8))
        clock_at += duration
    chunks = chunks_of(segments)
    assert merged_segments(chunks) == segments
    for chunk in chunks:
        assert chunk.end - chunk.start <= 60.0 or len(chunk.segments) == 1


def test_a_chunk_ends_before_the_embedder_token_limit() -> None:
    doc = SourceDocument("/archives/brief.wav", "ab" * 32, "brief.wav", 1)
    segments = segments_every(2.0, 30)
    transcript = Transcript("fr", 1.0, 60.0, segments)
    chunks = chunk_transcript(
        doc,
        transcript,
        Level.SECRET,
        (),
        Settings(),
        measure=lambda t: len(t.split()),
        max_tokens=12,
    )
    assert all(len(c.text.split()) <= 12 for c in chunks)
    assert merged_segments(chunks) == segments


def test_a_chunk_keeps_its_times_and_segments_through_the_store_payload() -> None:
    chunk = chunks_of(segments_every(5.0, 20))[1]
    again = Chunk.from_payload(chunk.to_payload())
    assert (again.start, again.end, again.segments) == (chunk.start, chunk.end, chunk.segments)
    assert again.place == chunk.place


def test_times_read_as_a_clock() -> None:
    assert clock(81.2) == "01:21" and clock(3725) == "1:02:05"
    assert place(3) == "page 3" and place(1, 81.2, 95.0) == "01:21-01:35"
    assert place_fields(1, 81.2, 95.0) == {"page": None, "start": 81.2, "end": 95.0}
    assert place_fields(4, None, None) == {"page": 4, "start": None, "end": None}


def test_a_summary_of_a_recording_cites_its_passages_by_their_time() -> None:
    spans = {1: (0.0, 41.5), 2: (38.0, 80.2), 3: (77.0, 121.0), 4: (118.0, 150.0)}
    text = "On ouvre la séance (p. 1). Le budget est voté (pp. 2-3). Fin [p. 4] (p. 9)."
    assert timed_citations(text, spans) == (
        "On ouvre la séance (00:00-00:41). Le budget est voté (00:38-02:01). Fin (01:58-02:30)."
    )
    assert timed_citations("Deux moments (p. 1, 3).", spans) == (
        "Deux moments (00:00-00:41, 01:17-02:01)."
    )


def test_a_translation_or_summary_reads_each_segment_of_a_recording_once() -> None:
    said = [TranscriptSegment(10.0 * n, 10.0 * n + 9, f"phrase {n}.", 0.9) for n in range(5)]
    chunks = [
        Chunk("d", n, " ".join(s.text for s in part), "a.ogg", "/a.ogg", "d", 1, "Speech", "fr",
              Level.NON_PROTEGE, start=part[0].start, end=part[-1].end, segments=part)
        for n, part in enumerate((tuple(said[:3]), tuple(said[2:])))
    ]  # fmt: skip
    once = spoken_once(chunks)
    assert [c.text for c in once] == ["phrase 0. phrase 1. phrase 2.", "phrase 3. phrase 4."]
    assert (once[1].start, once[1].end) == (30.0, 49.0)
    assert chunks[1].start == 20.0
    pages = [replace(c, start=None, end=None, segments=()) for c in chunks]
    assert spoken_once(pages) == pages  # pages are read as they are


def test_subtitles_number_their_cues_and_write_milliseconds() -> None:
    segments = [
        TranscriptSegment(0.0, 2.5, "Bonjour.", 0.9),
        TranscriptSegment(81.2, 95.0, "Fin.", 0.8),
    ]
    assert srt(segments).splitlines()[:3] == ["1", "00:00:00,000 --> 00:00:02,500", "Bonjour."]
    assert "2\n00:01:21,200 --> 00:01:35,000\nFin." in srt(segments)
    text = vtt(segments, title="SECRET")
    assert text.startswith("WEBVTT - SECRET\n\n00:00:00.000 --> 00:00:02.500\nBonjour.\n")


def test_a_quote_is_timed_by_the_segments_that_said_it() -> None:
    chunk = chunks_of(
        [
            TranscriptSegment(10.0, 14.0, "Le convoi partira de Brest.", 0.9),
            TranscriptSegment(14.0, 19.5, "Il emportera les archives du quartier général.", 0.9),
            TranscriptSegment(19.5, 25.0, "La météo reste incertaine.", 0.9),
        ]
    )[0]
    assert heard_at("Il emportera les archives du quartier général.", chunk) == (14.0, 19.5)
    assert heard_at("Rien de tout cela.", chunk) == (10.0, 25.0)


def spoken(*segments: tuple[float, str]) -> Level | None:
    return document_marking(read_spoken_markings(list(segments)))[0]


def test_a_marking_said_in_the_first_minute_classifies_the_recording() -> None:
    assert spoken((2.0, "Ce document est classé secret défense.")) == Level.SECRET
    assert spoken((0.0, "Briefing classified top secret, for the staff only.")) == Level.TRES_SECRET
    assert spoken((5.0, "Diffusion restreinte."), (9.0, "Bonjour à tous.")) == (
        Level.DIFFUSION_RESTREINTE
    )
    assert spoken((1.0, "Secret.")) == Level.SECRET
    assert spoken((3.0, "Niveau de protection : confidentiel défense.")) == Level.SECRET


def test_secret_in_ordinary_speech_or_after_the_first_minute_is_not_a_marking() -> None:
    assert spoken((2.0, "C'est un secret pour personne que le port est fermé.")) is None
    assert spoken((4.0, "The secret of the plan was its timing.")) is None
    assert spoken((75.0, "Ce document est classé secret défense.")) is None


def test_the_highest_spoken_marking_wins() -> None:
    level = spoken((1.0, "Diffusion restreinte."), (20.0, "Ce passage est classé très secret."))
    assert level == Level.TRES_SECRET


def test_the_confident_share_counts_spoken_seconds() -> None:
    transcript = Transcript(
        "en",
        1.0,
        30.0,
        [TranscriptSegment(0, 10, "clear", 0.9), TranscriptSegment(10, 30, "mumbled", 0.2)],
    )
    assert transcript.confident_share(0.5) == pytest.approx(1 / 3)
    assert Transcript("en", 1.0, 5.0, []).confident_share(0.5) == 1.0


def test_the_sound_of_a_video_file_is_a_recording(tmp_path: Path) -> None:
    import av
    import numpy as np

    video = tmp_path / "briefing.mp4"
    with av.open(str(video), "w") as out:
        picture = out.add_stream("mpeg4", rate=10)
        picture.width, picture.height = 64, 48
        sound = out.add_stream("aac", rate=16_000)
        sound.layout = "mono"
        black = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
        for _ in range(20):  # two seconds of picture
            out.mux(picture.encode(black))
        tone = (np.sin(np.arange(32_000) / 10) * 3000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate = 16_000
        out.mux(sound.encode(frame))
        out.mux(picture.encode(None))
        out.mux(sound.encode(None))
    assert sniff(video) == RECORDING
    assert probe_recording(video, max_seconds=3600) == pytest.approx(2.0, abs=0.2)


def test_a_video_without_sound_is_refused(tmp_path: Path) -> None:
    import av
    import numpy as np

    silent = tmp_path / "silent.mp4"
    with av.open(str(silent), "w") as out:
        picture = out.add_stream("mpeg4", rate=10)
        picture.width, picture.height = 64, 48
        black = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
        for _ in range(10):
            out.mux(picture.encode(black))
        out.mux(picture.encode(None))
    with pytest.raises(UnreadableFile, match="recording has no audio track"):
        probe_recording(silent, max_seconds=3600)
