"""The one configuration object.

Read once at the edge (the CLI, the Streamlit app, a test) and passed in.
Sources, strongest first: explicit arguments, `VIGIE_*` environment
variables, the TOML file named by `VIGIE_CONFIG` (else `VIGIE_HOME/vigie.toml`
when it exists), then the defaults below.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vigie.contracts import Level
from vigie.errors import InputError

SearchMode = Literal["dense", "sparse", "hybrid", "dense+rerank", "sparse+rerank", "hybrid+rerank"]
Fusion = Literal["dbsf", "rrf"]
Quantization = Literal["none", "int8"]
SpeechLanguage = Literal["auto", "fr", "en"]  # "auto": detected per recording, French or English
SpeechDevice = Literal["auto", "cpu", "cuda"]
# Who reads a PDF page's text layer: pdfium's characters and positions, or unstructured "fast".
TextLayerReader = Literal["pdfium", "unstructured"]
# How the embedder runs: its ONNX export on ONNX Runtime (float32, or int8 weights), or torch.
EmbedderBackend = Literal["onnx", "onnx-int8", "torch"]


class ConfigError(InputError):
    """The configuration file or a VIGIE_* value is wrong; the message names the key."""


DEFAULT_EMBEDDER_DIR = "multilingual-e5-small"
DEFAULT_LLM_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_SPEECH_DIR = "whisper-base"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIE_", extra="ignore")

    # Where Vigie writes everything: store, ledger, prepared models, logs.
    home: Path = Path(".vigie")
    # Prepared model files; defaults to HOME/models.
    models_dir: Path | None = None

    # Embedder: a local sentence-transformers directory.
    embedder_path: Path | None = None
    embedder_device: str = "cpu"
    embedder_batch_size: int = 8  # measured (bench/embedder.py): 8 beats 32 on 2 cores
    # "onnx": the model exported once to ONNX (by `vigie models prepare`), same vectors as
    # torch, 2-2.5x faster here; "onnx-int8": int8 weights, faster, vectors moved (a store
    # records it as another embedder); "torch": sentence-transformers on torch.
    embedder_backend: EmbedderBackend = "onnx"
    embedder_threads: int | None = None  # ONNX Runtime's threads; None: all cores
    # Text put before queries and passages; None: the model's own prompts (e5's "query: " and
    # "passage: " come with the default model in config_sentence_transformers.json).
    query_prefix: str | None = None
    passage_prefix: str | None = None

    # LLM: a local GGUF file run by llama-cpp-python.
    llm_path: Path | None = None
    llm_sha256: str | None = None  # required to verify a model other than the stand-ins
    llm_context: int = 4096
    llm_threads: int | None = None  # None: all cores
    llm_batch: int = 512
    n_gpu_layers: int = 0  # 0 = CPU only, -1 = every layer on the GPU
    use_mmap: bool = False  # measured: mmap made the first calls 4x slower here
    lora_path: Path | None = None  # a LoRA adapter (GGUF) applied to the model at load
    max_answer_tokens: int = 384
    answer_time_limit: float | None = 300.0  # seconds per answer; None: no limit
    temperature: float = 0.0  # greedy: the same question gives the same answer

    # Store: Qdrant Edge in HOME/qdrant unless a server URL is given.
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    collection: str = "vigie"

    # Retrieval and chunking.
    # "dense", "sparse" (lexical) or "hybrid" (both, fused in Qdrant), each optionally
    # "+rerank" (a second stage over the first `rerank_depth` candidates).
    search_mode: SearchMode = "hybrid+rerank"
    fusion: Fusion = "dbsf"  # how hybrid fuses its two sides: "dbsf" or "rrf"
    rerank_depth: int = 20
    # The dense index (retrieval/store.py IndexTuning; figures from bench/search.py).
    hnsw_ef: int = 128
    acorn: bool = True  # graph search that stays accurate under narrow filters
    quantization: Quantization = "none"  # "int8": quantised vectors + rescoring (new stores only)
    # A sentence-transformers cross-encoder directory (with SHA256SUMS) for the second
    # stage; None: the sentence-focus reranker, which reuses the embedder.
    reranker_path: Path | None = None
    top_k: int = 5
    # Refuse when the best sentence the reader may see is less similar than this to the
    # question (cosine, default embedder; in the question's language plus the coverage
    # term below), calibrated by bench/answers.py on piaf-fr: one threshold for passages
    # in the question's language, one across languages. None: never refuse on retrieval
    # alone. Recalibrate after changing the embedder.
    refusal_threshold: float | None = 0.8412
    refusal_threshold_cross: float | None = 0.7916
    # In the question's language, the evidence adds this times the share of the
    # question's words found in the first passage (calibrated with the thresholds).
    refusal_coverage_weight: float = 0.0
    # Withdraw an answer when no sentence of it is supported by the sources it was
    # given (retrieval/citations.py), and refuse with the nearest documents instead.
    withdraw_unsupported: bool = True
    chunk_max_chars: int = 1000
    chunk_soft_chars: int = 700
    ocr_languages: list[str] = Field(default_factory=lambda: ["fra", "eng"])
    min_text_chars_per_page: int = 20  # below this a page is treated as an image and OCRed
    # "pdfium": lines and paragraphs from pdfium's characters (ingest/pdftext.py), about 3x
    # faster than "unstructured" (its "fast" strategy, pdfminer's layout analysis).
    text_layer_reader: TextLayerReader = "pdfium"
    # Ruled tables on born-digital pages read as tables (ingest/tables.py): rows stored
    # with their column names. Off: their cells are read as text in reading order.
    detect_tables: bool = True
    ocr_max_dpi: int = 400
    ocr_min_dpi: int = 150
    ocr_page_timeout: float = 300.0  # seconds Tesseract may spend on one page
    ocr_rescan_below: float = 0.6  # pages read with less mean confidence need a re-scan

    # Speech to text (recordings): any CTranslate2 Whisper folder; the default is Whisper
    # base, assembled by `vigie models prepare`. CUDA with float16 when a GPU is visible
    # ("auto"), else int8 on the CPU.
    speech_model_path: Path | None = None
    speech_device: SpeechDevice = "auto"
    speech_language: SpeechLanguage = "auto"
    speech_threads: int | None = None  # None: the cores, shared by the ingestion workers
    speech_beam_size: int = 5
    speech_vad: bool = True  # skip silence (Silero VAD, inside faster-whisper)
    # A recording's chunks: whole segments, this many seconds or so, overlapping by one.
    speech_chunk_min_seconds: float = 30.0
    speech_chunk_max_seconds: float = 60.0
    # A segment is confident at or above this (decoder probability x speech probability);
    # a recording with a smaller confident share of its spoken seconds is listed to review.
    speech_confident_above: float = 0.5
    speech_review_below: float = 0.6
    max_recording_minutes: float = 240.0  # longer recordings are quarantined unread
    # A recording may take file_timeout plus this many seconds per second of audio.
    recording_seconds_per_second: float = 2.0

    # Ingestion batches.
    workers: int | None = None  # parsing/OCR processes; None: one per core
    window_pages: int = 16  # text pages per parsing task (pages to OCR go one per task)
    file_timeout: float = 900.0  # seconds one file may take before its parser is killed
    convert_timeout: float = 300.0  # seconds LibreOffice may take to convert a DOC, XLS, PPT
    max_file_mb: float = 1024.0  # larger files are quarantined unread
    max_image_pixels: int = 200_000_000  # larger images are refused (decompression bombs)
    # Zip batches (ingest/unpack.py): an archive past any of these is quarantined whole.
    max_zip_members: int = 10_000
    max_zip_mb: float = 4096.0  # what one archive may expand to
    max_zip_ratio: float = 100.0  # how many times its compressed size a member may expand
    max_zip_depth: int = 3  # archives inside archives
    # A batch stops cleanly when VIGIE_HOME's disk has less free space than this: the
    # embedded store maps its files in memory, and a write to a full disk would kill it.
    min_free_mb: float = 200.0

    # Classification. A document with no marking and no declared level is refused,
    # unless the site names the level its unmarked documents take here.
    unmarked_level: str | None = None
    # Users and sessions. Every read acts as a user (`vigie users`), with their clearance.
    login_max_failures: int = 5  # failed logins in a row before the account locks
    login_lockout_minutes: float = 15.0
    session_idle_minutes: float = 30.0  # a UI session ends after this long without use
    # Sites with their own single sign-on: trust this HTTP header (set by a reverse
    # proxy on the same host) as the user's name instead of the login form. Only
    # honoured when the UI listens on a loopback address. None: always the form.
    trusted_user_header: str | None = None
    max_question_chars: int = 2000  # longer questions are refused with a clear message
    conversation_retention_days: float = 90.0  # conversations untouched longer are deleted

    # UI.
    ui_host: str = "127.0.0.1"
    ui_port: int = 8501
    # Server folders an operator may ingest from the UI (a folder inside one of them).
    # Empty: HOME/import only. In the environment, a JSON list: '["/srv/arrivee"]'.
    import_roots: list[Path] = Field(default_factory=list)

    # HTTP API (`vigie serve`, ui/api.py): programs sign in with API tokens.
    api_host: str = "127.0.0.1"
    api_port: int = 8765
    api_tls_cert: Path | None = None  # both set: the API speaks HTTPS only
    api_tls_key: Path | None = None
    api_queue_size: int = Field(default=4, ge=0)  # answers waiting for the model; more: 503
    api_max_body_bytes: int = Field(default=65536, ge=1024)
    api_token_days: float = Field(default=90.0, gt=0)  # a new token's lifetime by default
    api_failures_per_minute: int = Field(default=10, ge=1)  # per address and per user; then 429

    network_guard: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # Derived locations -------------------------------------------------
    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.home / "models"

    @property
    def resolved_embedder_path(self) -> Path:
        if self.embedder_path is not None:
            return self.embedder_path
        return self.resolved_models_dir / DEFAULT_EMBEDDER_DIR

    @property
    def resolved_llm_path(self) -> Path:
        if self.llm_path is not None:
            return self.llm_path
        return self.resolved_models_dir / DEFAULT_LLM_FILE

    @property
    def resolved_speech_model_path(self) -> Path:
        if self.speech_model_path is not None:
            return self.speech_model_path
        return self.resolved_models_dir / DEFAULT_SPEECH_DIR

    @property
    def store_path(self) -> Path:
        return self.home / "qdrant"

    @property
    def ledger_path(self) -> Path:
        return self.home / "ledger.sqlite3"

    @property
    def users_path(self) -> Path:
        return self.home / "users.sqlite3"

    @property
    def tokens_path(self) -> Path:
        return self.home / "tokens.sqlite3"

    @property
    def audit_path(self) -> Path:
        return self.home / "audit.jsonl"

    @property
    def resolved_import_roots(self) -> list[Path]:
        return list(self.import_roots) or [self.home / "import"]

    def refusal_thresholds(self) -> tuple[float, float, float] | None:
        """(same language, across languages, coverage weight), or None when refusal on
        retrieval is off."""
        if self.refusal_threshold is None:
            return None
        cross = self.refusal_threshold_cross
        cross = self.refusal_threshold if cross is None else cross
        return self.refusal_threshold, cross, self.refusal_coverage_weight

    def unmarked(self) -> Level | None:
        return Level.parse(self.unmarked_level) if self.unmarked_level else None

    @property
    def worker_count(self) -> int:
        return max(1, self.workers or os.cpu_count() or 1)


def load_settings(config_file: Path | str | None = None, **overrides: object) -> Settings:
    """Build the settings from arguments, environment and the TOML file.

    A key of the TOML file that is not a setting is refused (naming the nearest
    one), as is a value of the wrong kind: `ConfigError`, one line."""
    home = Path(str(overrides.get("home") or os.environ.get("VIGIE_HOME") or ".vigie"))
    candidate = config_file or os.environ.get("VIGIE_CONFIG") or home / "vigie.toml"
    toml_file = Path(candidate) if Path(candidate).is_file() else None
    if config_file is not None and toml_file is None:
        raise ConfigError(f"configuration file not found: {config_file}")
    if toml_file is not None:
        check_keys(toml_file)

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(env_prefix="VIGIE_", extra="ignore", toml_file=toml_file)

    try:
        return _FileSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "?"
        where = f" in {toml_file}" if toml_file else ""
        raise ConfigError(
            f"setting {key}{where} (or VIGIE_{key.upper()}): {first['msg']}, "
            f"got {first.get('input')!r}"
        ) from None


def check_keys(toml_file: Path) -> None:
    """Refuse a TOML file that does not parse or names a key that is not a setting
    (a misspelt key would otherwise be silently ignored)."""
    try:
        data = tomllib.loads(toml_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the configuration file {toml_file}: {exc}") from None
    known = sorted(Settings.model_fields)
    for key in data:
        if key not in Settings.model_fields:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"unknown setting {key!r} in {toml_file}{hint}")
