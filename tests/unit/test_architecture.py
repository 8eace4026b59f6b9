"""Imports flow one way: faces (ui) -> app -> ingest -> retrieval -> core (vigie);
offline_bundle -> vigie (and the `vigie bundle` commands, in ui, call offline_bundle).

Three rules, each able to fail: a room imports only the rooms below it; a face
never reaches into the parts the application room holds (`services.store`,
`session.services`...); and no two modules import each other, directly or round
a longer circle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    "vigie": {"vigie"},
    "retrieval": {"vigie", "retrieval"},
    "ingest": {"vigie", "retrieval", "ingest"},
    "app": {"vigie", "retrieval", "ingest", "app"},
    "ui": {"vigie", "app", "ui", "offline_bundle"},
    "offline_bundle": {"vigie", "offline_bundle"},
}
# What a face may use of `Services` (build it, warm it, close it, read its settings);
# everything else goes through the signed-in `Session`.
FACE_MAY_USE = {"settings", "warm_up", "close"}


def imports_of(path: Path) -> list[str]:
    """Every absolute module name `path` imports, at any depth (functions included)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def room_files(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_the_rooms_below_it(room: str) -> None:
    files = room_files(room)
    assert files
    for path in files:
        rooms = {name.split(".")[0] for name in imports_of(path)} & set(ALLOWED)
        extra = rooms - ALLOWED[room]
        assert not extra, f"{path.relative_to(ROOT)} imports {sorted(extra)}"


def test_faces_go_through_the_session_only() -> None:
    reach = re.compile(r"\b(?:services|Services\(\S*\))\.(\w+)")
    for path in room_files("ui"):
        text = path.read_text()
        assert "session.services" not in text, f"{path.relative_to(ROOT)} uses session.services"
        used = set(reach.findall(text)) - FACE_MAY_USE
        assert not used, f"{path.relative_to(ROOT)} reaches into services: {sorted(used)}"


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for room in ALLOWED for p in room_files(room)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {n for n in imports_of(path) if n in modules and n != name}
        # `from a.b import c` names a.b.c when c is a module, else a.b: keep the deepest.
        graph[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_round_a_circle() -> None:
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
