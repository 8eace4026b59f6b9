"""Conversations through the CLI with the real models and the network cut: a follow-up
that only makes sense after its question is answered from the right page; a stored
conversation read again after the reader's clearance was lowered withholds what is now
above them; no one reads another user's conversations; deletion is real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import add_user, fleet_archive, network_attempts, one_line_error, run_vigie
from vigie.contracts import Level

ANALYST = {"VIGIE_USER": "lecteur", "VIGIE_PASSWORD": "lecteur-password"}
OTHER = {"VIGIE_USER": "collegue", "VIGIE_PASSWORD": "collegue-password"}
FIRST = "Quel croiseur a quitté Brest le 12 mars 1952 ?"
FOLLOW_UP = "Et dans quel port ce croiseur est-il arrivé ?"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    home = fleet_archive(tmp_path_factory.mktemp("conversations"), models_dir)
    add_user(home, "lecteur", "analyst", Level.SECRET, (), "lecteur-password")
    add_user(home, "collegue", "analyst", Level.SECRET, (), "collegue-password")
    return home


def ask(home: Path, models_dir: Path, *args: str, **env: str) -> dict:
    asked = run_vigie(["ask", *args, "--json"], home, models_dir, **(env or ANALYST))
    assert asked.returncode == 0, asked.stderr
    return json.loads(asked.stdout)


def test_a_follow_up_is_asked_as_a_standalone_question_and_answered_from_the_right_page(
    archive: Path, models_dir: Path
) -> None:
    first = ask(archive, models_dir, FIRST)
    follow = ask(archive, models_dir, FOLLOW_UP, "--continue")
    assert follow["conversation"] == first["conversation"]
    assert follow["question"] != FOLLOW_UP and "Gloire" in follow["question"] + first["answer"]
    cited = [c for c in follow["citations"] if c["document"] == "mouvements.pdf"]
    assert cited and cited[0]["page"] == 3, follow["citations"]
    alone = ask(archive, models_dir, FOLLOW_UP)  # a new conversation: no context
    assert alone["conversation"] != first["conversation"] and alone["question"] == FOLLOW_UP
    assert network_attempts(archive) == []


def test_a_conversation_read_again_withholds_what_the_reader_may_no_longer_see(
    archive: Path, models_dir: Path
) -> None:
    asked = ask(archive, models_dir, "Où le croiseur Gloire a-t-il fait escale ?")
    assert any(c["document"] == "escale.pdf" for c in asked["citations"]), asked["citations"]
    conversation = asked["conversation"]
    shown = run_vigie(["conversations", "show", conversation, "--json"], archive, models_dir,
                      **ANALYST)  # fmt: skip
    assert json.loads(shown.stdout)["withdrawn"] is False
    lowered = run_vigie(["users", "set", "lecteur", "--clearance", "NON PROTÉGÉ"], archive,
                        models_dir)  # fmt: skip
    assert lowered.returncode == 0, lowered.stderr
    again = run_vigie(["conversations", "show", conversation, "--json"], archive, models_dir,
                      **ANALYST)  # fmt: skip
    stored = json.loads(again.stdout)
    assert stored["withdrawn"] is True and stored["turns"][0]["answer"] == ""
    assert "escale.pdf" not in again.stdout and "Mers" not in again.stdout
    text = run_vigie(["conversations", "show", conversation], archive, models_dir, **ANALYST)
    assert "(answer withdrawn: sources withdrawn since)" in text.stdout
    run_vigie(["users", "set", "lecteur", "--clearance", "SECRET"], archive, models_dir)


def test_no_one_reads_another_users_conversations_and_deletion_is_real(
    archive: Path, models_dir: Path
) -> None:
    mine = ask(archive, models_dir, "Quand le pétrolier Var est-il arrivé à Toulon ?")
    conversation = mine["conversation"]
    for who in ({}, OTHER):  # the admin, a colleague
        refused = run_vigie(["conversations", "show", conversation], archive, models_dir, **who)
        assert "no conversation of yours has the id" in one_line_error(refused)
    listed = run_vigie(["conversations", "list", "--json"], archive, models_dir, **OTHER)
    assert conversation not in listed.stdout
    deleted = run_vigie(["conversations", "delete", conversation], archive, models_dir, **ANALYST)
    assert deleted.returncode == 0, deleted.stderr
    gone = run_vigie(["conversations", "show", conversation], archive, models_dir, **ANALYST)
    assert "no conversation of yours" in one_line_error(gone)
    stored = (archive / "conversations.sqlite3").read_bytes()
    assert "pétrolier Var est-il arrivé".encode() not in stored  # compacted, not marked
    assert (archive / "conversations.sqlite3").stat().st_mode & 0o077 == 0
    expired = run_vigie(["conversations", "list", "--json"], archive, models_dir,
                        VIGIE_CONVERSATION_RETENTION_DAYS="0", **ANALYST)  # fmt: skip
    assert json.loads(expired.stdout) == []
