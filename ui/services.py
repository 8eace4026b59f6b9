"""Build Vigie's parts from the settings, once, for the CLI and the Streamlit app.

Parts are created on first use: `vigie search` never loads the LLM, and the
UI process shares one model between all its sessions.
"""

from __future__ import annotations

import functools
import logging
import threading

from ingest.ledger import Ledger, LedgerEntry
from ingest.pipeline import IngestPipeline
from retrieval.answer import Answerer
from retrieval.embedder import Embedder
from retrieval.llm import LocalLLM
from retrieval.search import Searcher
from retrieval.store import VectorStore, open_store
from ui.session import Session
from vigie.audit import AuditTrail
from vigie.config import Settings
from vigie.users import AuthenticationError, UserStore

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One ingestion batch at a time in this process (the UI serves many browsers).
        self.ingest_lock = threading.Lock()

    @functools.cached_property
    def embedder(self) -> Embedder:
        return Embedder.from_settings(self.settings)

    @functools.cached_property
    def store(self) -> VectorStore:
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
    def audit(self) -> AuditTrail:
        return AuditTrail(self.settings.audit_path)

    def login(self, name: str, password: str, channel: str) -> Session:
        """A session for `name` when the password is right; every try is audited."""
        name = name.strip().lower()
        try:
            user = self.users.authenticate(name, password)
        except AuthenticationError as exc:
            self.audit.record(name[:64], "login_failed", channel=channel, reason=str(exc))
            raise
        self.audit.record(user.name, "login", channel=channel)
        return Session(self, user, channel)

    def trusted_session(self, name: str, channel: str = "proxy") -> Session:
        """A session for a name the site's reverse proxy vouches for (single sign-on):
        the account must exist here and be active; its clearance is Vigie's own."""
        user = self.users.get(name.strip().lower())
        if user is None or not user.active:
            self.audit.record(name[:64], "login_failed", channel=channel, reason="not a user")
            raise AuthenticationError(f"{name!r} is not an active Vigie user")
        self.audit.record(user.name, "login", channel=channel)
        return Session(self, user, channel)

    def ingested_entries(self) -> list[LedgerEntry]:
        """The ledger's ingested files (names, paths, ids, type, batch). What a reader
        may see of them is the store's to decide, under the reader's clearance."""
        if not self.settings.ledger_path.exists():
            return []
        ledger = Ledger(self.settings.ledger_path, read_only=True)
        try:
            return ledger.in_state("ingested")
        finally:
            ledger.close()

    def known_documents(self) -> list:
        """The ingested documents as the ledger lists them (names, paths, ids)."""
        from retrieval.analysis import DocumentRef

        return [DocumentRef(e.sha256, e.file_name, e.path) for e in self.ingested_entries()]

    @functools.cached_property
    def pages(self):
        """Renders source pages for the UI, with the files' hashes checked (ui.page_image)."""
        from ui.page_image import PageRenderer

        return PageRenderer()

    @functools.cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.settings.ledger_path)

    @functools.cached_property
    def llm(self) -> LocalLLM:
        return LocalLLM.from_settings(self.settings)

    @functools.cached_property
    def searcher(self) -> Searcher:
        return Searcher.from_settings(self.settings, self.embedder, self.store)

    @functools.cached_property
    def answerer(self) -> Answerer:
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
