"""Shared fixtures: real models, real Qdrant Edge, real sample PDFs.

The stand-in models are prepared once into the repository's models folder
(`VIGIE_MODELS_DIR`, default `.vigie/models`) and shared; every test that
writes gets its own `VIGIE_HOME` under pytest's tmp_path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vigie.offline import apply_offline_environment

apply_offline_environment()

from app.model_files import prepare_models  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.llm import LocalLLM  # noqa: E402
from retrieval.qdrant_edge import QdrantEdgeStore  # noqa: E402
from retrieval.qdrant_server import QdrantServerStore  # noqa: E402
from retrieval.search import Searcher  # noqa: E402
from retrieval.store import VectorStore  # noqa: E402
from vigie.audit import AuditTrail  # noqa: E402
from vigie.config import Settings  # noqa: E402
from vigie.contracts import Chunk, Level  # noqa: E402
from vigie.users import UserStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus" / "documents"
VIGIE = [sys.executable, "-m", "ui.cli"]

# The question whose answer sits on a scanned, image-only French page (p. 3).
SCANNED_DOC = "tapus_an-96AP-journal-1914-1917.pdf"
SCANNED_QUESTION = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"

# Every home a test's CLI runs in has this administrator, cleared for everything the
# samples hold, unless the test names another user (VIGIE_USER / VIGIE_PASSWORD).
ADMIN = "admin"
ADMIN_PASSWORD = "test-admin-password"


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """Streamlit's AppTest leaves `sys.modules["__main__"]` pointing at the app script, so a
    later `spawn` child would run the whole app as its main module: put it back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def add_user(
    home: Path, name: str, role: str, level: Level, caveats: tuple[str, ...], password: str
) -> None:
    if name != ADMIN:
        ensure_admin(home)
    with UserStore(home / "users.sqlite3") as users:
        if users.get(name) is None:
            users.add(name, role, level, caveats, password)


def ensure_admin(home: Path) -> None:
    """The home's first administrator, as `vigie init` would make it."""
    add_user(home, ADMIN, "admin", Level.TRES_SECRET, ("SPÉCIAL FRANCE",), ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = Path(os.environ.get("VIGIE_MODELS_DIR", ROOT / ".vigie" / "models")).resolve()
    prepare_models(Settings(models_dir=path))  # the stand-ins and the embedder's ONNX export
    return path


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture()
def settings(home: Path, models_dir: Path) -> Settings:
    return Settings(home=home, models_dir=models_dir)


def can_unshare_network() -> bool:
    """True when this process may run a command in a new, empty network namespace."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return probe.returncode == 0


def run_vigie(
    args: list[str],
    home: Path,
    models_dir: Path,
    offline: bool = True,
    input: str | None = None,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Run the `vigie` CLI as a user would; with `offline`, in a namespace with no network.

    The network guard logs every attempt to reach a non-loopback address to
    VIGIE_NETWORK_LOG, so a test can fail on any attempt, not only on a crash. It acts
    as the home's administrator (`ensure_admin`, in a home with no users yet) unless
    `env` names another user; a question it asks successfully must leave its audit record.
    """
    if args[:1] != ["init"] and not (home / "users.sqlite3").exists():
        ensure_admin(home)
    environment = dict(os.environ)
    environment.update(VIGIE_USER=ADMIN, VIGIE_PASSWORD=ADMIN_PASSWORD)
    environment.update(
        VIGIE_HOME=str(home),
        VIGIE_MODELS_DIR=str(models_dir),
        VIGIE_NETWORK_LOG=str(home.parent / "network-attempts.log"),
        PYTHONPATH=str(ROOT),
        **env,
    )
    command = [*VIGIE, *args]
    if offline and can_unshare_network():
        command = ["unshare", "-n", *command]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
    )
    asked = args[args.index("ask") + 1 :][:1] if "ask" in args else []
    if asked and not asked[0].startswith("-") and result.returncode == 0:
        assert_question_audited(home, asked[0])
    return result


def assert_question_audited(home: Path, question: str) -> None:
    """Every question the suite asks through the CLI left its audit record, chained."""
    trail = AuditTrail(home / "audit.jsonl")
    asked = [r.details.get("question") for r in trail.records() if r.action == "question"]
    assert " ".join(question.split()) in asked, (question, asked[-3:])
    assert trail.verify().ok


def network_attempts(home: Path) -> list[str]:
    log = home.parent / "network-attempts.log"
    return log.read_text().splitlines() if log.exists() else []


