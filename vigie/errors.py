"""The errors Vigie expects, and the one base every face catches.

A `VigieError` is an expected failure: a user's mistake, a missing model, a
locked store, a file that cannot be read. Its message is one line the user can
act on, shown as is (`vigie: error: ...`, exit 2 in the CLI; a red box in the
UI). Anything else that escapes is a bug: the CLI prints its traceback and asks
for a report (exit 1).

Each room's own errors subclass one of these, so a face needs to know only the
base; the subclasses say what kind of failure it is.
"""

from __future__ import annotations


class VigieError(Exception):
    """An expected failure; `str(error)` is its one-line message for the user."""

    def one_line(self) -> str:
        text = str(self).strip()
        return text.splitlines()[0] if text else type(self).__name__


class InputError(VigieError, ValueError):
    """A value the user typed or configured is wrong (an option, a question, a key)."""


class PermissionDenied(VigieError):
    """The sign-in failed, or the user's role does not allow the action."""


class NotFound(VigieError):
    """Nothing the user may see answers to what was named (a document, a page, a user)."""


class Conflict(VigieError):
    """The action clashes with what exists (a name taken, a store held by another process)."""


class CorruptFile(VigieError):
    """A file cannot be read as what it should be (a document, the audit trail, a bundle)."""


class Unavailable(VigieError):
    """A part Vigie needs cannot run here: a model, the store, the ledger, a writable home."""
