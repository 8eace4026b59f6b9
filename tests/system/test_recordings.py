"""Recordings ingested through the CLI with no network, as an operator would feed them:
real French and English speech goes in time-coded, a broken, truncated or empty file goes
to quarantine with its reason and the batch goes on; search, ask and `vigie transcript`
cite a recording by its seconds, and a reader below a recording's level never learns it
exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    add_user,
    network_attempts,
    one_line_error,
    run_vigie,
    signed_in_workspace,
)
from vigie.contracts import Level

AUDIO = ROOT.parent / "shared" / "corpus" / "audio"
READER = {"VIGIE_USER": "lecteur", "VIGIE_PASSWORD": "lecteur-password"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, dict]:
    """A home with one batch of recordings (DIFFUSION RESTREINTE) and one SECRET recording."""
    root = tmp_path_factory.mktemp("recordings")
    batch = root / "batch"
    batch.mkdir()
    shutil.copy(AUDIO / "en" / "jfk.flac", batch / "inaugural.flac")
    shutil.copy(AUDIO / "fr" / "fleurs-fr-001.ogg", batch / "declaration.ogg")
    wav = (AUDIO / "en" / "librispeech-1272-128104-0000.wav").read_bytes()
    (batch / "memo.pdf").write_bytes(wav)  # a recording, whatever its name says
    (batch / "cut.wav").write_bytes(wav[: len(wav) // 3])  # its header declares 5.9 s
    flac = (AUDIO / "en" / "jfk.flac").read_bytes()
    (batch / "cut.flac").write_bytes(flac[: len(flac) // 3])  # its stream info: 11 s
    (batch / "broken.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8)
    with wave.open(str(batch / "silent.wav"), "wb") as silent:  # a header, not one sample
        silent.setnchannels(1)
        silent.setsampwidth(2)
        silent.setframerate(16_000)
    home = root / "home"
    fed = run_vigie(
        ["ingest", str(batch), "--level", "DIFFUSION RESTREINTE", "--json"], home, models_dir
    )
    assert fed.returncode == 0, fed.stderr
    secret = root / "secret"
    secret.mkdir()
    shutil.copy(AUDIO / "fr" / "fleurs-fr-002.ogg", secret / "entretien.ogg")
    # Every recording of this batch heard "too unsure": it is listed to review.
    again = run_vigie(
        ["ingest", str(secret), "--level", "SECRET"],
        home,
        models_dir,
        VIGIE_SPEECH_REVIEW_BELOW="1.01",
    )
    assert again.returncode == 0, again.stderr
    assert network_attempts(home) == []
    add_user(home, "lecteur", "analyst", Level.DIFFUSION_RESTREINTE, (), "lecteur-password")
    return home, json.loads(fed.stdout)


def test_speech_goes_in_and_bad_recordings_go_to_quarantine_with_their_reason(
    archive: tuple[Path, dict],
) -> None:
    _, report = archive
    outcomes = {Path(f["path"]).name: f for f in report["files"]}
    for name in ("inaugural.flac", "declaration.ogg", "memo.pdf"):
        assert outcomes[name]["state"] == "ingested", outcomes[name]
        assert outcomes[name]["pages"] == 0 and outcomes[name]["chunks"] >= 1
        assert outcomes[name]["level"] == "DIFFUSION RESTREINTE"
    assert outcomes["inaugural.flac"]["audio_seconds"] == pytest.approx(11.0, abs=0.2)
    for name, declared, heard in (("cut.wav", 6, 2), ("cut.flac", 11, 4)):
        assert outcomes[name]["state"] == "quarantined"
        assert outcomes[name]["reason"] == (
            f"recording truncated: its container declares {declared} s, only {heard} s decode"
        )
    assert outcomes["broken.mp3"]["state"] == "quarantined"
    assert outcomes["broken.mp3"]["reason"].startswith("audio cannot be decoded")
    assert outcomes["silent.wav"]["state"] == "quarantined"
    assert "0 seconds" in outcomes["silent.wav"]["reason"]
    assert report["totals"]["audio_seconds"] == pytest.approx(11.0 + 23.4 + 5.9, abs=0.5)


def test_a_search_finds_the_words_spoken_and_gives_their_seconds(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = archive
    found = run_vigie(
        ["search", "ask not what your country can do for you", "--json", "--limit", "3"],
        home,
        models_dir,
    )
    assert found.returncode == 0, found.stderr
    first = json.loads(found.stdout)["results"][0]
    assert first["document"] == "inaugural.flac"
    assert first["page"] is None and first["start"] == 0.0
    assert 10.0 <= first["end"] <= 11.5 and first["where"].startswith("00:00-00:1")
    text = run_vigie(["search", "ask not what your country can do"], home, models_dir)
    assert "inaugural.flac, 00:00-00:1" in text.stdout


def test_the_transcript_prints_as_segments_json_and_subtitles(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = archive
    as_json = run_vigie(["transcript", "declaration.ogg", "--json"], home, models_dir)
    assert as_json.returncode == 0, as_json.stderr
    stored = json.loads(as_json.stdout)
    assert stored["label"] == "DIFFUSION RESTREINTE" and stored["language"] == "fr"
    segments = stored["segments"]
    assert segments and [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert all(0 < s["confidence"] <= 1 and s["end"] > s["start"] for s in segments)
    assert "comité" in " ".join(s["text"] for s in segments).lower()
    srt = run_vigie(["transcript", "declaration.ogg", "--srt"], home, models_dir)
    assert srt.stdout.startswith("1\n00:00:0") and " --> " in srt.stdout
    assert "DIFFUSION RESTREINTE" in srt.stderr
    vtt = run_vigie(["transcript", "inaugural.flac", "--vtt"], home, models_dir)
    assert vtt.stdout.startswith("WEBVTT - DIFFUSION RESTREINTE\n\n00:00:00.000 --> ")
    both = one_line_error(run_vigie(["transcript", "memo.pdf", "--srt", "--vtt"], home, models_dir))
    assert "choose one output format" in both


def test_an_answer_cites_the_recording_by_its_seconds(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = archive
    asked = run_vigie(
        ["ask", "What should Americans ask what they can do for?", "--json"], home, models_dir
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    quote = answer["quotes"][0]
    assert quote["document"] == "inaugural.flac" and quote["page"] is None
    assert quote["start"] == 0.0 and quote["end"] <= 11.5 and "country" in quote["text"]
    cited = [c for c in answer["citations"] if c["document"] == "inaugural.flac"]
    assert cited and cited[0]["start"] is not None and cited[0]["page"] is None


def test_a_summary_of_a_recording_cites_its_times_not_pages(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = archive
    summarized = run_vigie(["summarize", "declaration.ogg", "--json"], home, models_dir)
    assert summarized.returncode == 0, summarized.stderr
    summary = json.loads(summarized.stdout)
    assert summary["label"] == "DIFFUSION RESTREINTE" and summary["pages_cited"] == []
    times = summary["times_cited"]
    assert times and all(0.0 <= t["start"] < t["end"] <= 24.0 for t in times)
    assert "(p. " not in summary["summary"] and re.search(r"\(00:\d\d-00:\d\d", summary["summary"])
    printed = run_vigie(["summarize", "declaration.ogg"], home, models_dir)
    assert "Times cited: 00:" in printed.stdout and "Pages cited" not in printed.stdout


def test_a_reader_below_a_recording_never_learns_it_exists(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = archive
    admin = run_vigie(["transcript", "entretien.ogg", "--json"], home, models_dir)
    assert admin.returncode == 0 and json.loads(admin.stdout)["label"] == "SECRET"
    hidden = one_line_error(run_vigie(["transcript", "entretien.ogg"], home, models_dir, **READER))
    # The same words as for a name never ingested; a hint names only what they may read.
    assert hidden.startswith("vigie: error: no document you may read matches 'entretien.ogg'")
    hint = hidden.partition("did you mean: ")[2].partition("?")[0]
    assert set(filter(None, hint.split(", "))) <= {"declaration.ogg", "inaugural.flac", "memo.pdf"}
    assert "SECRET" not in hidden
    words = json.loads(admin.stdout)["segments"][0]["text"]
    found = run_vigie(["search", words, "--json"], home, models_dir, **READER)
    names = {r["document"] for r in json.loads(found.stdout)["results"]}
    assert "entretien.ogg" not in names and names  # the reader still finds their own


def test_the_workspace_plays_a_recording_from_the_second_a_segment_names(
    archive: tuple[Path, dict],
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    at = signed_in_workspace(archive[0], models_dir, "lecteur", "lecteur-password", tmp_path,
                             monkeypatch, request)  # fmt: skip
    at.radio(key="page").set_value("documents").run()
    at.text_input(key="document").input("declaration.ogg")
    at.button[0].click().run()
    assert not at.exception

    def player_start() -> int:
        players = at.get("audio")
        assert len(players) == 1
        return players[0].proto.start_time

    def seconds(label: str) -> int:  # a segment's button reads "MM:SS  its words"
        minutes, secs = label[:5].split(":")
        return int(minutes) * 60 + int(secs)

    segments = [b for b in at.button if b.key and b.key.startswith("seek-")]
    assert len(segments) >= 2
    assert player_start() == seconds(segments[0].label)  # where the recording's speech starts
    later = segments[-1]
    assert seconds(later.label) > seconds(segments[0].label)
    later.click().run()
    assert not at.exception and player_start() == seconds(later.label)
    # The SECRET recording is not there for this reader, in the same words as any unknown.
    at.text_input(key="document").input("entretien.ogg")
    at.button[0].click().run()
    assert [e.value for e in at.error][0].startswith("no document you may read matches")
    assert not at.get("audio")


def test_a_recording_heard_unsure_is_listed_to_review_for_those_cleared_for_it(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, report = archive
    assert report["to_review"] == []  # the first batch, under the default threshold
    admin = run_vigie(["status"], home, models_dir)
    reviews = [line for line in admin.stdout.splitlines() if line.startswith("to review")]
    assert len(reviews) == 1 and "entretien.ogg: speech heard with low confidence" in reviews[0]
    add_user(home, "guichet", "operator", Level.DIFFUSION_RESTREINTE, (), "guichet-password")
    operator = {"VIGIE_USER": "guichet", "VIGIE_PASSWORD": "guichet-password"}
    reader = run_vigie(["status", "--json"], home, models_dir, **operator)
    assert reader.returncode == 0 and json.loads(reader.stdout)["to_review"] == []
    assert "entretien" not in reader.stdout


def test_a_recording_may_take_longer_than_a_page_in_proportion_to_its_length(
    tmp_path: Path, models_dir: Path
) -> None:
    """file_timeout alone (3 s) is too short to transcribe 30 s of speech; the file's
    own deadline (file_timeout + recording_seconds_per_second x its length) is not."""
    batch = tmp_path / "batch"
    batch.mkdir()
    with wave.open(str(AUDIO / "en" / "librispeech-1272-128104-0000.wav"), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(batch / "long.wav"), "wb") as long:  # 5 x 5.9 s
        long.setparams(params)
        long.writeframes(frames * 5)
    outcomes = {}
    for per_second in ("0.01", "2"):
        fed = run_vigie(
            ["ingest", str(batch), "--json", "--retry-quarantined", "--level", "NON PROTÉGÉ"],
            tmp_path / "home",
            models_dir,
            VIGIE_FILE_TIMEOUT="3",
            VIGIE_RECORDING_SECONDS_PER_SECOND=per_second,
        )
        assert fed.returncode == 0, fed.stderr
        outcomes[per_second] = json.loads(fed.stdout)["files"][0]
    cut = outcomes["0.01"]
    assert cut["state"] == "quarantined"
    assert cut["reason"] == (
        "parsing took more than 3 s (file_timeout + recording_seconds_per_second x its length):"
        " the parser was stopped"
    )
    assert outcomes["2"]["state"] == "ingested" and outcomes["2"]["chunks"] >= 1


def test_a_marking_spoken_in_a_recording_raises_its_level(tmp_path: Path, models_dir: Path) -> None:
    """Speech made by espeak-ng (Debian's, installed by the test set-up), transcribed by
    the real model: the spoken "classified secret" raises the declared level."""
    batch = tmp_path / "batch"
    batch.mkdir()
    said = "This briefing is classified secret. The convoy will leave Portsmouth on Tuesday."
    subprocess.run(
        ["espeak-ng", "-v", "en", "-s", "140", "-w", str(batch / "briefing.wav"), said],
        check=True,
        capture_output=True,
    )
    home = tmp_path / "home"
    fed = run_vigie(["ingest", str(batch), "--level", "NON PROTÉGÉ", "--json"], home, models_dir)
    assert fed.returncode == 0, fed.stderr
    [outcome] = json.loads(fed.stdout)["files"]
    assert outcome["state"] == "ingested" and outcome["level"] == "SECRET"
    add_user(home, "lecteur", "analyst", Level.NON_PROTEGE, (), "lecteur-password")
    found = run_vigie(["search", "convoy Portsmouth Tuesday", "--json"], home, models_dir, **READER)
    assert found.returncode == 0 and json.loads(found.stdout)["results"] == []
    admin = run_vigie(["search", "convoy Portsmouth Tuesday", "--json"], home, models_dir)
    assert json.loads(admin.stdout)["results"][0]["document"] == "briefing.wav"
