"""Zip batches, expanded safely into Vigie's home before their members are read.

An archive is checked from its central directory before anything is written: an
encrypted archive, a broken Office document (DOCX, XLSX, ODT... are zips too; whole
ones are read as documents, ingest/office.py), more members
than `max_zip_members`, more than `max_zip_mb` once expanded, or a member expanding
more than `max_zip_ratio` times its compressed size (a zip bomb) is refused whole.
Members are then written one by one under `into`, counting the bytes actually
written (a lying header cannot go past the limits): a member whose path would leave
that folder (absolute, "..", a drive letter), a symbolic link or a corrupt member is
refused on its own, with its reason, and the others go in. A member is written under
a temporary name and renamed, so a killed run never leaves half a file for the next.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ingest.errors import UnreadableFile

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a member first, or an empty archive
_DRIVE = re.compile(r"^[A-Za-z]:")
_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    members: int
    total_bytes: int
    ratio: float


@dataclass
class Unpacked:
    """What an archive gave: members written (their paths on disk, with their name in
    the archive), and those refused with their reason."""

    members: list[tuple[Path, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) in ZIP_SIGNATURES
    except OSError:
        return False


def _escapes(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or bool(_DRIVE.match(name)) or ".." in parts


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check(archive: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The archive's file members, once the whole archive is within the limits."""
    infos = archive.infolist()
    names = {info.filename for info in infos}
    if "[Content_Types].xml" in names or "mimetype" in names:
        raise UnreadableFile(
            "an Office document (DOCX, XLSX, PPTX, ODT...) without its main part: corrupt"
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise UnreadableFile("encrypted zip archive (password-protected): cannot be read")
    files = [info for info in infos if not info.is_dir()]
    if len(files) > limits.members:
        raise UnreadableFile(
            f"zip archive of {len(files)} members, over the {limits.members} limit "
            "(max_zip_members)"
        )
    total = sum(info.file_size for info in files)
    if total > limits.total_bytes:
        raise UnreadableFile(
            f"zip archive expands to {total / 1024 / 1024:.0f} MB, over the "
            f"{limits.total_bytes / 1024 / 1024:.0f} MB limit (max_zip_mb)"
        )
    for info in files:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _BLOCK and ratio > limits.ratio:
            raise UnreadableFile(
                f"zip bomb: {info.filename!r} expands {ratio:.0f} times its size, "
                f"over {limits.ratio:.0f} (max_zip_ratio)"
            )
    return files


def _write(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Copy one member to `target`; return the bytes written, never more than `budget`
    nor than the member's declared size."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_name(target.name + ".part")
    written = 0
    try:
        with archive.open(info) as source, partial.open("wb") as out:
            os.chmod(partial, 0o600)
            while block := source.read(_BLOCK):
                written += len(block)
                if written > min(budget, info.file_size):
                    raise UnreadableFile(
                        "zip bomb: a member expands past what the archive declares"
                    )
                out.write(block)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return written


def unpack_zip(path: Path, into: Path, limits: ZipLimits) -> Unpacked:
    """Expand the archive at `path` under the folder `into` (emptied first); raise
    `UnreadableFile` for an archive refused whole."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"corrupt zip archive: {exc}") from exc
    unpacked = Unpacked()
    with archive:
        files = _check(archive, limits)
        shutil.rmtree(into, ignore_errors=True)
        into.mkdir(parents=True, mode=0o700)
        budget = limits.total_bytes
        for info in files:
            name = info.filename
            if _escapes(name):
                unpacked.refused.append((name, "path escapes the archive's folder: not written"))
                continue
            if _is_link(info):
                unpacked.refused.append((name, "a symbolic link: not followed, not written"))
                continue
            target = into / PurePosixPath(name.replace("\\", "/"))
            try:
                budget -= _write(archive, info, target, budget)
            except UnreadableFile:
                shutil.rmtree(into, ignore_errors=True)
                raise
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                unpacked.refused.append((name, f"corrupt member: {str(exc)[:120]}"))
                continue
            unpacked.members.append((target, name))
    return unpacked
