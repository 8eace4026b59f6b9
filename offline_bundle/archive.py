"""The bundle's tar archive: written reproducibly, read and extracted without trusting it.

Two builds from the same inputs must give the same bytes, so the signature and the
published SHA-256 of the archive can be checked by anyone who rebuilds it. Everything a
filesystem varies on (order of directory entries, mtimes, owners, umask, atime/ctime) is
fixed here. On the reading side the archive came across the air gap and is untrusted
until its signature is checked, so nothing here follows links or writes outside the
destination.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from vigie.errors import CorruptFile

__all__ = [
    "ArchiveError",
    "members",
    "read_member",
    "safe_extract",
    "top_folder",
    "tree",
    "write_archive",
]

# The largest mtime a ustar header holds; beyond it tarfile would add a pax "mtime" record.
_MAX_MTIME = 8**11 - 1


class ArchiveError(CorruptFile, ValueError):
    """The folder cannot be archived reproducibly, or the archive is not a safe bundle."""


def _posix_key(relpath: str) -> bytes:
    """Sort key: bytewise on the UTF-8 POSIX path, so order never depends on locale."""
    return relpath.encode("utf-8")


def tree(folder: Path) -> list[tuple[str, Path, os.stat_result]]:
    """Every directory and regular file under `folder`, as (relative POSIX path, path, lstat).

    Sorted bytewise by relative path (a directory sorts before its contents, since its
    path is a prefix of theirs). Symlinks, hard-linked files and special files are refused:
    a link would make the archive depend on what lies outside the folder, and a hard link
    would be stored as a link member that the extraction side refuses anyway.
    """
    folder = Path(folder)
    top = os.lstat(folder)
    if not stat.S_ISDIR(top.st_mode):
        raise ArchiveError(f"{folder} is not a directory (or is a symlink)")
    found: list[tuple[str, Path, os.stat_result]] = []

    def walk(directory: Path, prefix: str) -> None:
        with os.scandir(directory) as scan:
            names = sorted((entry.name for entry in scan), key=os.fsencode)
        for name in names:
            path = directory / name
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                raise ArchiveError(f"{path}: file name is not valid UTF-8") from None
            relpath = f"{prefix}{name}"
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                raise ArchiveError(f"{path}: symbolic links are not allowed in a bundle")
            if stat.S_ISDIR(st.st_mode):
                found.append((relpath, path, st))
                walk(path, relpath + "/")
            elif stat.S_ISREG(st.st_mode):
                if st.st_nlink > 1:
                    raise ArchiveError(f"{path}: hard-linked files are not allowed in a bundle")
                found.append((relpath, path, st))
            else:
                raise ArchiveError(f"{path}: special files are not allowed in a bundle")

    walk(folder, "")
    found.sort(key=lambda item: _posix_key(item[0]))
    return found


def _tarinfo(name: str, st: os.stat_result, mtime: int) -> tarfile.TarInfo:
    """A header that carries nothing from the build machine but the name, kind, size, x bit."""
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.pax_headers = {}
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.size = 0
    else:
        info.type = tarfile.REGTYPE
        info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
        info.size = st.st_size
    return info


def write_archive(folder: Path, out: Path, mtime: int) -> Path:
    """Write `folder` as a reproducible plain tar at `out`, with `folder.name` as its one top.

    The archive is written to a temporary file beside `out` and renamed over it at the end,
    so a crash never leaves a truncated archive under the final name.
    """
    folder = Path(folder)
    out = Path(out)
    if isinstance(mtime, bool) or not isinstance(mtime, int) or not 0 <= mtime <= _MAX_MTIME:
        raise ArchiveError(f"mtime must be an integer in [0, {_MAX_MTIME}], got {mtime!r}")
    top = folder.name
    if top in ("", ".", ".."):
        raise ArchiveError(f"{folder}: cannot name the archive's top folder after it")
    out_dir = out.parent.resolve()
    if out_dir == folder.resolve() or folder.resolve() in out_dir.parents:
        raise ArchiveError(f"{out} lies inside {folder}: the archive would contain itself")
    entries = tree(folder)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_tarinfo(top, os.lstat(folder), mtime))
                for relpath, path, st in entries:
                    info = _tarinfo(f"{top}/{relpath}", st, mtime)
                    if info.isdir():
                        tar.addfile(info)
                        continue
                    # O_NOFOLLOW: a file swapped for a link since the walk is not followed.
                    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                    with os.fdopen(handle, "rb") as data:
                        now = os.fstat(data.fileno())
                        if not stat.S_ISREG(now.st_mode) or now.st_size != info.size:
                            raise ArchiveError(f"{path} changed while the archive was written")
                        tar.addfile(info, data)
            raw.flush()
            os.fsync(raw.fileno())
        # mkstemp creates 0o600; the archive is not secret and is read by other accounts.
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _check_name(name: str) -> PurePosixPath:
    """A member name as a plain relative path (no `/` at the start, no `.`, `..` or `//`).

    Anything that is not already in that normal form is refused rather than normalised:
    the bundle writer never produces it, so it can only come from a crafted archive.
    """
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or (len(name) > 1 and name[1] == ":")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ArchiveError(f"unsafe member name {name!r} (absolute, '..', '.', or odd characters)")
    return PurePosixPath(name)


def _checked_members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, PurePosixPath]]:
    """Each member with its checked path; refuses links, devices, a second top folder, and
    a name seen twice (reading would see the first copy, extracting would keep the last)."""
    top: str | None = None
    seen: set[str] = set()
    for member in tar:
        path = _check_name(member.name)
        if member.name in seen:
            raise ArchiveError(f"member {member.name!r} appears twice")
        seen.add(member.name)
        if not (member.isreg() or member.isdir()):
            kind = "link" if member.issym() or member.islnk() else "special file"
            raise ArchiveError(f"member {member.name!r} is a {kind}; a bundle holds none")
        if top is None:
            top = path.parts[0]
        elif path.parts[0] != top:
            raise ArchiveError(f"more than one top folder: {top!r} and {path.parts[0]!r}")
        if len(path.parts) == 1 and not member.isdir():
            raise ArchiveError(f"top-level member {member.name!r} is not a folder")
        yield member, path


def _open(archive: Path) -> tarfile.TarFile:
    """Open as a plain tar only: the bundle is never compressed, anything else is wrong."""
    try:
        return tarfile.open(archive, mode="r:")
    except tarfile.TarError as exc:
        raise ArchiveError(f"{archive}: not a readable tar archive ({exc})") from exc


def top_folder(archive: Path) -> str:
    """The name of the archive's single top folder (every member is checked)."""
    top: str | None = None
    with _open(archive) as tar:
        for _member, path in _checked_members(tar):
            top = path.parts[0]
    if top is None:
        raise ArchiveError(f"{archive} is empty")
    return top


