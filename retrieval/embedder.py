"""The embedder adapter: a local sentence-transformers directory, verified first.

Queries and passages may need different prefixes (e5 models want `query: `
and `passage: `); the adapter adds them so no caller has to know. They come
from the model directory's prompts (`config_sentence_transformers.json`,
names "query" and "passage" or "document"), unless the configuration sets them.

Two engines run the same model (`embedder_backend`):

- "onnx" (the default): the directory exported once to ONNX
  (`retrieval/onnx_export.py`), run by ONNX Runtime on as many threads as it is
  given, tokenised by the directory's own `tokenizer.json`. Its vectors equal
  torch's (cosine 1.0000 in bench/embedder.py); it is 2-2.5x faster here.
- "onnx-int8": the same graph with int8 weights, faster again, its vectors moved
  a little: a store built with it records it as another embedder.
- "torch": sentence-transformers on torch, as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from vigie.config import EmbedderBackend, Settings
from vigie.models import CHECKSUM_FILE, ModelError, verify_embedder_dir

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """What an engine gives the adapter: token counts and normalised vectors."""

    dimension: int
    max_tokens: int

    def token_count(self, text: str) -> int: ...

    def encode(self, texts: list[str], batch_size: int) -> list[list[float]]: ...


class Embedder:
    def __init__(
        self,
        path: Path,
        device: str = "cpu",
        batch_size: int = 32,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        backend: EmbedderBackend = "onnx",
        models_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        verify_embedder_dir(path)
        self.path = path
        self.backend = backend
        self.identity = embedder_identity(path, backend)
        self.batch_size = batch_size
        if backend == "torch":
            self._encoder: Encoder = TorchEncoder(path, device)
        else:
            from retrieval.onnx_export import ensure_export, variant_of

            graph = ensure_export(
                path,
                models_dir if models_dir is not None else path.parent,
                embedder_identity(path, "torch"),
                variant_of(backend),
            )
            self._encoder = OnnxEncoder(graph, path, threads)
        prompts = model_prompts(path)
        if query_prefix is None:
            query_prefix = prompts.get("query", "")
        if passage_prefix is None:
            passage_prefix = prompts.get("passage", prompts.get("document", ""))
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.dimension = self._encoder.dimension
        log.info("embedder %s loaded (%s, %d dimensions)", path.name, backend, self.dimension)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.resolved_embedder_path,
            device=settings.embedder_device,
            batch_size=settings.embedder_batch_size,
            query_prefix=settings.query_prefix,
            passage_prefix=settings.passage_prefix,
            backend=settings.embedder_backend,
            models_dir=settings.resolved_models_dir,
            threads=settings.embedder_threads,
        )

    def tokenizer_length(self, text: str) -> int:
        """Tokens the embedder sees for this text (its own tokenizer)."""
        return self._encoder.token_count(text)

    def passage_tokens(self, text: str) -> int:
        """Tokens the embedder sees for this passage, its prefix included."""
        return self.tokenizer_length(self.passage_prefix + text)

    @property
    def max_tokens(self) -> int:
        return self._encoder.max_tokens

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        """The query's vector. Nothing is kept: one embedder serves every session, so a
        request computes its vector once and carries it (`Searcher.search(vector=...)`)."""
        return self._encode([self.query_prefix + text])[0]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encoder.encode(texts, self.batch_size)


class TorchEncoder:
    """sentence-transformers on torch."""

    def __init__(self, path: Path, device: str) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length)

    def token_count(self, text: str) -> int:
        return len(self._model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int) -> list[list[float]]:
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()


class OnnxEncoder:
    """The exported graph on ONNX Runtime, fed by the model's own `tokenizer.json`.

    Texts are sorted by length and padded per batch, as sentence-transformers does,
    so a batch of short passages costs what short passages cost."""

    def __init__(self, graph: Path, model_dir: Path, threads: int | None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.max_tokens = max_seq_length(model_dir)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._pad_id = pad_token_id(model_dir, self._tokenizer)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self._session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def token_count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)

    def encode(self, texts: list[str], batch_size: int) -> list[list[float]]:
        import numpy as np

        encoded = [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=True)]
        # Cut as sentence-transformers does: the first max_tokens - 1, then the closing token.
        ids = [
            e if len(e) <= self.max_tokens else e[: self.max_tokens - 1] + e[-1:] for e in encoded
        ]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        vectors = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for start in range(0, len(order), max(1, batch_size)):
            rows = order[start : start + batch_size]
            width = max(len(ids[i]) for i in rows)
            batch = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            out = self._session.run(None, {"input_ids": batch, "attention_mask": mask})[0]
            vectors[rows] = out
        return vectors.tolist()


def model_prompts(path: Path) -> dict[str, str]:
    """The prompts a sentence-transformers folder names (e5: "query: ", "passage: ")."""
    config = path / "config_sentence_transformers.json"
    if not config.is_file():
        return {}
    prompts = json.loads(config.read_text("utf-8")).get("prompts") or {}
    return {name: str(text) for name, text in prompts.items()}


def max_seq_length(path: Path) -> int:
    """The longest input the folder's model reads, in tokens (sentence_bert_config.json,
    else the tokenizer's model_max_length, else 512)."""
    for name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
    ):
        config = path / name
        if config.is_file():
            value = json.loads(config.read_text("utf-8")).get(key)
            if isinstance(value, int) and 0 < value < 100_000:
                return value
    return 512


def pad_token_id(path: Path, tokenizer) -> int:  # noqa: ANN001 - a tokenizers.Tokenizer
    config = path / "tokenizer_config.json"
    name = None
    if config.is_file():
        name = json.loads(config.read_text("utf-8")).get("pad_token")
        if isinstance(name, dict):
            name = name.get("content")
    for candidate in (name, "<pad>", "[PAD]"):
        if candidate and tokenizer.token_to_id(candidate) is not None:
            return int(tokenizer.token_to_id(candidate))
    raise ModelError(f"{path}: no padding token in its tokenizer; set VIGIE_EMBEDDER_BACKEND=torch")


def embedder_identity(path: Path, backend: EmbedderBackend = "torch") -> str:
    """A short name for the exact model: its folder name and a digest of its SHA256SUMS.
    The int8 graph gives other vectors, so it is another embedder for a store; torch and
    the float32 graph give the same ones."""
    sums = (path / CHECKSUM_FILE).read_bytes()
    identity = f"{path.name}@{hashlib.sha256(sums).hexdigest()[:12]}"
    return identity + "+int8" if backend == "onnx-int8" else identity
