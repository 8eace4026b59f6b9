"""Outlook messages (`.msg`) for the tests, written here: no Python package writes them.

`make_msg` lays out the properties an Outlook message holds ([MS-OXMSG]: a stream per
string or binary property, a fixed-size properties stream for the dates, a storage per
attachment and per recipient) and `compound_file` writes them as a compound (OLE2) file
([MS-CFB], version 3: 512-byte sectors, streams under 4096 bytes in the mini stream)."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_SECTOR, _MINI, _CUTOFF = 512, 64, 4096


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\0\0"


def _filetime(when: dt.datetime) -> int:
    return int((when - dt.datetime(1601, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10_000_000)


def make_msg(
    path: Path,
    subject: str,
    sender: tuple[str, str],
    to: str,
    sent: dt.datetime,
    body: str,
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> Path:
    """An Outlook message: subject, sender (name, address), To, the time it was sent,
    a plain-text body, attachments (file name, data)."""
    props = struct.pack("<8sIIII8s", b"", 1, len(attachments), 1, len(attachments), b"")
    ticks = _filetime(sent)
    props += struct.pack("<HHIQ", 0x0040, 0x0039, 6, ticks)  # client submit time
    props += struct.pack("<HHIQ", 0x0040, 0x0E06, 6, ticks)  # delivery time
    streams: dict[str, bytes] = {
        "__properties_version1.0": props,
        "__nameid_version1.0/__substg1.0_00020102": b"",
        "__substg1.0_001A001F": _utf16("IPM.Note"),
        "__substg1.0_0037001F": _utf16(subject),
        "__substg1.0_0C1A001F": _utf16(sender[0]),
        "__substg1.0_0C1F001F": _utf16(sender[1]),
        "__substg1.0_0E04001F": _utf16(to),
        "__substg1.0_1000001F": _utf16(body),
        "__recip_version1.0_#00000000/__substg1.0_3001001F": _utf16(to),
        "__recip_version1.0_#00000000/__properties_version1.0": b"\0" * 8,
    }
    for number, (name, data) in enumerate(attachments):
        storage = f"__attach_version1.0_#{number:08X}"
        streams[f"{storage}/__substg1.0_3707001F"] = _utf16(name)
        streams[f"{storage}/__substg1.0_37010102"] = data
        streams[f"{storage}/__properties_version1.0"] = b"\0" * 8
    path.write_bytes(compound_file(streams))
    return path


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding `streams` ("storage/stream" paths: storages are made)."""
    # Directory entries: the root, then every storage and stream, children by parent.
    names: list[tuple[str, ...]] = [()]
    for path in streams:
        parts = tuple(path.split("/"))
        for depth in range(1, len(parts) + 1):
            if parts[:depth] not in names:
                names.append(parts[:depth])
    index = {name: n for n, name in enumerate(names)}
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for name in names[1:]:
        children.setdefault(name[:-1], []).append(name)

    mini = bytearray()
    mini_fat: list[int] = []
    big: list[tuple[str, bytes]] = []
    start: dict[str, int] = {}
    for path, data in streams.items():
        if len(data) >= _CUTOFF:
            big.append((path, data))
            continue
        sectors = -(-len(data) // _MINI)
        start[path] = len(mini_fat) if sectors else _END
        links = [len(mini_fat) + k + 1 for k in range(sectors - 1)]
        mini_fat += links + ([_END] if sectors else [])
        mini += data.ljust(sectors * _MINI, b"\0")

    def count(size: int) -> int:
        return -(-size // _SECTOR)

    dir_sectors = count(len(names) * 128)
    mini_fat_sectors = count(len(mini_fat) * 4)
    mini_sectors = count(len(mini))
    big_sectors = sum(count(len(data)) for _, data in big)
    body = dir_sectors + mini_fat_sectors + mini_sectors + big_sectors
    fat_sectors = 1
    while fat_sectors * (_SECTOR // 4) < body + fat_sectors:
        fat_sectors += 1
    assert fat_sectors <= 109, "too big for a header-only DIFAT"

    fat: list[int] = [_FAT] * fat_sectors
    cursor = fat_sectors

    def chain(sectors: int) -> int:
        nonlocal cursor
        if sectors == 0:
            return _END
        first = cursor
        fat.extend([cursor + k + 1 for k in range(sectors - 1)] + [_END])
        cursor += sectors
        return first

    dir_start = chain(dir_sectors)
    mini_fat_start = chain(mini_fat_sectors)
    mini_start = chain(mini_sectors)
    for path, data in big:
        start[path] = chain(count(len(data)))
    fat += [_FREE] * (fat_sectors * (_SECTOR // 4) - len(fat))

    def entry(name: tuple[str, ...]) -> bytes:
        kind = 5 if name == () else (2 if "/".join(name) in streams else 1)
        label = "Root Entry" if name == () else name[-1]
        siblings = children.get(name[:-1], []) if name else []
        position = siblings.index(name) if name else 0
        right = index[siblings[position + 1]] if name and position + 1 < len(siblings) else _FREE
        kids = children.get(name, [])
        child = index[kids[0]] if kids and kind != 2 else _FREE
        if kind == 5:
            first, size = (mini_start if mini else _END), len(mini)
        elif kind == 2:
            data = streams["/".join(name)]
            first, size = start["/".join(name)], len(data)
        else:
            first, size = 0, 0
        encoded = _utf16(label)
        return struct.pack(
            "<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, _FREE, right, child,
            b"", 0, 0, 0, first, size,
        )  # fmt: skip

    directory = b"".join(entry(name) for name in names).ljust(dir_sectors * _SECTOR, b"\0")
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("d0cf11e0a1b11ae1"), b"", 0x3E, 3, 0xFFFE, 9, 6, b"",
        0, fat_sectors, dir_start, 0, _CUTOFF,
        mini_fat_start if mini_fat else _END, mini_fat_sectors, _END, 0,
    )  # fmt: skip
    header += struct.pack("<109I", *(list(range(fat_sectors)) + [_FREE] * (109 - fat_sectors)))
    out = bytearray(header)
    out += struct.pack(f"<{len(fat)}I", *fat)
    out += directory
    out += struct.pack(f"<{len(mini_fat)}I", *mini_fat).ljust(mini_fat_sectors * _SECTOR, b"\xff")
    out += bytes(mini).ljust(mini_sectors * _SECTOR, b"\0")
    for _, data in big:
        out += data.ljust(count(len(data)) * _SECTOR, b"\0")
    return bytes(out)
