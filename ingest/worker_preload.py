"""Imported once by the workers' fork server, so every worker starts warm.

Parsing workers are forked from a clean "fork server" process (see
`ingest.workers`). Importing unstructured and loading the spaCy model here,
once, means a new worker (one per core, and a fresh one after a parser was
killed) starts in milliseconds instead of spending seconds on imports.
Failures are left for the workers to report: the fork server must start.
"""

from __future__ import annotations

from vigie.offline import apply_offline_environment

apply_offline_environment()

try:
    import unstructured.partition.pdf  # noqa: F401
    import unstructured.partition.text  # noqa: F401

    from ingest.parse import _use_installed_spacy_model

    _use_installed_spacy_model()
except Exception:  # noqa: BLE001 - reported by the first task instead
    pass