def members(archive: Path) -> list[tuple[str, int]]:
    """(path relative to the top folder, size) for every regular file, in archive order."""
    found: list[tuple[str, int]] = []
    with _open(archive) as tar:
        for member, path in _checked_members(tar):
            if member.isreg():
                found.append((PurePosixPath(*path.parts[1:]).as_posix(), member.size))
    return found


def read_member(archive: Path, name: str) -> bytes:
    """The bytes of one regular file, named relative to the top folder (e.g. "MANIFEST.json").

    Read straight from the archive: nothing is written to disk.
    """
    wanted = _check_name(name)
    with _open(archive) as tar:
        for member, path in _checked_members(tar):
            if member.isreg() and path.parts[1:] == wanted.parts:
                data = tar.extractfile(member)
                if data is None:  # pragma: no cover - isreg() members always have data
                    break
                return data.read()
    raise ArchiveError(f"{archive}: no file {name!r} in the bundle")


def safe_extract(archive: Path, destination: Path) -> Path:
    """Extract into `destination` and return the top folder's path.

    Every member is checked before anything is written (plain relative names, regular
    files and folders only, one top folder, no duplicates), then tarfile's "data"
    filter applies its own checks. Extraction goes into a temporary folder inside
    `destination` and is renamed into place, so a refused or failed archive leaves nothing
    half-extracted; an existing folder of the same name is never merged into.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    with _open(archive) as tar:
        checked = [member for member, _path in _checked_members(tar)]
        if not checked:
            raise ArchiveError(f"{archive} is empty")
        top = PurePosixPath(checked[0].name).parts[0]
        final = destination / top
        if final.exists() or final.is_symlink():
            raise ArchiveError(f"{final} already exists; refusing to extract over it")
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=destination))
        try:
            try:
                tar.extractall(staging, members=checked, filter="data")
            except tarfile.FilterError as exc:
                raise ArchiveError(f"{archive}: {exc}") from exc
            os.rename(staging / top, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final