def files_by_name(report: dict) -> dict[str, dict]:
    """An ingest report's files (`--json`), by file name."""
    return {Path(f["path"]).name: f for f in report["files"]}


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a user's mistake gives (exit 2, no traceback): "vigie: error: ..."."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigie: error: "), result.stderr
    return lines[0]


def signed_in_workspace(
    home: Path,
    models_dir: Path,
    user: str,
    password: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
):
    """The Streamlit app (AppTest) on a copy of `home`, signed in as `user`. The app keeps
    its services (and the embedded store, open) for the life of the process: the test
    gets its own copy of the home and leaves no services behind."""
    import shutil

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    request.addfinalizer(st.cache_resource.clear)
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    monkeypatch.setenv("VIGIE_HOME", str(copy))
    monkeypatch.setenv("VIGIE_MODELS_DIR", str(models_dir))
    at = AppTest.from_file(str(ROOT / "ui" / "streamlit_app.py"), default_timeout=300).run()
    at.text_input(key="login_name").input(user)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    return at


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    """A Vigie home with samples/ ingested once, through the CLI, with no network."""
    home = tmp_path_factory.mktemp("samples") / "home"
    result = run_vigie(["ingest", str(SAMPLES), "--json"], home, models_dir)
    assert result.returncode == 0, result.stderr
    assert network_attempts(home) == []
    (home / "ingest-report.json").write_text(result.stdout)
    return home


def fleet_archive(root: Path, models_dir: Path) -> Path:
    """A home holding two ingested batches about the cruiser Gloire: `mouvements.pdf`
    (NON PROTÉGÉ, three pages: Brest p. 1, another ship p. 2, Dakar p. 3) and
    `escale.pdf` (marked SECRET: Mers el-Kébir). For follow-ups and clearance tests."""
    from tests.pdfmaker import make_text_pdf

    batch, secret = root / "batch", root / "secret"
    batch.mkdir()
    secret.mkdir()
    blank = ["", "", ""]
    make_text_pdf(
        batch / "mouvements.pdf",
        [
            [*blank, "Le croiseur Gloire a quitté Brest le 12 mars 1952 à l'aube.", *blank],
            [*blank, "Le pétrolier Var est arrivé à Toulon le 2 avril 1952.", *blank],
            [*blank, "Le croiseur Gloire est arrivé à Dakar le 20 mars 1952.", *blank],
        ],
    )
    make_text_pdf(
        secret / "escale.pdf",
        [["SECRET", *blank, "Le croiseur Gloire a fait escale à Mers el-Kébir.", *blank, "SECRET"]],
    )
    home = root / "home"
    for folder in (batch, secret):
        fed = run_vigie(["ingest", str(folder), "--level", "NON PROTÉGÉ"], home, models_dir)
        assert fed.returncode == 0, fed.stderr
    return home


def make_chunk(
    document: str,
    text: str,
    level: Level = Level.NON_PROTEGE,
    page: int = 1,
    index: int = 0,
    language: str = "fr",
    caveats: tuple[str, ...] = (),
) -> Chunk:
    """A chunk of document `document` (file `document`.pdf), for tests that build stores."""
    return Chunk(
        document_id=document,
        chunk_index=index,
        text=text,
        file_name=f"{document}.pdf",
        source_path=f"/archives/{document}.pdf",
        sha256=document,
        page=page,
        element_type="NarrativeText",
        language=language,
        level=level,
        caveats=caveats,
    )


@pytest.fixture(params=["edge", "server-local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """An empty store on each adapter: Qdrant Edge, and qdrant-client's local mode."""
    if request.param == "edge":
        opened: VectorStore = QdrantEdgeStore.open(tmp_path / "edge")
    else:
        opened = QdrantServerStore.local(None)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> Embedder:
    """The default embedder (multilingual-e5-small), loaded once for the session."""
    return Embedder.from_settings(Settings(models_dir=models_dir))


@pytest.fixture(scope="session")
def llm(models_dir: Path) -> LocalLLM:
    """The default stand-in LLM, loaded once for the session."""
    return LocalLLM.from_settings(Settings(models_dir=models_dir))


@pytest.fixture(scope="module")
def small_archive(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[list[Chunk]], Searcher]]:
    """Build a real embedded store from chunks; returns a hybrid searcher over it."""
    stores: list[QdrantEdgeStore] = []

    def build(chunks: list[Chunk]) -> Searcher:
        store = QdrantEdgeStore.open(tmp_path_factory.mktemp("archive") / "qdrant")
        stores.append(store)
        store.ensure_collection(embedder.dimension, embedder.identity)
        store.upsert(chunks, embedder.embed_passages([c.text for c in chunks]))
        return Searcher(embedder, store, mode="hybrid")

    yield build
    for store in stores:
        store.close()
