"""Imports flow one way: ui -> ingest -> retrieval -> vigie; offline_bundle -> vigie
(and the `vigie bundle` commands, in ui, call offline_bundle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "vigie": {"vigie"},
    "retrieval": {"vigie", "retrieval"},
    "ingest": {"vigie", "retrieval", "ingest"},
    "ui": {"vigie", "retrieval", "ingest", "ui", "offline_bundle"},
    "offline_bundle": {"vigie", "offline_bundle"},
}


def imported_rooms(path: Path) -> set[str]:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        rooms.update(n.split(".")[0] for n in names if n.split(".")[0] in ALLOWED)
    return rooms


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_the_rooms_below_it(room: str) -> None:
    files = sorted((ROOT / room).rglob("*.py"))
    assert files
    for path in files:
        extra = imported_rooms(path) - ALLOWED[room]
        assert not extra, f"{path.relative_to(ROOT)} imports {sorted(extra)}"
