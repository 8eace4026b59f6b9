"""The one error ingestion raises for a file it cannot read: the reason is shown to operators."""

from __future__ import annotations

from vigie.errors import CorruptFile


class UnreadableFile(CorruptFile):
    """A file that cannot be ingested; `reason` is one line an operator can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
