"""A recording's file, read for the UI's player: checked against its ingested hash.

As for a page view (`app.page_image`), the path a chunk names may now hold another
file, perhaps one the reader is not cleared for: the bytes are read once, hashed, and
refused if they are not the file that was ingested.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from vigie.errors import Unavailable

# Larger files are not sent to a browser (the transcript is shown all the same).
MAX_PLAYED_MB = 512

# The browser's name for each container (the file was recognised by content at ingestion).
_MIME_BY_SUFFIX = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
}


class RecordingUnavailable(Unavailable):
    """The recording cannot be played; the message says why, in plain words."""


@dataclass(frozen=True)
class Recording:
    data: bytes
    mime: str  # "audio/wav", "video/mp4"...
    file_name: str

    @property
    def is_video(self) -> bool:
        return self.mime.startswith("video/")


def load_recording(path: str, sha256: str, file_name: str) -> Recording:
    source = Path(path)
    try:
        if source.stat().st_size > MAX_PLAYED_MB * 1024 * 1024:
            raise RecordingUnavailable(f"{file_name} is over {MAX_PLAYED_MB} MB: not played here")
        data = source.read_bytes()
    except FileNotFoundError:
        raise RecordingUnavailable(f"{file_name} is no longer at {path}") from None
    except OSError as exc:
        raise RecordingUnavailable(f"{file_name} cannot be read: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RecordingUnavailable(f"{file_name} has changed since it was ingested: not played")
    mime = _MIME_BY_SUFFIX.get(source.suffix.lower(), "audio/wav")
    return Recording(data, mime, file_name)
