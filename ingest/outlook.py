"""Outlook messages (`.msg`) read as e-mails, and the one door to any message's contents.

An Outlook message is a compound (OLE2) file ([MS-OXMSG]): each property of the message
is a stream named by its id and type (`__substg1.0_0037001F`: the subject, in UTF-16),
fixed-size ones (the dates) sit in the `__properties_version1.0` stream, and each
attachment is a storage of its own (`__attach_version1.0_#00000000`) holding its file
name and data. It becomes the same `Message` as an `.eml` (ingest/textfiles.py): its
subject, sender, recipients and date, its body (the plain text, else the HTML), its
attachments (ingested as documents of their own). An attached message (an Outlook item
inside another) is left out, said so in the body. Read with olefile: nothing is run.
"""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

from ingest.errors import UnreadableFile
from ingest.textfiles import Message, Piece, attachment_name, read_message, with_pieces

MSG = "msg"
MSG_SUFFIXES = frozenset({".msg"})
MAIL_SUFFIXES = frozenset({".eml", ".msg"})
_STRING, _STRING8, _BINARY, _SYSTIME = 0x001F, 0x001E, 0x0102, 0x0040
_SUBJECT, _SENDER_NAME, _SENDER_EMAIL, _SENDER_SMTP = 0x0037, 0x0C1A, 0x0C1F, 0x5D01
_DISPLAY_TO, _DISPLAY_CC, _BODY, _BODY_HTML = 0x0E04, 0x0E03, 0x1000, 0x1013
_SUBMITTED, _DELIVERED = 0x0039, 0x0E06
_ATTACH_LONG_NAME, _ATTACH_NAME, _ATTACH_DATA = 0x3707, 0x3704, 0x3701
_ATTACHMENT = "__attach_version1.0_#"
_MAX_ATTACHMENT = 512 * 1024 * 1024  # bytes: a bigger stream is refused, not read
_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)


def read_mail(path: Path, body_pieces: bool = True) -> Message:
    """Any message's headers, body and attachments: an Outlook `.msg` by its compound
    file, anything else as RFC 5322 (`.eml`)."""
    with path.open("rb") as handle:
        compound = handle.read(8) == bytes.fromhex("d0cf11e0a1b11ae1")
    if compound:
        return read_outlook(path, body_pieces)
    return read_message(path.read_bytes(), body_pieces)


def read_outlook(path: Path, body_pieces: bool = True) -> Message:
    """An Outlook message as a `Message`; `UnreadableFile` when it is not one. Without
    `body_pieces`, its pieces are not made (see `textfiles.read_message`)."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            return _message(ole, body_pieces)
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 - olefile raises anything on a damaged file
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise UnreadableFile(f"corrupt Outlook message (MSG): {detail}") from exc


def _message(ole, body_pieces: bool) -> Message:  # noqa: ANN001 - an olefile.OleFileIO
    subject = _text(ole, "", _SUBJECT)
    sender_name = _text(ole, "", _SENDER_NAME)
    address = _text(ole, "", _SENDER_SMTP) or _text(ole, "", _SENDER_EMAIL)
    if not (subject or sender_name or address):
        raise UnreadableFile("not an e-mail message: no subject and no sender")
    sender = f"{sender_name} <{address}>" if sender_name and "@" in address else sender_name
    recipients = ", ".join(
        r for r in (_text(ole, "", _DISPLAY_TO), _text(ole, "", _DISPLAY_CC)) if r
    )
    when = _time(ole, "", _SUBMITTED) or _time(ole, "", _DELIVERED)
    message = Message(
        subject=subject,
        sender=sender or address,
        recipients=recipients,
        date=when.date().isoformat() if when else None,
    )
    body, is_html = _text(ole, "", _BODY), False
    if not body.strip():
        body = _text(ole, "", _BODY_HTML)  # an HTML body stored as a string
        if not body:
            html = _raw(ole, "", _BODY_HTML, _BINARY) or b""
            body = _decoded(html)
        is_html = bool(body.strip())
    left_out = []
    for storage in sorted({entry[0] for entry in ole.listdir(streams=False, storages=True)
                           if entry[0].startswith(_ATTACHMENT)}):  # fmt: skip
        name = _text(ole, storage, _ATTACH_LONG_NAME) or _text(ole, storage, _ATTACH_NAME)
        data = _raw(ole, storage, _ATTACH_DATA, _BINARY)
        if data is None:
            left_out.append(name or storage)  # an attached Outlook item, a link
            continue
        number = len(message.attachments) + 1
        message.attachments.append((attachment_name(name, number), data))
    date_said = when.strftime("%d/%m/%Y %H:%M UTC") if when else ""
    if body_pieces:
        with_pieces(message, date_said, body, is_html)
    if left_out and body_pieces:
        said = "Pièces jointes non lues : " + ", ".join(left_out)
        message.pieces.append(Piece(1, "UncategorizedText", said))
    return message


def _decoded(html: bytes) -> str:
    """An HTML body's bytes as text: UTF-8 when they are, else the Windows code page
    Outlook wrote them in (Western European in these archives)."""
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        return html.decode("cp1252", errors="replace")


def _stream(storage: str, prop: int, kind: int) -> str:
    name = f"__substg1.0_{prop:04X}{kind:04X}"
    return f"{storage}/{name}" if storage else name


def _raw(ole, storage: str, prop: int, kind: int) -> bytes | None:  # noqa: ANN001
    name = _stream(storage, prop, kind)
    if not ole.exists(name):
        return None
    if ole.get_size(name) > _MAX_ATTACHMENT:
        raise UnreadableFile(f"Outlook message part over {_MAX_ATTACHMENT >> 20} MB")
    return ole.openstream(name).read()


def _text(ole, storage: str, prop: int) -> str:  # noqa: ANN001
    """A string property: Unicode (UTF-16) or 8-bit (the machine's code page, Western
    European in these archives)."""
    unicode = _raw(ole, storage, prop, _STRING)
    if unicode is not None:
        return unicode.decode("utf-16-le", errors="replace").rstrip("\0").strip()
    legacy = _raw(ole, storage, prop, _STRING8)
    return legacy.decode("cp1252", errors="replace").rstrip("\0").strip() if legacy else ""


def _time(ole, storage: str, prop: int) -> dt.datetime | None:  # noqa: ANN001
    """A time property from the fixed-size properties stream (a FILETIME), or None."""
    name = f"{storage}/__properties_version1.0" if storage else "__properties_version1.0"
    if not ole.exists(name):
        return None
    data = ole.openstream(name).read()
    header = 32 if not storage else 8  # the message's own header is longer
    for offset in range(header, len(data) - 15, 16):
        kind, pid = struct.unpack_from("<HH", data, offset)
        if pid == prop and kind == _SYSTIME:
            (ticks,) = struct.unpack_from("<Q", data, offset + 8)
            if ticks == 0:
                return None
            try:
                return _FILETIME_EPOCH + dt.timedelta(microseconds=ticks // 10)
            except OverflowError:
                return None
    return None
