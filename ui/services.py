"""Build Vigie's parts from the settings, once, for the CLI and the Streamlit app.

Parts are created on first use: `vigie search` never loads the LLM, and the
UI process shares one model between all its sessions.
"""

from __future__ import annotations

import functools
import logging

from ingest.ledger import Ledger
from ingest.pipeline import IngestPipeline
from retrieval.answer import Answerer
from retrieval.embedder import Embedder
from retrieval.llm import LocalLLM
from retrieval.search import Searcher
from retrieval.store import VectorStore, open_store
from vigie.config import Settings

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @functools.cached_property
    def embedder(self) -> Embedder:
        return Embedder.from_settings(self.settings)

    @functools.cached_property
    def store(self) -> VectorStore:
        self.settings.home.mkdir(parents=True, exist_ok=True)
        return open_store(self.settings)

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
        )

    @functools.cached_property
    def pipeline(self) -> IngestPipeline:
        ledger = self.ledger  # first: a home that cannot be written fails before models load
        return IngestPipeline(self.settings, self.embedder, self.store, ledger)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "ledger" in self.__dict__:
            self.ledger.close()
