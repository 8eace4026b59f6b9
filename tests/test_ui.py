"""The Streamlit app, driven by Streamlit's AppTest over a real ingested store: login,
lockout, session expiry, pages by role, and answers within the reader's clearance."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from retrieval.embedder import Embedder
from retrieval.qdrant_edge import QdrantEdgeStore
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    ROOT,
    SCANNED_DOC,
    SCANNED_QUESTION,
    add_user,
    make_chunk,
)
from vigie.config import Settings
from vigie.contracts import Level
from vigie.offline import NetworkBlocked, blocked_attempts

APP = str(ROOT / "ui" / "app.py")
READER, READER_PASSWORD = "lecteur", "lecteur-password"
OPERATOR, OPERATOR_PASSWORD = "operateur", "operateur-password"
VICTIM, VICTIM_PASSWORD = "victime", "victime-password"
# A SECRET page on the very subject of SCANNED_QUESTION: the public reader must never see it.
SECRET_DOC = "colbert-secret"
SECRET_TEXT = (
    "Le croiseur Colbert attendait le Président du Conseil à Dunkerque : note SECRET KZ99Q "
    "sur l'escorte et les codes de transmission."
)


@pytest.fixture(scope="module")
def ui_home(
    sample_home: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Path:
    # The app keeps the embedded store open (and locked) for the life of this process:
    # give it its own copy so the CLI tests keep theirs.
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(sample_home, home)
    store = QdrantEdgeStore.open(Settings(home=home).store_path)
    secret = make_chunk(SECRET_DOC, SECRET_TEXT, level=Level.SECRET)
    store.upsert([secret], embedder.embed_passages([secret.text]))
    store.close()
    add_user(home, READER, "analyst", Level.NON_PROTEGE, (), READER_PASSWORD)
    add_user(home, OPERATOR, "operator", Level.NON_PROTEGE, (), OPERATOR_PASSWORD)
    add_user(home, VICTIM, "analyst", Level.NON_PROTEGE, (), VICTIM_PASSWORD)
    return home


@pytest.fixture(scope="module")
def attempts_before() -> list[str]:
    """The guard's record when this file's first test starts (other files add to it)."""
    return blocked_attempts()


@pytest.fixture()
def app_env(
    attempts_before: list[str], ui_home: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIE_HOME", str(ui_home))
    monkeypatch.setenv("VIGIE_MODELS_DIR", str(models_dir))


def login(name: str, password: str, timeout: int = 300) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_the_app_asks_for_a_login_first(app_env: None) -> None:
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]
    assert not any(t.label.startswith("Question") for t in at.text_input)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app_env: None) -> None:
    wrong = login(READER, "not-the-password")
    unknown = login("nobody-here", "not-the-password")
    assert errors(wrong) == errors(unknown) == ["unknown user or wrong password"]
    assert not any(t.label.startswith("Question") for t in wrong.text_input)


def test_repeated_failures_lock_the_account_even_for_the_right_password(app_env: None) -> None:
    for _ in range(5):
        login(VICTIM, "guessing-again")
    locked = login(VICTIM, VICTIM_PASSWORD)
    assert len(errors(locked)) == 1 and "locked until" in errors(locked)[0]
    assert not any(t.label.startswith("Question") for t in locked.text_input)


def test_an_idle_session_expires(app_env: None) -> None:
    at = login(READER, READER_PASSWORD)
    assert any(t.label.startswith("Question") for t in at.text_input)
    at.session_state["vigie_seen"] = time.monotonic() - 31 * 60
    at.run()
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]
    assert any("Session expirée" in i.value for i in at.info)


@pytest.mark.parametrize(
    ("name", "password", "pages"),
    [
        (READER, READER_PASSWORD, ["Questions", "Documents"]),
        (OPERATOR, OPERATOR_PASSWORD, ["Ingestion"]),
        (ADMIN, ADMIN_PASSWORD, ["Questions", "Documents", "Ingestion", "Utilisateurs", "Audit"]),
    ],
)
def test_pages_follow_the_role(app_env: None, name: str, password: str, pages: list) -> None:
    at = login(name, password)
    assert list(at.radio[0].options) == pages
    if "Audit" in pages:
        at.radio[0].set_value("Audit").run()
        assert not at.exception
        assert any("Journal d'audit intact" in s.value for s in at.success)


def test_the_public_reader_gets_the_answer_without_the_secret_page(app_env: None) -> None:
    at = login(READER, READER_PASSWORD, timeout=600)
    banners = [m.value for m in at.markdown if "NON PROTÉGÉ</div>" in m.value]
    assert len(banners) == 2  # top and bottom of the page
    at.text_input[0].input(SCANNED_QUESTION)
    at.button[0].click().run()
    assert not at.exception
    assert any(s.value == "Réponse" for s in at.subheader)
    labels = [e.label for e in at.expander]
    assert any(label.startswith("[") and SCANNED_DOC in label for label in labels), labels
    page = str([e.value for e in at.main if hasattr(e, "value")]) + str(labels)
    assert SECRET_DOC not in page and "KZ99Q" not in page


def test_the_admin_cleared_for_secret_is_given_the_secret_page(app_env: None) -> None:
    """The control of the test above: the SECRET page is what this question finds."""
    at = login(ADMIN, ADMIN_PASSWORD, timeout=600)
    at.text_input[0].input(SCANNED_QUESTION)
    at.button[0].click().run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any(SECRET_DOC in label for label in labels), labels


def test_a_document_is_translated_from_the_ui_and_a_secret_one_is_unknown(
    app_env: None,
) -> None:
    at = login(READER, READER_PASSWORD, timeout=600)
    at.radio[0].set_value("Documents").run()
    at.text_input(key="document").input(f"{SECRET_DOC}.pdf")
    at.radio(key="document_action").set_value("Traduire en anglais")
    at.button(key="document_go").click().run()
    assert not at.exception
    secret = errors(at)
    assert len(secret) == 1 and secret[0].startswith("no document you may read matches")
    at.text_input(key="document").input("nowhere-at-all.pdf")
    at.button(key="document_go").click().run()
    unknown = errors(at)
    # A document above the reader reads exactly as one that was never ingested.
    assert unknown[0].replace("nowhere-at-all.pdf", "X") == secret[0].replace(
        f"{SECRET_DOC}.pdf", "X"
    )
    at.text_input(key="document").input("ocrmypdf_linn.pdf")
    at.button(key="document_go").click().run()
    assert not at.exception and not errors(at)
    assert any(s.value == "ocrmypdf_linn.pdf (en)" for s in at.subheader)
    assert any("Marquage : NON PROTÉGÉ" in c.value for c in at.caption)


def test_the_app_tried_no_connection_off_this_machine(
    app_env: None, attempts_before: list[str]
) -> None:
    """The app installs the network guard in this process: every page above ran under it
    (this test comes last in the file), and none tried to leave the machine."""
    at = login(READER, READER_PASSWORD)
    assert not at.exception
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # the guard is really on
    assert blocked_attempts()[len(attempts_before) :] == ["192.0.2.1"]
