"""MANIFEST.json and SHA256SUMS: what the bundle holds, in two forms for two readers.

SHA256SUMS is for `sha256sum -c` on the receiving side, which needs nothing but coreutils.
MANIFEST.json is the signed document: it lists every file with its size and hash, and
carries the SHA-256 of SHA256SUMS on a line of its own, so a shell script that has checked
the signature can check SHA256SUMS against it with grep/sed and no JSON parser.
Both are written from one walk of the folder, so they cannot disagree.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from offline_bundle.archive import ArchiveError, tree
from vigie.errors import CorruptFile
from vigie.models import sha256_of

__all__ = [
    "SPECIAL",
    "ManifestError",
    "load_manifest",
    "sha256_file",
    "write_manifest",
    "write_sums",
]

# Written after the inventory is taken (or, for the signature, after the manifest), so
# they cannot list themselves.
SPECIAL = ("MANIFEST.json", "MANIFEST.json.sig", "SHA256SUMS")
FORMAT = 1
REQUIRED_KEYS = (
    "format",
    "name",
    "version",
    "platform",
    "built",
    "files",
    "parts",
    "models",
    "sha256sums",
)


class ManifestError(CorruptFile, ValueError):
    """The folder cannot be described, or a manifest is not one this code understands."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed (model files are several GB): the core's helper."""
    return sha256_of(Path(path))


def _check_sums_name(relpath: str) -> None:
    """Refuse names `sha256sum` would escape or split: it prefixes such lines with `\\`."""
    if "\\" in relpath or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in relpath):
        raise ManifestError(
            f"{relpath!r}: backslashes, newlines and control characters are not allowed "
            "in bundle file names (SHA256SUMS could not list them plainly)"
        )


def _inventory(folder: Path) -> list[tuple[str, int, str]]:
    """(relative POSIX path, size, sha256) of every regular file but SPECIAL, sorted bytewise."""
    files: list[tuple[str, int, str]] = []
    try:
        entries = tree(folder)
    except ArchiveError as exc:
        raise ManifestError(str(exc)) from exc
    for relpath, path, st in entries:
        if not stat.S_ISREG(st.st_mode) or relpath in SPECIAL:
            continue
        _check_sums_name(relpath)
        files.append((relpath, st.st_size, sha256_file(path)))
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so readers never see half a file."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _sums_text(files: list[tuple[str, int, str]]) -> bytes:
    return "".join(f"{sha}  {relpath}\n" for relpath, _size, sha in files).encode("utf-8")


def write_sums(folder: Path) -> Path:
    """Write `folder/SHA256SUMS` in `sha256sum` format and return its path."""
    folder = Path(folder)
    out = folder / "SHA256SUMS"
    _write_atomic(out, _sums_text(_inventory(folder)))
    return out


def _parts(files: list[tuple[str, int, str]]) -> dict[str, dict[str, int]]:
    """Files and bytes per first path component; top-level files count as "other"."""
    parts: dict[str, dict[str, int]] = {}
    for relpath, size, _sha in files:
        head, sep, _rest = relpath.partition("/")
        part = parts.setdefault(head if sep else "other", {"files": 0, "bytes": 0})
        part["files"] += 1
        part["bytes"] += size
    return parts


def write_manifest(
    folder: Path,
    *,
    version: str,
    platform: str,
    built: str,
    models: list[dict],
    extra: dict | None = None,
) -> Path:
    """Write SHA256SUMS, then `folder/MANIFEST.json`, from one hashing pass; return its path.

    `built` is the caller's timestamp (not "now"), so two builds can be byte-identical.
    `extra` keys are added at the top level but may not replace the keys defined here.
    A stale MANIFEST.json.sig is left alone: it no longer verifies, which is the point.
    """
    folder = Path(folder)
    try:
        datetime.fromisoformat(built)
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"built must be an ISO 8601 time, got {built!r}") from exc
    files = _inventory(folder)
    sums = folder / "SHA256SUMS"
    _write_atomic(sums, _sums_text(files))
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "name": "vigie",
        "version": version,
        "platform": platform,
        "built": built,
        "files": [{"path": p, "size": size, "sha256": sha} for p, size, sha in files],
        "parts": _parts(files),
        "models": models,
        "sha256sums": sha256_file(sums),
    }
    clash = sorted(set(extra or {}) & set(manifest))
    if clash:
        raise ManifestError(f"extra keys would replace the manifest's own: {clash}")
    manifest.update(extra or {})
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    out = folder / "MANIFEST.json"
    _write_atomic(out, text.encode("utf-8"))
    return out


def load_manifest(data: bytes) -> dict:
    """Parse MANIFEST.json bytes, checking the format and that the expected keys are there."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"MANIFEST.json is not UTF-8 JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ManifestError("MANIFEST.json is not a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise ManifestError(f"MANIFEST.json lacks keys: {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise ManifestError(
            f"MANIFEST.json format {manifest['format']!r} is not supported (expected {FORMAT})"
        )
    files = manifest["files"]
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and {"path", "size", "sha256"} <= f.keys() for f in files
    ):
        raise ManifestError("MANIFEST.json: 'files' must be a list of {path, size, sha256}")
    if not isinstance(manifest["parts"], dict) or not isinstance(manifest["models"], list):
        raise ManifestError("MANIFEST.json: 'parts' must be an object and 'models' a list")
    return manifest
