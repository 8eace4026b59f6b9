"""The embedder adapter: a local sentence-transformers directory, verified first.

Queries and passages may need different prefixes (e5 models want `query: `
and `passage: `); the adapter adds them so no caller has to know. They come
from the model directory's prompts (`config_sentence_transformers.json`,
names "query" and "passage" or "document"), unless the configuration sets them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from vigie.config import Settings
from vigie.models import CHECKSUM_FILE, verify_embedder_dir

log = logging.getLogger(__name__)


class Embedder:
    def __init__(
        self,
        path: Path,
        device: str = "cpu",
        batch_size: int = 32,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
    ) -> None:
        verify_embedder_dir(path)
        from sentence_transformers import SentenceTransformer

        self.path = path
        self.identity = embedder_identity(path)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        prompts = dict(getattr(self._model, "prompts", None) or {})
        if query_prefix is None:
            query_prefix = prompts.get("query", "")
        if passage_prefix is None:
            passage_prefix = prompts.get("passage", prompts.get("document", ""))
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        log.info("embedder %s loaded (%d dimensions)", path.name, self.dimension)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.resolved_embedder_path,
            device=settings.embedder_device,
            batch_size=settings.embedder_batch_size,
            query_prefix=settings.query_prefix,
            passage_prefix=settings.passage_prefix,
        )

    def tokenizer_length(self, text: str) -> int:
        """Tokens the embedder sees for this text (its own tokenizer)."""
        return len(self._model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    def passage_tokens(self, text: str) -> int:
        """Tokens the embedder sees for this passage, its prefix included."""
        return self.tokenizer_length(self.passage_prefix + text)

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        """The query's vector. Nothing is kept: one embedder serves every session, so a
        request computes its vector once and carries it (`Searcher.search(vector=...)`)."""
        return self._encode([self.query_prefix + text])[0]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()


def embedder_identity(path: Path) -> str:
    """A short name for the exact model: its folder name and a digest of its SHA256SUMS."""
    sums = (path / CHECKSUM_FILE).read_bytes()
    return f"{path.name}@{hashlib.sha256(sums).hexdigest()[:12]}"
