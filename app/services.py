"""Vigie's parts built from the settings, once per process, for the sessions to use.

Parts are created, and their modules imported, on first use: `vigie status` loads
no model, `vigie search` never loads the LLM, and the UI process shares one model
between all its sessions. Faces build a `Services`, then sign in (`app.session`)
and use the session only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ingest.ledger import Ledger
from vigie.audit import AuditTrail
from vigie.config import Settings
from vigie.tokens import TokenStore
from vigie.users import UserStore

if TYPE_CHECKING:
    from app.page_image import PageRenderer
    from ingest.pipeline import IngestPipeline
    from retrieval.answer import Answerer
    from retrieval.embedder import Embedder
    from retrieval.llm import LocalLLM
    from retrieval.search import Searcher
    from retrieval.store import VectorStore

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One ingestion batch at a time in this process (the UI serves many browsers).
        self.ingest_lock = threading.Lock()

    @functools.cached_property
    def embedder(self) -> Embedder:
        from retrieval.embedder import Embedder

        return Embedder.from_settings(self.settings)

    @functools.cached_property
    def store(self) -> VectorStore:
        from retrieval.open_store import open_store

        self.settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return open_store(self.settings)

    @functools.cached_property
    def users(self) -> UserStore:
        return UserStore(
            self.settings.users_path,
            max_failures=self.settings.login_max_failures,
            lockout_seconds=self.settings.login_lockout_minutes * 60,
        )

    @functools.cached_property
    def tokens(self) -> TokenStore:
        return TokenStore(self.settings.tokens_path)

    @functools.cached_property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.settings.audit_path)

    @contextlib.contextmanager
    def read_ledger(self) -> Iterator[Ledger | None]:
        """The ledger opened read-only for one use case; None before the first batch."""
        if not self.settings.ledger_path.exists():
            yield None
            return
        ledger = Ledger(self.settings.ledger_path, read_only=True)
        try:
            yield ledger
        finally:
            ledger.close()

    @functools.cached_property
    def pages(self) -> PageRenderer:
        """Renders source pages for the UI, with the files' hashes checked (app.page_image)."""
        from app.page_image import PageRenderer

        return PageRenderer()

    @functools.cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.settings.ledger_path)

    @functools.cached_property
    def llm(self) -> LocalLLM:
        from retrieval.llm import LocalLLM

        return LocalLLM.from_settings(self.settings)

    @functools.cached_property
    def searcher(self) -> Searcher:
        from retrieval.search import Searcher

        return Searcher.from_settings(self.settings, self.embedder, self.store)

    @functools.cached_property
    def answerer(self) -> Answerer:
        from retrieval.answer import Answerer

        return Answerer(
            self.searcher,
            self.llm,
            top_k=self.settings.top_k,
            max_tokens=self.settings.max_answer_tokens,
            temperature=self.settings.temperature,
            time_limit=self.settings.answer_time_limit,
            refusal_threshold=self.settings.refusal_thresholds(),
            withdraw_unsupported=self.settings.withdraw_unsupported,
        )

    @functools.cached_property
    def pipeline(self) -> IngestPipeline:
        from ingest.pipeline import IngestPipeline

        ledger = self.ledger  # first: a home that cannot be written fails before models load
        return IngestPipeline(self.settings, self.embedder, self.store, ledger)

    def warm_up(self) -> None:
        """Load the models and evaluate the answer prompt's fixed prefix, so that the
        first question does not wait for them (the UI calls this when it starts)."""
        try:
            self.answerer.warm_up()
            self.embedder.embed_query("?")
        except Exception:  # noqa: BLE001 - the first question will say what is wrong
            log.exception("warm-up failed; the first question loads the models")

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "ledger" in self.__dict__:
            self.ledger.close()
        if "users" in self.__dict__:
            self.users.close()
        if "tokens" in self.__dict__:
            self.tokens.close()
